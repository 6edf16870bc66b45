package ftpproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ftpwire"
)

// errRefused is a backend the access lists refuse; the client sees a
// generic message.
var errRefused = errors.New("backend not allowed")

// dialBackend resolves host, applies the backend lists, connects, reads
// the greeting and negotiates TLS. It returns the greeting to relay.
func (s *session) dialBackend(ctx context.Context, host string, port uint16) (ftpwire.Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.DialTimeout)
	defer cancel()
	var ips []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{a.Unmap()}
	} else {
		found, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return ftpwire.Reply{}, fmt.Errorf("resolve %q: %w", host, err)
		}
		ips = found
	}
	var allowed []netip.Addr
	for _, ip := range ips {
		ip = ip.Unmap()
		// Never proxy to the proxy itself (a forward-mode loop, or a
		// transparent-mode connection that was not redirected).
		if ip == s.clientLocal.Addr().Unmap() && port == s.clientLocal.Port() {
			continue
		}
		if backendAllowed(s.opts.AllowBackends, s.opts.DenyBackends, host, ip, port) {
			allowed = append(allowed, ip)
		}
	}
	if len(allowed) == 0 {
		return ftpwire.Reply{}, fmt.Errorf("%s port %d: %w", host, port, errRefused)
	}
	var nc net.Conn
	var err error
	for _, ip := range allowed {
		d := net.Dialer{}
		if src := s.sourceFor(ip); src.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
		}
		nc, err = d.DialContext(ctx, "tcp", netip.AddrPortFrom(ip, port).String())
		if err == nil {
			break
		}
	}
	if err != nil {
		return ftpwire.Reply{}, fmt.Errorf("connect: %w", err)
	}
	s.backend = nc
	s.backendRemote = addrPort(nc.RemoteAddr())
	s.backendLocal = addrPort(nc.LocalAddr())
	s.backendName = host
	s.backendR = bufio.NewReader(nc)
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	defer nc.SetDeadline(time.Time{})
	greet, err := ftpwire.ReadReply(s.backendR)
	if err != nil {
		return ftpwire.Reply{}, fmt.Errorf("greeting: %w", err)
	}
	s.logReply(greet)
	if greet.Code != 220 {
		return greet, nil // 421 busy and the like: relayed, then the session ends
	}
	if err := s.backendTLSUp(ctx, host); err != nil {
		return ftpwire.Reply{}, err
	}
	return greet, nil
}

// sourceFor is the configured source address when it is of dst's family
// (an IPv4 source cannot reach an IPv6 server).
func (s *session) sourceFor(dst netip.Addr) netip.Addr {
	if src := s.opts.SourceAddr.Unmap(); src.IsValid() && src.Is4() == dst.Unmap().Is4() {
		return src
	}
	return netip.Addr{}
}

// backendTLSUp sends AUTH TLS, PBSZ 0 and PROT P as the policy asks.
func (s *session) backendTLSUp(ctx context.Context, host string) error {
	if s.opts.BackendTLS == BackendTLSOff {
		return nil
	}
	rep, err := s.backendCmd("AUTH TLS")
	if err != nil {
		return err
	}
	if rep.Code != 234 {
		if s.opts.BackendTLS == BackendTLSRequired {
			return fmt.Errorf("server refused AUTH TLS: %d %s", rep.Code, rep.Text())
		}
		s.log.Debug("server refused AUTH TLS; going on in the clear", "code", rep.Code)
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.opts.BackendTLSConfig != nil {
		cfg = s.opts.BackendTLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	// Data connections resume the control session: servers such as
	// vsftpd and Ferry insist on it.
	cfg.ClientSessionCache = &keepCache{ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	tc := tls.Client(s.backend, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS to server: %w", err)
	}
	s.backend = tc
	s.backendR = bufio.NewReader(tc)
	s.backendTLS = cfg
	if rep, err = s.backendCmd("PBSZ 0"); err != nil {
		return err
	}
	if rep, err = s.backendCmd("PROT P"); err != nil {
		return err
	}
	s.backendProt = rep.Code/100 == 2
	return nil
}

// backendCmd sends a command and reads its final reply; only before the
// relay starts.
func (s *session) backendCmd(line string) (ftpwire.Reply, error) {
	s.logCommand(">server", line)
	if _, err := s.backend.Write([]byte(line + "\r\n")); err != nil {
		return ftpwire.Reply{}, fmt.Errorf("%s: %w", strings.Fields(line)[0], err)
	}
	for {
		rep, err := ftpwire.ReadReply(s.backendR)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", strings.Fields(line)[0], err)
		}
		s.logReply(rep)
		if rep.Code >= 200 {
			return rep, nil
		}
	}
}

// readBackend feeds the session loop with the backend's replies.
func (s *session) readBackend(r *bufio.Reader) {
	for {
		rep, err := ftpwire.ReadReply(r)
		select {
		case s.replies <- replyEvent{rep, err}:
		case <-s.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// keepCache ignores deletions: crypto/tls drops the cached session when a
// resuming handshake fails, and an aborted data connection (the server
// refused the transfer before accepting it) would otherwise cost every
// later data connection its resumption.
type keepCache struct{ tls.ClientSessionCache }

func (k *keepCache) Put(key string, cs *tls.ClientSessionState) {
	if cs != nil {
		k.ClientSessionCache.Put(key, cs)
	}
}
