package ftpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/ferrymft/ferry/internal/ftpwire"
)

func (c *conn) closePasv() {
	if c.pasv != nil {
		c.pasv.Close()
		c.pasv = nil
	}
}

// cmdPasv opens a passive listener for PASV (extended: EPSV).
func (c *conn) cmdPasv(extended bool, arg string) {
	if extended {
		a, err := ftpwire.ParseEPSVArg(arg)
		if err != nil {
			c.reply(522, "Network protocol not supported, use (1,2)")
			return
		}
		switch {
		case a == ftpwire.EPSVAll:
			c.epsvAll = true
			c.reply(200, "EPSV ALL ok.")
			return
		case a == ftpwire.EPSVIPv4 && !c.local.Addr().Is4(), a == ftpwire.EPSVIPv6 && c.local.Addr().Is4():
			c.reply(522, "Network protocol not supported, use ("+family(c.local.Addr())+")")
			return
		}
	} else if c.epsvAll {
		c.reply(503, "EPSV ALL was sent: only EPSV is allowed.")
		return
	}
	var announce netip.Addr
	if !extended {
		var err error
		announce, err = c.publicAddr()
		if err != nil || !announce.Is4() {
			c.reply(425, "PASV needs IPv4; use EPSV.")
			return
		}
	}
	c.closePasv()
	c.portSet = false
	ln, err := c.listenPassive()
	if err != nil {
		c.log.Warn("passive listen failed", "err", err)
		c.reply(425, "Cannot open a passive port.")
		return
	}
	c.pasv = ln
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	if extended {
		c.reply(229, ftpwire.FormatEPSV(port))
		return
	}
	text, _ := ftpwire.FormatPASV(netip.AddrPortFrom(announce, port))
	c.reply(227, text)
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "1"
	}
	return "2"
}

// publicAddr is the address PASV announces to this client.
func (c *conn) publicAddr() (netip.Addr, error) {
	host := c.srv.opts.PublicHost
	for _, nh := range c.srv.opts.PublicHostFor {
		if nh.Prefix.Contains(c.remote.Addr()) {
			host = nh.Host
			break
		}
	}
	if host == "" {
		return c.dialled.Addr().Unmap(), nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap(), nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("resolve public host %q: %w", host, err)
	}
	return addrs[0].Unmap(), nil
}

// listenPassive binds on the control connection's local address, on a
// random free port of the passive range.
func (c *conn) listenPassive() (net.Listener, error) {
	lo, hi := c.srv.opts.PassiveLow, c.srv.opts.PassiveHigh
	ip := c.local.Addr()
	if lo == 0 && hi == 0 {
		return net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	}
	n := hi - lo + 1
	start := rand.IntN(n)
	var last error
	for i := 0; i < n && i < 200; i++ {
		port := lo + (start+i)%n
		ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
		if err == nil {
			return ln, nil
		}
		last = err
	}
	return nil, fmt.Errorf("no free port in %d-%d: %w", lo, hi, last)
}

// cmdPort records an active-mode target (extended: EPRT).
func (c *conn) cmdPort(extended bool, arg string) {
	if c.epsvAll {
		c.reply(503, "EPSV ALL was sent: only EPSV is allowed.")
		return
	}
	if c.srv.opts.DisableActive {
		c.reply(502, "Active mode is disabled on this service; use PASV or EPSV.")
		return
	}
	var ap netip.AddrPort
	var err error
	if extended {
		ap, err = ftpwire.ParseEPRT(arg)
		if err != nil {
			c.reply(522, "Network protocol not supported or bad EPRT argument, use (1,2)")
			return
		}
	} else {
		ap, err = ftpwire.ParsePORT(arg)
		if err != nil {
			c.reply(501, "Illegal PORT command.")
			return
		}
	}
	if !c.srv.opts.AllowForeignActive {
		if ap.Addr().Unmap() != c.remote.Addr().Unmap() {
			c.log.Warn("active data address refused (bounce protection)", "target", ap.String())
			c.reply(501, "Data connections go only to the control connection's address.")
			return
		}
		if ap.Port() < 1024 {
			c.reply(501, "Data connections to privileged ports are refused.")
			return
		}
	}
	c.closePasv()
	c.port, c.portSet = ap, true
	c.reply(200, "Command okay.")
}

// dataConn is an open data connection: tcp is the TCP connection, conn
// what to read and write (tcp, or TLS over it).
type dataConn struct {
	tcp  *net.TCPConn
	conn net.Conn
}

func (d *dataConn) Close() error { return d.conn.Close() }

// haveDataAddr reports whether PASV/EPSV or PORT/EPRT came first.
func (c *conn) haveDataAddr() bool { return c.pasv != nil || c.portSet }

// openData connects the data channel set up by PASV/PORT and, with PROT
// P, runs the TLS handshake, enforcing session reuse. Errors are reply
// texts for 425/522.
func (c *conn) openData(ctx context.Context, x *transfer) (*dataConn, int, error) {
	timeout := c.srv.opts.DataTimeout
	var tcp *net.TCPConn
	switch {
	case c.pasv != nil:
		ln := c.pasv.(*net.TCPListener)
		c.pasv = nil
		x.setCloser(ln)
		defer ln.Close()
		_ = ln.SetDeadline(time.Now().Add(timeout))
		for {
			nc, err := ln.AcceptTCP()
			if err != nil {
				return nil, 425, errors.New("Can't open data connection.")
			}
			if !c.srv.opts.AllowForeignPassive && addrPort(nc.RemoteAddr()).Addr() != c.remote.Addr() {
				c.log.Warn("passive data connection from a foreign address refused", "from", nc.RemoteAddr().String())
				nc.Close()
				continue
			}
			tcp = nc
			break
		}
	case c.portSet:
		c.portSet = false
		d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: c.local.Addr().AsSlice()}}
		if c.srv.opts.ActivePort20 {
			d.LocalAddr = &net.TCPAddr{IP: c.local.Addr().AsSlice(), Port: 20}
			d.Control = func(_, _ string, rc syscall.RawConn) error {
				return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1) })
			}
		}
		nc, err := d.DialContext(ctx, "tcp", c.port.String())
		if err != nil {
			return nil, 425, errors.New("Can't open data connection.")
		}
		tcp = nc.(*net.TCPConn)
	default:
		return nil, 425, errors.New("Use PORT or PASV first.")
	}
	dc := &dataConn{tcp: tcp, conn: tcp}
	x.setCloser(&dataCloser{tcp: tcp})
	if !c.protP {
		return dc, 0, nil
	}
	tc := tls.Server(tcp, c.dataTLSConfig())
	_ = tcp.SetDeadline(time.Now().Add(timeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		tcp.Close()
		c.log.Info("data TLS handshake failed", "err", err)
		return nil, 425, errors.New("TLS handshake on the data connection failed.")
	}
	_ = tcp.SetDeadline(time.Time{})
	if !c.srv.opts.NoSessionReuse && !tc.ConnectionState().DidResume {
		tc.Close()
		c.log.Info("data TLS connection did not reuse the control session")
		return nil, 522, errors.New("SSL connection failed: session reuse required.")
	}
	dc.conn = tc
	x.setCloser(tc)
	return dc, 0, nil
}

// dataTLSConfig accepts, for resumption, only tickets issued to this
// control connection, or to another live one from the same address
// logged in as the same user, so a data connection proves it comes from
// the same client (vsftpd's require_ssl_reuse).
func (c *conn) dataTLSConfig() *tls.Config {
	cfg := c.sessionTLSConfig()
	base := c.srv.ticket
	mark := c.ticket
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := base.DecryptTicket(identity, cs)
		if err != nil || ss == nil {
			return nil, nil
		}
		for _, e := range ss.Extra {
			if string(e) == string(mark) || c.srv.sameClient(string(mark), string(e)) {
				return ss, nil
			}
		}
		return nil, nil
	}
	return cfg
}
