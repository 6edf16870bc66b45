package ftpd

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ftpwire"
)

// conn is one control connection and its state.
type conn struct {
	srv    *Server
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger
	start  time.Time
	// triedLogin is set by PASS: a connection that ends without ever
	// trying is scored by the defender (scanners, probes).
	triedLogin bool

	raw    net.Conn // the TCP connection
	ctl    net.Conn // raw, or the TLS connection over it
	tlsCtl *tls.Conn
	r      *bufio.Reader
	wmu    sync.Mutex
	w      *bufio.Writer
	remote netip.AddrPort // the client (from the PROXY header when there is one)
	local  netip.AddrPort // this socket's local address, where data connections bind
	// dialled is the address the client connected to: local, or the
	// destination in the PROXY header.
	dialled netip.AddrPort
	ticket  []byte // marks TLS tickets issued to this connection
	// clientCAs is the client CA pool taken at the control connection's
	// handshake (Options.ClientCAPool); its data connections use it too.
	clientCAs atomic.Pointer[x509.CertPool]

	// Protocol state, touched only by the control goroutine (and by the
	// transfer goroutine while it owns a transfer).
	user    string
	certCN  string // the verified client certificate's common name
	certPin string // and its ferry.CertPin
	sess    *core.Session
	// certLogin: the session was opened by certificate alone (USER, 232).
	certLogin bool
	cwd       string
	ascii     bool
	rest      int64
	rnfr      string
	pbsz      bool
	protP     bool
	epsvAll   bool
	facts     ftpwire.Facts
	hashAlgo  string
	pasv      net.Listener
	port      netip.AddrPort // active mode target; valid when portSet
	portSet   bool

	// The running transfer, guarded by xmu.
	xmu  sync.Mutex
	xfer *transfer
}

func (s *Server) handle(ctx context.Context, nc net.Conn) {
	defer nc.Close()
	if tc, ok := nc.(*net.TCPConn); ok {
		oobInline(tc)
		_ = tc.SetNoDelay(true)
	}
	local := addrPort(nc.LocalAddr())
	if s.opts.ProxyProtocol {
		stop := context.AfterFunc(ctx, func() { nc.Close() }) // shutdown while reading the header
		var ok bool
		nc, ok = s.proxied(nc)
		if !stop() || !ok {
			return
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &conn{
		srv: s, ctx: ctx, cancel: cancel, start: time.Now(),
		raw: nc, ctl: nc, remote: addrPort(nc.RemoteAddr()), local: local, dialled: addrPort(nc.LocalAddr()),
		cwd: "/", facts: ftpwire.DefaultFacts, hashAlgo: "sha256",
	}
	c.log = s.log.With("remote", c.remote.String())
	defer cancel()
	c.w = bufio.NewWriterSize(nc, 4096)
	if err := s.eng.Admit(c.remote.Addr()); err != nil {
		c.log.Info("connection refused", "err", err)
		return // banned: no reply, no work
	}
	ok, why := s.admit(c)
	if !ok {
		_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.reply(421, why)
		c.log.Info("connection refused", "reason", why)
		return
	}
	defer s.release(c)
	if s.opts.TLSMode == TLSImplicit {
		tc := tls.Server(nc, c.tlsConfig())
		_ = nc.SetDeadline(time.Now().Add(s.opts.LoginTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			c.log.Info("implicit TLS handshake failed", "err", err)
			return
		}
		_ = nc.SetDeadline(time.Time{})
		c.setTLS(tc)
	}
	c.r = bufio.NewReaderSize(c.ctl, 4096)
	defer c.endSession()
	c.reply(220, c.greeting()...)
	c.loop()
	if !c.triedLogin && c.sess == nil {
		s.eng.Report(context.WithoutCancel(ctx), c.remote.Addr(), "no-auth")
	}
}

// preLoginGarbage scores a malformed command before login with the
// defender; after login a client's mistakes are its own business.
func (c *conn) preLoginGarbage() {
	if c.sess == nil {
		c.srv.eng.Report(c.ctx, c.remote.Addr(), "protocol")
	}
}

// maxBannerFile bounds what a banner file may put in the greeting.
const maxBannerFile = 8 << 10

// greeting is the 220 text: the banner file, the banner or the default,
// and the user count when asked.
func (c *conn) greeting() []string {
	o := &c.srv.opts
	banner := o.Banner
	if o.BannerFile != "" {
		if b, err := readBounded(o.BannerFile, maxBannerFile); err != nil {
			c.log.Warn("banner file unreadable, using the banner text", "file", o.BannerFile, "err", err)
		} else {
			banner = string(b)
		}
	}
	banner = strings.TrimRight(banner, "\r\n")
	if banner == "" {
		banner = "Ferry FTP server ready."
	}
	lines := messageLines(banner)
	if o.ShowUserCount {
		n := c.srv.eng.CountService(o.Service) + 1
		if o.MaxConns > 0 {
			lines = append(lines, fmt.Sprintf("You are user number %d of %d allowed.", n, o.MaxConns))
		} else {
			lines = append(lines, fmt.Sprintf("You are user number %d.", n))
		}
	}
	return lines
}

// messageLines splits a configured message into reply lines.
func messageLines(s string) []string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, "\r")
	}
	return lines
}

func readBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// oobInline keeps TCP urgent data in the stream: clients send ABOR (or its
// Telnet Synch) as urgent data, and without this Linux drops that byte.
func oobInline(tc *net.TCPConn) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_OOBINLINE, 1)
	})
}

func (c *conn) setTLS(tc *tls.Conn) {
	c.tlsCtl, c.ctl = tc, tc
	// The client certificate, when verified against the CAs, may log in.
	c.certCN, c.certPin = "", ""
	if cs := tc.ConnectionState(); len(cs.VerifiedChains) > 0 && len(cs.PeerCertificates) > 0 {
		c.certCN = cs.PeerCertificates[0].Subject.CommonName
		c.certPin = ferry.CertPin(cs.PeerCertificates[0].Raw)
		c.log.Info("client certificate verified", "cn", c.certCN, "serial", cs.PeerCertificates[0].SerialNumber.String())
	}
	c.wmu.Lock()
	c.w = bufio.NewWriterSize(tc, 4096)
	c.wmu.Unlock()
}

// closeAll is the kick: it closes the control connection and any data
// connection so both goroutines return.
func (c *conn) closeAll() {
	c.cancel()
	c.raw.Close()
	c.xmu.Lock()
	if x := c.xfer; x != nil {
		x.abort()
	}
	c.xmu.Unlock()
}

func (c *conn) endSession() {
	c.waitTransfer()
	c.closePasv()
	if c.sess != nil {
		c.sess.Close()
		c.sess = nil
		c.srv.setMark(c, "")
	}
}

// reply writes one reply; a write error ends the session through the
// next read.
func (c *conn) reply(code int, lines ...string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.raw.SetWriteDeadline(time.Now().Add(c.srv.opts.DataTimeout))
	if err := ftpwire.WriteReply(c.w, code, lines...); err != nil {
		c.raw.Close()
	}
}

// loop reads and runs commands until QUIT, an error or a timeout.
func (c *conn) loop() {
	for {
		c.armDeadline()
		cmd, err := ftpwire.ReadCommand(c.r)
		if err != nil {
			var ne net.Error
			switch {
			case errors.Is(err, ftpwire.ErrLineTooLong):
				c.preLoginGarbage()
				c.reply(500, "Command line too long.")
				continue
			case errors.Is(err, ftpwire.ErrBadCommand):
				c.preLoginGarbage()
				c.reply(500, "Syntax error, command unrecognized.")
				continue
			case errors.As(err, &ne) && ne.Timeout():
				if c.busy() {
					continue
				}
				if c.sess == nil {
					c.reply(421, "Login timeout, closing control connection.")
				} else {
					c.reply(421, "Idle timeout, closing control connection.")
				}
			case !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && c.ctx.Err() == nil:
				c.log.Debug("control connection", "err", err)
			}
			return
		}
		if c.busy() && c.duringTransfer(cmd) {
			continue
		}
		c.waitTransfer()
		if c.ctx.Err() != nil {
			return
		}
		if !c.dispatch(cmd) {
			return
		}
	}
}

// armDeadline sets the control read deadline: none while a transfer
// runs (the transfer has its own), the login or idle timeout otherwise.
func (c *conn) armDeadline() {
	c.xmu.Lock()
	defer c.xmu.Unlock()
	c.armLocked()
}

func (c *conn) armLocked() {
	switch {
	case c.xfer != nil:
		_ = c.raw.SetReadDeadline(time.Time{})
	case c.sess == nil:
		_ = c.raw.SetReadDeadline(c.start.Add(c.srv.opts.LoginTimeout))
	default:
		_ = c.raw.SetReadDeadline(time.Now().Add(c.srv.opts.IdleTimeout))
	}
}

func (c *conn) busy() bool {
	c.xmu.Lock()
	defer c.xmu.Unlock()
	return c.xfer != nil
}

// duringTransfer handles the commands that act on a running transfer
// (ABOR, STAT) and reports whether cmd was one of them; any other command
// waits for the transfer to end.
func (c *conn) duringTransfer(cmd ftpwire.Command) bool {
	switch cmd.Verb {
	case "ABOR":
		c.abortTransfer()
		return true
	case "STAT":
		if cmd.Arg != "" {
			return false
		}
		c.xmu.Lock()
		x := c.xfer
		c.xmu.Unlock()
		if x != nil {
			c.reply(213, "Status: "+c.transferStatus(x))
			return true
		}
	}
	return false
}

// serverErr writes the reply for a core error.
func (c *conn) serverErr(err error) {
	code, text := replyFor(err)
	c.reply(code, text)
}

// resolve turns a client path argument into a virtual absolute path.
func (c *conn) resolve(arg string) (string, error) {
	return joinPath(c.cwd, arg)
}
