package ftpd

import (
	"net"
	"net/netip"
	"time"

	"github.com/pires/go-proxyproto"
)

// proxied reads the PROXY protocol (v1 or v2) header of a control
// connection when the service expects one. Only senders inside
// ProxyTrusted may use the service at all: a connection from anywhere
// else is closed without a reply (a client that could connect directly
// could otherwise claim any address), and a trusted sender must start
// with a header (the spec forbids guessing). A v2 LOCAL header (a load
// balancer's health check) keeps the sender's own addresses. It returns
// the connection to read from, whose RemoteAddr and LocalAddr are the
// header's, and false when the connection is to be closed.
func (s *Server) proxied(nc net.Conn) (net.Conn, bool) {
	peer := addrPort(nc.RemoteAddr())
	if !s.proxyTrusted(peer.Addr()) {
		s.log.Warn("PROXY protocol: connection from an untrusted source refused", "from", peer.String())
		return nil, false
	}
	timeout := min(s.opts.LoginTimeout, 10*time.Second)
	pc := proxyproto.NewConn(nc, proxyproto.WithPolicy(proxyproto.REQUIRE), proxyproto.SetReadHeaderTimeout(timeout))
	if pc.ProxyHeader() == nil {
		s.log.Warn("PROXY protocol: no valid header from a trusted source", "from", peer.String())
		return nil, false
	}
	if ap := addrPort(pc.RemoteAddr()); !ap.IsValid() {
		s.log.Warn("PROXY protocol: header without an IP source address", "from", peer.String())
		return nil, false
	}
	return pc, true
}

func (s *Server) proxyTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.opts.ProxyTrusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
