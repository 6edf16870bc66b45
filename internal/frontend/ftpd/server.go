// Package ftpd is Ferry's FTP and FTPS front end: control sessions, data
// connections (passive and active, with bounce and hijack protection),
// explicit and implicit TLS with data-channel session reuse, and the
// commands of RFC 959, 2228, 2389, 2428, 3659, 4217 and 7151. It parses the
// wire with internal/ftpwire, calls core.Session for every file operation
// and decision, and maps errors in errors.go. Only app imports it.
package ftpd

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/core"
)

// TLSMode is a service's TLS policy.
type TLSMode int

// TLS modes.
const (
	TLSOff         TLSMode = iota // plain FTP only; AUTH is refused
	TLSExplicit                   // AUTH TLS offered, not required
	TLSRequired                   // AUTH TLS before USER; PROT P before transfers
	TLSImplicit                   // TLS from the first byte (port 990 style); PROT P required
	TLSControlOnly                // AUTH TLS before USER; PROT C allowed
)

// ParseTLSMode accepts off, explicit, required, implicit or control-only.
func ParseTLSMode(s string) (TLSMode, error) {
	switch s {
	case "off":
		return TLSOff, nil
	case "", "explicit":
		return TLSExplicit, nil
	case "required":
		return TLSRequired, nil
	case "implicit":
		return TLSImplicit, nil
	case "control-only":
		return TLSControlOnly, nil
	}
	return 0, fmt.Errorf("tls %q: accepted values are off, explicit, required, implicit, control-only", s)
}

// ClientCertMode is whether TLS clients present certificates.
type ClientCertMode int

// Client certificate modes.
const (
	ClientCertOff      ClientCertMode = iota // not asked for
	ClientCertOptional                       // asked for; verified against ClientCAs when given
	ClientCertRequired                       // a verified certificate is needed for the TLS handshake, and TLS for login
)

// CertLoginMode is whether a verified client certificate logs in.
type CertLoginMode int

// Certificate login modes.
const (
	CertLoginOff          CertLoginMode = iota // passwords only
	CertLoginCert                              // USER <the certificate's CN> logs in without a password (232)
	CertLoginCertPassword                      // USER must be the certificate's CN, and the password is checked
)

// Options configure a Server. Zero values are safe defaults.
type Options struct {
	Engine  *core.Engine // required
	Service string       // the service's name, for sessions and limits
	Logger  *slog.Logger

	// TLS is the certificate configuration; required unless TLSMode is
	// TLSOff.
	TLS     *tls.Config
	TLSMode TLSMode
	// NoSessionReuse turns off the check that a protected data connection
	// resumes the control connection's TLS session (vsftpd's
	// require_ssl_reuse, on by default).
	NoSessionReuse bool

	// PassivePorts is the range PASV/EPSV listen in; zero is any port.
	PassiveLow, PassiveHigh int
	// PublicHost is what PASV announces: an IP, or a host name resolved
	// at each PASV. Empty is the address the client dialled.
	PublicHost string
	// Per-network announced addresses: a client whose address is inside
	// Prefix gets Host (e.g. the LAN address for LAN clients).
	PublicHostFor []NetHost
	// DisableActive refuses PORT and EPRT.
	DisableActive bool
	// AllowForeignActive lets PORT/EPRT name another address than the
	// client's (FXP); AllowForeignPassive accepts passive data
	// connections from another address. Both are off: bounce and
	// hijack protection.
	AllowForeignActive, AllowForeignPassive bool
	// ActivePort20 makes active data connections come from port 20 (needs
	// the privilege to bind it).
	ActivePort20 bool

	// IdleTimeout closes a session idle that long (default 15 min);
	// LoginTimeout one not logged in that long after connecting (default
	// 1 min); DataTimeout bounds waiting for a data connection and each
	// read or write on it (default 1 min).
	IdleTimeout, LoginTimeout, DataTimeout time.Duration
	// MaxConns and MaxConnsPerIP limit control connections (0: no limit).
	MaxConns, MaxConnsPerIP int
	// Banner is the 220 greeting text (may hold several lines).
	// BannerFile, when set, is read at each connection instead (up to 8
	// KiB; Banner or the default when it cannot be read).
	Banner, BannerFile string
	// ShowUserCount adds "You are user number N of M allowed." to the
	// greeting: N counts the service's logged-in sessions (from core) plus
	// this connection, M is MaxConns (omitted when unlimited).
	ShowUserCount bool
	// LoginMessage (may hold several lines) is sent with the 230 reply.
	LoginMessage string
	// IgnoreASCII transfers TYPE A as binary (mainframe-friendly servers
	// turn conversion off for speed and exactness).
	IgnoreASCII bool
	// FailDelay is how long a failed login waits before its 530 (default
	// 500 ms).
	FailDelay time.Duration
	// ClientCerts asks TLS clients for certificates, verified against
	// ClientCAs (required unless off); CertLogin lets the certificate's
	// common name log in (core method tls-cert).
	ClientCerts ClientCertMode
	ClientCAs   *x509.CertPool
	CertLogin   CertLoginMode
	// ClientCAPool, when set, returns the CA pool in force instead of
	// ClientCAs. It is read at each control connection's TLS handshake, so
	// a reload applies to new sessions; a session's data connections keep
	// the pool its control connection was verified with.
	ClientCAPool func() *x509.CertPool
	// ClientCRLs returns the certificate revocation lists in force (it is
	// called on every handshake, so a reload takes effect at once): a
	// client certificate, or an intermediate, that a CRL signed by its
	// issuer lists is refused, and so is every certificate of an issuer
	// none of whose CRLs is valid now (each past its nextUpdate or before
	// its thisUpdate). ClientCRLFile names them in that refusal.
	ClientCRLs    func() []*x509.RevocationList
	ClientCRLFile string
	// Now is the clock CRLs are checked against, which also paces the
	// error logged when a handshake is refused for want of a valid CRL
	// (default time.Now).
	Now func() time.Time
	// ProxyProtocol expects a PROXY protocol v1 or v2 header on every
	// control connection; only ProxyTrusted senders (required, non-empty)
	// are served. The header's source is the client address for core,
	// limits, the defender and the data-connection address checks.
	ProxyProtocol bool
	ProxyTrusted  []netip.Prefix
	// AllowSiteSymlink enables SITE SYMLINK (the symlink right is still
	// checked by core).
	AllowSiteSymlink bool
}

// NetHost maps a client network to the address PASV announces to it.
type NetHost struct {
	Prefix netip.Prefix
	Host   string
}

// Server serves FTP on listeners.
type Server struct {
	opts Options
	eng  *core.Engine
	log  *slog.Logger
	// ticket wraps and unwraps TLS session tickets so a data connection
	// can prove it resumed its own control connection's session.
	ticket *tls.Config

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
	conns map[*conn]struct{}
	// marks maps the mark in the TLS tickets of each live control
	// connection to its client address and logged-in user, so a data
	// connection may resume a session of another control connection of
	// the same client and user (clients such as rclone share one session
	// cache among their connections).
	marks map[string]markInfo
}

type markInfo struct {
	ip   netip.Addr
	user string
}

// setMark records c's ticket mark with the user now logged in ("" for
// none); marks of released connections are dropped.
func (s *Server) setMark(c *conn, user string) {
	if c.ticket == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; ok {
		s.marks[string(c.ticket)] = markInfo{ip: c.remote.Addr(), user: user}
	}
}

// sameClient reports whether a ticket marked other may serve a data
// connection of the control connection marked own: both live, from the
// same address, logged in as the same user.
func (s *Server) sameClient(own, other string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok1 := s.marks[own]
	b, ok2 := s.marks[other]
	return ok1 && ok2 && a.user != "" && a == b
}

// New returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Engine == nil {
		return nil, errors.New("ftpd: Options.Engine is required")
	}
	if opts.TLSMode != TLSOff && opts.TLS == nil {
		return nil, errors.New("ftpd: a TLS mode other than off needs Options.TLS")
	}
	if opts.ClientCerts != ClientCertOff || opts.CertLogin != CertLoginOff {
		switch {
		case opts.TLSMode == TLSOff:
			return nil, errors.New("ftpd: client certificates need TLS")
		case opts.ClientCerts == ClientCertOff:
			return nil, errors.New("ftpd: certificate login needs client certificates (optional or required)")
		case opts.ClientCAs == nil && opts.ClientCAPool == nil:
			return nil, errors.New("ftpd: client certificates need Options.ClientCAs or ClientCAPool")
		}
		opts.TLS = opts.TLS.Clone()
		opts.TLS.ClientCAs = opts.ClientCAs
		if opts.ClientCAPool != nil {
			opts.TLS.ClientCAs = opts.ClientCAPool()
		}
		opts.TLS.ClientAuth = tls.VerifyClientCertIfGiven
		if opts.ClientCerts == ClientCertRequired {
			opts.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		}
		if crls := opts.ClientCRLs; crls != nil {
			file := opts.ClientCRLFile
			log := cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)).With("proto", "ftp", "service", opts.Service)
			now := opts.Now
			if now == nil {
				now = time.Now
			}
			limit := &crlLogLimit{now: now, every: time.Minute}
			opts.TLS.VerifyConnection = func(cs tls.ConnectionState) error {
				err := checkRevoked(cs.VerifiedChains, crls(), now())
				var inv *crlInvalidError
				if errors.As(err, &inv) {
					err = errors.New(inv.refusal(file))
					// The operator must act (refresh the CRL), so this is an
					// error of the service, not only of this connection; once
					// a minute is enough to say so.
					if ok, suppressed := limit.allow(); ok {
						attrs := []any{"crl", file}
						if inv.notYet {
							attrs = append(attrs, "this_update", inv.at)
						} else {
							attrs = append(attrs, "next_update", inv.at)
						}
						if suppressed > 0 {
							attrs = append(attrs, "suppressed", suppressed)
						}
						log.Error(err.Error(), attrs...)
					}
				}
				return err
			}
		}
	} else if opts.ClientCRLs != nil {
		return nil, errors.New("ftpd: CRLs need client certificates (optional or required)")
	}
	if opts.ProxyProtocol && len(opts.ProxyTrusted) == 0 {
		return nil, errors.New("ftpd: PROXY protocol needs the trusted senders (Options.ProxyTrusted)")
	}
	if opts.PassiveLow < 0 || opts.PassiveHigh > 65535 || opts.PassiveLow > opts.PassiveHigh {
		return nil, fmt.Errorf("ftpd: passive port range %d-%d is invalid", opts.PassiveLow, opts.PassiveHigh)
	}
	opts.IdleTimeout = cmp.Or(opts.IdleTimeout, 15*time.Minute)
	opts.LoginTimeout = cmp.Or(opts.LoginTimeout, time.Minute)
	opts.DataTimeout = cmp.Or(opts.DataTimeout, time.Minute)
	opts.FailDelay = cmp.Or(opts.FailDelay, 500*time.Millisecond)
	if opts.FailDelay < 0 {
		opts.FailDelay = 0
	}
	s := &Server{
		opts:  opts,
		eng:   opts.Engine,
		log:   cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)).With("proto", "ftp", "service", opts.Service),
		perIP: map[netip.Addr]int{},
		conns: map[*conn]struct{}{},
		marks: map[string]markInfo{},
	}
	if opts.TLS != nil {
		s.ticket = opts.TLS.Clone()
	}
	return s, nil
}

// Serve accepts control connections on ln until ctx ends, then closes the
// listener and every session and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var err error
	for {
		var nc net.Conn
		nc, err = ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				err = nil
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handle(ctx, nc)
		}()
	}
	cancel()
	s.mu.Lock()
	for c := range s.conns {
		c.closeAll()
	}
	s.mu.Unlock()
	wg.Wait()
	return err
}

// admit counts a new control connection; it returns the 421 text when a
// limit refuses it.
func (s *Server) admit(c *conn) (ok bool, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ip := c.remote.Addr()
	if s.opts.MaxConns > 0 && s.total >= s.opts.MaxConns {
		return false, fmt.Sprintf("Too many connections (%d), try again later.", s.opts.MaxConns)
	}
	if s.opts.MaxConnsPerIP > 0 && s.perIP[ip] >= s.opts.MaxConnsPerIP {
		return false, fmt.Sprintf("Too many connections from your address (%d), try again later.", s.opts.MaxConnsPerIP)
	}
	s.total++
	s.perIP[ip]++
	s.conns[c] = struct{}{}
	return true, ""
}

func (s *Server) release(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	delete(s.marks, string(c.ticket))
	s.total--
	ip := c.remote.Addr()
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
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
