package ftpproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// end is one side of a proxied data connection: the proxy either accepts
// it on ln (from peer only) or dials addr (from src).
type end struct {
	ln   *net.TCPListener
	peer netip.Addr
	addr netip.AddrPort
	src  netip.Addr
	// tls is the side's TLS configuration (nil: clear); server is the
	// proxy's role in the handshake (server toward the client, client
	// toward the backend, whoever connects).
	tls    *tls.Config
	server bool
	// foreign, when set, is told about a refused connection from another
	// address than peer (the defender scores it).
	foreign func(netip.Addr)
}

func (e *end) connect(ctx context.Context, log *slog.Logger, name string) (net.Conn, error) {
	var c net.Conn
	if e.ln != nil {
		stop := context.AfterFunc(ctx, func() { e.ln.Close() })
		defer stop()
		for {
			tc, err := e.ln.AcceptTCP()
			if err != nil {
				if ctx.Err() != nil {
					return nil, fmt.Errorf("%s data connection: %w", name, context.Cause(ctx))
				}
				return nil, fmt.Errorf("%s data connection: %w", name, err)
			}
			from := addrPort(tc.RemoteAddr())
			if from.Addr().Unmap() != e.peer.Unmap() {
				// Hijack protection: only the control connection's peer
				// may connect.
				log.Warn("data connection from a foreign address refused", "side", name,
					"from", from.String(), "want", e.peer.String())
				tc.Close()
				if e.foreign != nil {
					e.foreign(from.Addr().Unmap())
				}
				continue
			}
			e.ln.Close()
			c = tc
			break
		}
	} else {
		d := net.Dialer{}
		if e.src.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: e.src.AsSlice()}
		}
		nc, err := d.DialContext(ctx, "tcp", e.addr.String())
		if err != nil {
			return nil, fmt.Errorf("%s data connection to %s: %w", name, e.addr, err)
		}
		c = nc
	}
	if e.tls == nil {
		return c, nil
	}
	var tc *tls.Conn
	if e.server {
		tc = tls.Server(c, e.tls)
	} else {
		tc = tls.Client(c, e.tls)
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s data connection TLS: %w", name, err)
	}
	return tc, nil
}

func (e *end) close() {
	if e.ln != nil {
		e.ln.Close()
	}
}

// dataConn is one data connection through the proxy: set up by
// PASV/EPSV/PORT/EPRT, started at once (so clients that connect or
// handshake before sending the transfer command work), finished when
// one direction reaches EOF.
type dataConn struct {
	client, backend end
	cancel          context.CancelCauseFunc
	finished        bool // set by the session loop on its done event
}

// dataDone reports that a data connection finished moving data (or
// failed); the other direction may still be draining.
type dataDone struct {
	d   *dataConn
	err error
	// Set once data moved: the direction (client_to_server or
	// server_to_client), bytes, time and the two connections' far ends.
	dir            string
	n              int64
	dur            time.Duration
	client, server netip.AddrPort
}

// start runs the data connection in the background and reports to done.
func (d *dataConn) start(ctx context.Context, timeout time.Duration, log *slog.Logger, report func(dataDone)) {
	ctx, d.cancel = context.WithCancelCause(ctx)
	go func() {
		if err := d.run(ctx, timeout, log, report); err != nil {
			report(dataDone{d: d, err: err})
		}
	}()
}

// abort closes both sides.
func (d *dataConn) abort() {
	if d.cancel != nil {
		d.cancel(errors.New("aborted"))
	}
	d.client.close()
	d.backend.close()
}

func (d *dataConn) run(ctx context.Context, timeout time.Duration, log *slog.Logger, report func(dataDone)) error {
	cctx, cancel := context.WithTimeoutCause(ctx, timeout, errors.New("timed out waiting for the data connection"))
	defer cancel()
	type res struct {
		c   net.Conn
		err error
	}
	cch, bch := make(chan res, 1), make(chan res, 1)
	go func() { c, err := d.client.connect(cctx, log, "client"); cch <- res{c, err} }()
	go func() { c, err := d.backend.connect(cctx, log, "server"); bch <- res{c, err} }()
	cr, br := <-cch, <-bch
	if cr.err != nil || br.err != nil {
		for _, r := range []res{cr, br} {
			if r.c != nil {
				r.c.Close()
			}
		}
		return errors.Join(cr.err, br.err)
	}
	cc, bc := cr.c, br.c
	stop := context.AfterFunc(ctx, func() { cc.Close(); bc.Close() })
	start := time.Now()
	type copied struct {
		toServer bool
		n        int64
		err      error
	}
	ch := make(chan copied, 2)
	go func() { n, err := relay(bc, cc); closeWrite(bc); ch <- copied{true, n, err} }()
	go func() { n, err := relay(cc, bc); closeWrite(cc); ch <- copied{false, n, err} }()
	first := <-ch
	dir := "server_to_client"
	if first.toServer {
		dir = "client_to_server"
	}
	// One direction is done: so is the transfer (FTP data flows one
	// way). Report now, so the final reply is not held while a client
	// waits for it before closing its end.
	log.Info("data connection closed", "direction", dir, "bytes", first.n,
		"duration", time.Since(start).Round(time.Millisecond), "err", errString(first.err))
	report(dataDone{d: d, err: first.err, dir: dir, n: first.n, dur: time.Since(start),
		client: addrPort(cc.RemoteAddr()), server: addrPort(bc.RemoteAddr())})
	if first.err != nil {
		cc.Close()
		bc.Close()
	} else {
		t := time.NewTimer(timeout)
		select {
		case <-ch:
		case <-t.C:
			cc.Close()
			bc.Close()
		}
		t.Stop()
	}
	stop()
	cc.Close()
	bc.Close()
	return nil
}

// relay copies src to dst until EOF. Two plain TCP connections splice
// (kernel to kernel through a pipe; the byte count is ReadFrom's), so
// neither end may be wrapped; TLS connections copy in userspace.
func relay(dst, src net.Conn) (int64, error) {
	if d, ok := dst.(*net.TCPConn); ok {
		if s, ok := src.(*net.TCPConn); ok {
			return d.ReadFrom(s)
		}
	}
	return io.Copy(dst, src)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		_ = tc.CloseWrite()
		c = tc.NetConn()
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// listenRange listens on ip at a random free port in lo-hi (any port when
// lo is 0).
func listenRange(ip netip.Addr, lo, hi int) (*net.TCPListener, error) {
	ip = ip.Unmap()
	if lo == 0 {
		return net.ListenTCP("tcp", &net.TCPAddr{IP: ip.AsSlice(), Zone: ip.Zone()})
	}
	n := hi - lo + 1
	first := rand.IntN(n)
	for i := range n {
		port := lo + (first+i)%n
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip.AsSlice(), Port: port, Zone: ip.Zone()})
		if err == nil {
			return ln, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no free port in %d-%d on %s", lo, hi, ip)
}
