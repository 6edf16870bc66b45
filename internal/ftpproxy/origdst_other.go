//go:build !linux

package ftpproxy

import (
	"errors"
	"net"
	"net/netip"
)

func transparentSupported() error {
	return errors.New("ftpproxy: transparent mode needs Linux (SO_ORIGINAL_DST)")
}

func originalDst(net.Conn) (netip.AddrPort, error) {
	return netip.AddrPort{}, errors.ErrUnsupported
}
