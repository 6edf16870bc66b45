package ftpproxy

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ftpwire"
)

// Server is an FTP proxy serving one or more listeners.
type Server struct {
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
}

// New validates opts and returns a Server.
func New(opts Options) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts.IdleTimeout = cmp.Or(opts.IdleTimeout, 15*time.Minute)
	opts.DataTimeout = cmp.Or(opts.DataTimeout, time.Minute)
	opts.DialTimeout = cmp.Or(opts.DialTimeout, 30*time.Second)
	opts.Service = cmp.Or(opts.Service, "ftp-proxy")
	if opts.Banner == "" {
		opts.Banner = "Ferry FTP proxy ready; log in as user@host[:port]"
	}
	log := cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
	return &Server{opts: opts, log: log, perIP: map[netip.Addr]int{}}, nil
}

// Serve accepts clients on ln until ctx is cancelled, then closes every
// session and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// EMFILE and the like: back off and keep serving.
			s.log.Warn("accept", "err", err)
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handle(ctx, nc)
		}()
	}
}

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// handle admits one client and runs its session.
func (s *Server) handle(ctx context.Context, nc net.Conn) {
	defer nc.Close()
	remote := addrPort(nc.RemoteAddr())
	id := newID()
	log := s.log.With(ferry.LogProto, "ftp-proxy", ferry.LogService, s.opts.Service,
		ferry.LogSession, id, ferry.LogRemote, remote.String())
	ip := remote.Addr().Unmap()
	refuse := func(code int, why, text string) {
		log.Warn("connection refused", "reason", why)
		s.publish(ferry.Event{Type: ferry.EventProxyConnect, Remote: remote.String(), Status: "refused: " + why})
		_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_ = ftpwire.WriteReply(nc, code, text)
	}
	switch {
	case !clientAllowed(s.opts.AllowClients, s.opts.DenyClients, ip):
		refuse(421, "client address not allowed", "Service not available for your address.")
		s.report(ctx, ip, ReportRefused)
		return
	case s.opts.Banned != nil && s.opts.Banned(ip):
		refuse(421, "client address banned", "Service not available for your address.")
		return
	}
	if ok, why := s.admit(ip); !ok {
		refuse(421, why, "Too many connections; try again later.")
		return
	}
	defer s.release(ip)
	sess := &session{srv: s, opts: &s.opts, id: id, log: log, client: nc, clientIP: ip,
		clientRemote: remote, clientLocal: addrPort(nc.LocalAddr())}
	sess.run(ctx)
}

func (s *Server) admit(ip netip.Addr) (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.MaxConns > 0 && s.total >= s.opts.MaxConns {
		return false, "max_connections reached"
	}
	if s.opts.MaxConnsPerIP > 0 && s.perIP[ip] >= s.opts.MaxConnsPerIP {
		return false, "max_connections_per_ip reached"
	}
	s.total++
	s.perIP[ip]++
	return true, ""
}

func (s *Server) release(ip netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case interface{ AddrPort() netip.AddrPort }:
		return a.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
