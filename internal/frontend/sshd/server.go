// Package sshd is Ferry's SSH service: an SSH server on golang.org/x/crypto/ssh
// that serves our own SFTP v3 implementation, SCP (source and sink) and a few
// checksum commands. One SSH connection is one core.Session, shared by every
// channel of that connection. Policy (authentication, permissions, quotas,
// events) is core's; this package parses the wire and maps errors.
package sshd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
)

// Authentication method names, as SSH spells them.
const (
	MethodPassword            = "password"
	MethodPublicKey           = "publickey"
	MethodKeyboardInteractive = "keyboard-interactive"
)

// AuthMethods lists the methods a service may allow.
var AuthMethods = []string{MethodPublicKey, MethodPassword, MethodKeyboardInteractive}

// Default algorithm lists: modern first, nothing with SHA-1 or CBC.
var (
	DefaultKeyExchanges = []string{
		ssh.KeyExchangeMLKEM768X25519, ssh.KeyExchangeCurve25519,
		ssh.KeyExchangeECDHP256, ssh.KeyExchangeECDHP384, ssh.KeyExchangeECDHP521,
		ssh.KeyExchangeDH16SHA512, ssh.KeyExchangeDH14SHA256,
	}
	DefaultCiphers = []string{
		ssh.CipherChaCha20Poly1305, ssh.CipherAES128GCM, ssh.CipherAES256GCM,
		ssh.CipherAES128CTR, ssh.CipherAES192CTR, ssh.CipherAES256CTR,
	}
	DefaultMACs = []string{
		ssh.HMACSHA256ETM, ssh.HMACSHA512ETM, ssh.HMACSHA256, ssh.HMACSHA512,
	}
)

// Options configure a Server.
type Options struct {
	Engine  *core.Engine // required
	Logger  *slog.Logger
	Service string // the service definition's name, for sessions and events
	// HostKeys are offered in this order (ed25519, ecdsa, rsa). Required.
	HostKeys []ssh.Signer
	// KeyExchanges, Ciphers and MACs override the defaults above.
	KeyExchanges, Ciphers, MACs []string
	// AuthMethods allowed on this service (default all of AuthMethods).
	AuthMethods []string
	// Banner is sent before authentication when not empty.
	Banner string
	// MaxAuthTries bounds failed attempts per connection (default 6).
	MaxAuthTries int
	// LoginGrace is how long a client has to authenticate (default 60s).
	LoginGrace time.Duration
	// MaxChannels bounds the session channels of one connection (default 10).
	MaxChannels int
	// Keepalive is the interval of keepalive@openssh.com probes; a client
	// that misses three is disconnected. Default 30s; negative disables.
	Keepalive time.Duration
	// MaxRequests bounds the SFTP requests processed at once per channel
	// (default 64).
	MaxRequests int
}

// Server is an SSH server.
type Server struct {
	opts Options
	eng  *core.Engine
	log  *slog.Logger
	base ssh.ServerConfig

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// New validates opts and returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Engine == nil {
		return nil, errors.New("sshd: Options.Engine is required")
	}
	if len(opts.HostKeys) == 0 {
		return nil, errors.New("sshd: at least one host key is required")
	}
	if len(opts.AuthMethods) == 0 {
		opts.AuthMethods = AuthMethods
	}
	for _, m := range opts.AuthMethods {
		if !slices.Contains(AuthMethods, m) {
			return nil, fmt.Errorf("sshd: auth method %q: accepted values are %s", m, strings.Join(AuthMethods, ", "))
		}
	}
	opts.MaxAuthTries = cmp.Or(opts.MaxAuthTries, 6)
	opts.LoginGrace = cmp.Or(opts.LoginGrace, 60*time.Second)
	opts.MaxChannels = cmp.Or(opts.MaxChannels, 10)
	opts.Keepalive = cmp.Or(opts.Keepalive, 30*time.Second)
	opts.MaxRequests = cmp.Or(opts.MaxRequests, 64)
	s := &Server{opts: opts, eng: opts.Engine, log: cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		conns: make(map[net.Conn]struct{})}
	s.base = ssh.ServerConfig{
		Config: ssh.Config{
			KeyExchanges: orList(opts.KeyExchanges, DefaultKeyExchanges),
			Ciphers:      orList(opts.Ciphers, DefaultCiphers),
			MACs:         orList(opts.MACs, DefaultMACs),
		},
		MaxAuthTries:  opts.MaxAuthTries,
		ServerVersion: "SSH-2.0-Ferry",
	}
	// Client keys signed with SHA-1 (ssh-rsa) or DSA are not accepted.
	for _, a := range ssh.SupportedAlgorithms().PublicKeyAuths {
		if a != ssh.KeyAlgoRSA && a != ssh.KeyAlgoDSA {
			s.base.PublicKeyAuthAlgorithms = append(s.base.PublicKeyAuthAlgorithms, a)
		}
	}
	for _, k := range opts.HostKeys {
		if k.PublicKey().Type() == ssh.KeyAlgoRSA {
			// Sign with SHA-2 only: no ssh-rsa (SHA-1) host signatures.
			ak, ok := k.(ssh.AlgorithmSigner)
			if !ok {
				return nil, errors.New("sshd: RSA host key cannot choose its signature algorithm")
			}
			var err error
			k, err = ssh.NewSignerWithAlgorithms(ak, []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256})
			if err != nil {
				return nil, fmt.Errorf("sshd: RSA host key: %w", err)
			}
		}
		s.base.AddHostKey(k)
	}
	if opts.Banner != "" {
		banner := opts.Banner
		if !strings.HasSuffix(banner, "\n") {
			banner += "\n"
		}
		s.base.BannerCallback = func(ssh.ConnMetadata) string { return banner }
	}
	return s, nil
}

// Serve accepts connections on ln until ctx ends, then closes every
// connection and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				s.closeAll()
				s.wg.Wait()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			s.closeAll()
			s.wg.Wait()
			return err
		}
		delay = 0
		if err := s.eng.Admit(addrPort(c.RemoteAddr()).Addr()); err != nil {
			s.log.Info("connection refused", ferry.LogRemote, c.RemoteAddr().String(), "err", err)
			c.Close()
			continue
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
			s.serveConn(ctx, c)
		}()
	}
}

func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// errAuthFailed is what every failed attempt returns to x/crypto; the client
// sees the same failure whatever the reason.
var errAuthFailed = errors.New("authentication failed")

// authState carries one connection's authentication results from the
// handshake callbacks to the session.
type authState struct {
	s       *Server
	ctx     context.Context
	remote  netip.AddrPort
	local   netip.AddrPort
	grant   *core.Grant            // a complete login
	prior   *core.Grant            // the steps passed so far, when the account requires several methods
	pending map[string]*core.Grant // offered public keys that core accepted, by wire form
	tried   bool                   // the client tried to log in (password or key)
}

func (a *authState) request(user string) core.LoginRequest {
	a.tried = true
	return core.LoginRequest{Protocol: ferry.SFTP, User: user, Remote: a.remote, Local: a.local,
		Service: a.s.opts.Service, Prior: a.prior}
}

// passed records a successful step: a complete login, or a partial success
// that asks the client for the methods the account still requires.
func (a *authState) passed(g *core.Grant) (*ssh.Permissions, error) {
	rest := g.Remaining()
	if len(rest) == 0 {
		a.grant = g
		return &ssh.Permissions{}, nil
	}
	a.prior, a.pending = g, nil
	var next ssh.ServerAuthCallbacks
	for _, m := range a.s.opts.AuthMethods {
		switch {
		case m == MethodPassword && slices.Contains(rest, ferry.MethodPassword):
			next.PasswordCallback = a.password
		case m == MethodKeyboardInteractive && slices.Contains(rest, ferry.MethodPassword):
			next.KeyboardInteractiveCallback = a.keyboardInteractive
		case m == MethodPublicKey && slices.Contains(rest, ferry.MethodPublicKey):
			next.PublicKeyCallback = a.publicKey
		}
	}
	if next.PasswordCallback == nil && next.KeyboardInteractiveCallback == nil && next.PublicKeyCallback == nil ||
		slices.ContainsFunc(rest, func(m string) bool { return m != ferry.MethodPassword && m != ferry.MethodPublicKey }) {
		a.s.log.Info("login failed: the account requires a login method this service does not offer",
			ferry.LogUser, g.User().Name, "missing", strings.Join(rest, ","))
		return nil, errAuthFailed
	}
	return nil, &ssh.PartialSuccessError{Next: next}
}

func (a *authState) password(cm ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
	req := a.request(cm.User())
	req.Password = string(pw)
	if req.Password == "" {
		return nil, errAuthFailed
	}
	g, err := a.s.eng.Authenticate(a.ctx, req)
	if err != nil {
		return nil, errAuthFailed
	}
	return a.passed(g)
}

func (a *authState) keyboardInteractive(cm ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
	answers, err := client("", "", []string{"Password: "}, []bool{false})
	if err != nil || len(answers) != 1 {
		return nil, errAuthFailed
	}
	return a.password(cm, []byte(answers[0]))
}

// publicKey answers an offered key: core decides whether it would log the
// user in; the grant is used only once the client proves it holds the key.
func (a *authState) publicKey(cm ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	req := a.request(cm.User())
	req.PublicKey = key.Marshal()
	req.Probe = true // clients offer several keys; only a proven one logs in
	g, err := a.s.eng.Authenticate(a.ctx, req)
	if err != nil {
		return nil, errAuthFailed
	}
	if a.pending == nil {
		a.pending = make(map[string]*core.Grant)
	}
	a.pending[cm.User()+"\x00"+string(req.PublicKey)] = g
	return &ssh.Permissions{}, nil
}

func (a *authState) verifiedKey(cm ssh.ConnMetadata, key ssh.PublicKey, p *ssh.Permissions, _ string) (*ssh.Permissions, error) {
	g := a.pending[cm.User()+"\x00"+string(key.Marshal())]
	if g == nil {
		return nil, errAuthFailed
	}
	return a.passed(g)
}

func (s *Server) config(a *authState) *ssh.ServerConfig {
	cfg := s.base
	for _, m := range s.opts.AuthMethods {
		switch m {
		case MethodPassword:
			cfg.PasswordCallback = a.password
		case MethodKeyboardInteractive:
			cfg.KeyboardInteractiveCallback = a.keyboardInteractive
		case MethodPublicKey:
			cfg.PublicKeyCallback = a.publicKey
			cfg.VerifiedPublicKeyCallback = a.verifiedKey
		}
	}
	return &cfg
}

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		// OpenSSH clients do not set TCP_NODELAY; without it on our side
		// every handshake round trip waits for a delayed ACK.
		_ = tc.SetNoDelay(true)
		_ = tc.SetKeepAlive(true)
	}
	a := &authState{s: s, ctx: ctx, remote: addrPort(c.RemoteAddr()), local: addrPort(c.LocalAddr())}
	log := s.log.With(ferry.LogRemote, a.remote.String(), ferry.LogService, s.opts.Service)
	_ = c.SetDeadline(time.Now().Add(s.opts.LoginGrace))
	sc, chans, reqs, err := ssh.NewServerConn(c, s.config(a))
	if err != nil {
		log.Debug("ssh handshake ended", "err", err)
		if !a.tried && ctx.Err() == nil {
			// Failed logins are scored by core; a client that never
			// tried is scored here (before the close, so a ban is in
			// place when the client sees it).
			s.eng.Report(ctx, a.remote.Addr(), preAuthReason(err))
		}
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	if a.grant == nil { // cannot happen: x/crypto only succeeds through a callback
		sc.Close()
		return
	}
	req := a.request(sc.User())
	req.Disconnect = func() { sc.Close() }
	sess, err := s.eng.Open(ctx, a.grant, req)
	if err != nil {
		log.Info("session refused", "err", err)
		sc.Close()
		return
	}
	defer sess.Close()
	defer sc.Close()
	go ssh.DiscardRequests(reqs) // tcpip-forward and the like: refused
	if s.opts.Keepalive > 0 {
		go keepalive(sc, s.opts.Keepalive)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer sc.Close() // runs before wg.Wait: ends the channels' handlers
	active := make(chan struct{}, s.opts.MaxChannels)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.Prohibited, "this server offers SFTP and SCP only: no port forwarding")
			continue
		}
		select {
		case active <- struct{}{}:
		default:
			_ = nc.Reject(ssh.ResourceShortage, fmt.Sprintf("at most %d sessions per connection", s.opts.MaxChannels))
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			<-active
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-active }()
			s.serveChannel(sess, ch, creqs)
		}()
	}
}

// keepalive probes the client; three unanswered probes close the connection.
func keepalive(sc *ssh.ServerConn, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	missed := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() { _ = sc.Wait(); close(done) }()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		reply := make(chan struct{})
		go func() {
			if _, _, err := sc.SendRequest("keepalive@openssh.com", true, nil); err == nil {
				close(reply)
			}
		}()
		timer := time.NewTimer(3 * every)
		select {
		case <-reply:
			timer.Stop()
		case <-done:
			timer.Stop()
			return
		case <-timer.C:
			sc.Close()
			missed <- struct{}{}
			return
		}
	}
}

// shellRefusal is what `ssh host` prints.
const shellRefusal = "This service offers SFTP and SCP only; interactive shells and commands are not available.\r\n"

func (s *Server) serveChannel(sess *core.Session, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	started := false
	done := make(chan struct{})
	for {
		select {
		case req, ok := <-reqs:
			if !ok {
				if started {
					<-done
				}
				return
			}
			if started {
				_ = req.Reply(false, nil)
				continue
			}
			switch req.Type {
			case "subsystem":
				var m struct{ Name string }
				if ssh.Unmarshal(req.Payload, &m) != nil || m.Name != "sftp" {
					_ = req.Reply(false, nil)
					continue
				}
				_ = req.Reply(true, nil)
				started = true
				go func() {
					defer close(done)
					serveSFTP(sess, ch, s.opts.MaxRequests)
					exitStatus(ch, 0)
					ch.Close()
				}()
			case "exec":
				var m struct{ Command string }
				if ssh.Unmarshal(req.Payload, &m) != nil {
					_ = req.Reply(false, nil)
					continue
				}
				_ = req.Reply(true, nil)
				started = true
				go func() {
					defer close(done)
					code := runExec(sess, ch, m.Command)
					exitStatus(ch, code)
					ch.Close()
				}()
			case "shell":
				_ = req.Reply(true, nil)
				_, _ = ch.Stderr().Write([]byte(shellRefusal))
				exitStatus(ch, 1)
				return
			default: // pty-req, env, x11-req, auth-agent-req@openssh.com…
				_ = req.Reply(false, nil)
			}
		case <-done:
			ssh.DiscardRequests(reqs)
			return
		}
	}
}

func exitStatus(ch ssh.Channel, code uint32) {
	_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{code}))
}

func orList(v, def []string) []string {
	if len(v) == 0 {
		return def
	}
	return v
}

// preAuthReason tells the defender why a connection ended before any login
// attempt: it went away ("no-auth": closed, timed out, or gave up at the
// "none" method) or it broke the protocol ("protocol").
func preAuthReason(err error) string {
	var ne net.Error
	var ae *ssh.ServerAuthError
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.As(err, &ne) && ne.Timeout() || errors.As(err, &ae) {
		return "no-auth"
	}
	return "protocol"
}
