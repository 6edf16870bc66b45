// Package core is the only place where policy lives: login, path resolution,
// permissions, atomic uploads, transfer accounting, events and the registry of
// live sessions. Front ends turn wire requests into calls on Engine and
// Session and map the returned errors to their protocol; they never decide
// anything themselves. core imports no protocol library and no net/http.
package core

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/storage"
)

// UserSource looks up accounts. The store satisfies it; tests use a map.
type UserSource interface {
	GetUser(ctx context.Context, name string) (*ferry.User, error)
	GetGroup(ctx context.Context, name string) (*ferry.Group, error)
}

// Publisher receives every event. It must not block: the bus queues.
type Publisher interface {
	Publish(ev ferry.Event)
}

// Gate is consulted before operations a pre-hook may refuse: upload,
// download and delete. ev carries the session's user, protocol, remote
// address and the virtual path. A non-nil error refuses the operation; its
// text reaches the client.
type Gate interface {
	Allow(ctx context.Context, ev ferry.Event) error
}

// Options configure an Engine.
type Options struct {
	Users   UserSource     // required
	Storage storage.Opener // required: opens a user's home
	Events  Publisher      // optional
	Gate    Gate           // optional: synchronous pre-hooks
	Logger  *slog.Logger   // optional
	// CreateHome creates a missing home directory at login (default true
	// through app; false here means a missing home fails the login).
	CreateHome bool
	// CacheSize bounds the cache of recently verified passwords (default
	// 1024 entries; negative disables it). CacheTTL is how long an entry
	// stays valid (default 10 minutes).
	CacheSize int
	CacheTTL  time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// UploadChecksum is "auto" (or "", the default: uploads are hashed as
	// they stream in and the digest goes into the upload event, except a
	// plain socket-to-file upload, which keeps splice), "sha256" (always)
	// or "none".
	UploadChecksum string

	// Defender scores failed logins and refuses banned addresses.
	Defender Defender
	// Usage keeps quota usage; without it quotas are not enforced.
	Usage UsageStore
	// Sums keeps upload digests across restarts; without it they are
	// remembered in memory only.
	Sums SumStore
	// AllowCIDRs (when not empty) and DenyCIDRs restrict every account's
	// source addresses.
	AllowCIDRs, DenyCIDRs []netip.Prefix
	// MaxSessions and MaxSessionsPerIP limit live sessions server-wide
	// (0: unlimited).
	MaxSessions, MaxSessionsPerIP int
	// MinFreePercent refuses uploads when the storage holding the target
	// has less free space than this (0: off).
	MinFreePercent int
	// FailureDelay is waited before a failed login returns, so guessing is
	// slow and every failure looks alike.
	FailureDelay time.Duration
	// HomeDirs are created inside every home at login (e.g. in, out).
	HomeDirs []string
	// BandwidthUp and BandwidthDown cap the whole server in bytes/s.
	BandwidthUp, BandwidthDown int64
	// LoginsPerMinute limits login attempts per source address.
	LoginsPerMinute int
	// Tokens resolves user API tokens (LoginRequest.Token) and keeps them
	// for Session.CreateToken; without it token logins fail.
	Tokens TokenSource
	// PasswordPolicy applies to Session.ChangePassword.
	PasswordPolicy auth.PasswordPolicy
}

// Engine authenticates users and opens sessions.
type Engine struct {
	users   UserSource
	storage storage.Opener
	events  Publisher
	gate    Gate
	log     *slog.Logger
	now     func() time.Time
	create  bool
	cache   *credCache
	reg     *registry
	opts    Options

	usersMu    sync.Mutex
	userStates map[string]*userState
	sums       sumCache      // SHA-256 of uploads, for Hash
	sumw       sumWriter     // writes them to opts.Sums
	up, down   *rate.Limiter // server-wide

	loginMu    sync.Mutex
	loginRates map[netip.Addr]*rate.Limiter

	folderMu    sync.Mutex
	folderUsage map[string]*usageCount // by folder name
}

// New returns an Engine.
func New(opts Options) (*Engine, error) {
	if opts.Users == nil {
		return nil, errors.New("core: Options.Users is required")
	}
	if opts.Storage == nil {
		return nil, errors.New("core: Options.Storage is required")
	}
	size := cmp.Or(opts.CacheSize, 1024)
	e := &Engine{
		users:   opts.Users,
		storage: opts.Storage,
		events:  opts.Events,
		gate:    opts.Gate,
		log:     cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		now:     opts.Now,
		create:  opts.CreateHome,
		reg:     newRegistry(),
		opts:    opts,

		userStates: make(map[string]*userState),
		up:         newLimiter(opts.BandwidthUp),
		down:       newLimiter(opts.BandwidthDown),
		loginRates: make(map[netip.Addr]*rate.Limiter),

		folderUsage: make(map[string]*usageCount),
	}
	if e.now == nil {
		e.now = time.Now
	}
	if size > 0 {
		e.cache = newCredCache(size, cmp.Or(opts.CacheTTL, 10*time.Minute))
	}
	return e, nil
}

// LoginRequest is what a front end knows about a client that wants in.
type LoginRequest struct {
	Protocol ferry.Protocol
	User     string
	// Password, or PublicKey (the key in SSH wire format, as presented and
	// already proven by a signature), authenticates the user.
	Password  string
	PublicKey []byte
	// ClientCertCN is the common name of a TLS client certificate the
	// front end verified against its CAs: it authenticates User (method
	// ferry.MethodTLSCert) when it equals User. It stands alone: to check
	// a password as well, authenticate again with Prior.
	ClientCertCN string
	// ClientCertPin is that certificate's ferry.CertPin (SHA-256 of its
	// DER): a user with TLSCertPins accepts only a pinned certificate.
	ClientCertPin string
	Remote        netip.AddrPort
	Local         netip.AddrPort
	TLS           bool
	Service       string // the service definition's name
	// Token is a user API token's secret (method ferry.MethodToken): it
	// names its user, so User may be empty; when set it must match. It
	// stands alone, like ClientCertCN.
	Token string
	// Disconnect is called when the session is kicked or the engine shuts
	// down; the front end closes the connection.
	Disconnect func()
	// Probe marks a question rather than an attempt: an SSH client asking
	// which of its keys would be accepted. A refusal is neither scored by
	// the defender nor delayed nor published.
	Probe bool
	// Prior is the grant of an earlier step of the same login, for accounts
	// that require several methods (SSH "publickey,password"): the new
	// grant holds both methods. The user must be the same and the method a
	// new one.
	Prior *Grant
}

// Grant is a successful authentication, before a session is opened. SSH
// authenticates during the handshake and opens the session afterwards.
type Grant struct {
	user   *ferry.User
	view   *view
	method string   // every method passed, joined with "+"
	done   []string // the methods passed, in order
}

// User returns the authenticated account.
func (g *Grant) User() *ferry.User { return g.user }

// Remaining lists the login methods (ferry.MethodPassword,
// ferry.MethodPublicKey, ferry.MethodTLSCert) the account still requires
// before Open accepts the grant; empty when the login is complete. An
// account with login_requires_all needs every method of its login_methods.
func (g *Grant) Remaining() []string {
	if !ferry.Bool(g.view.pol.RequireAllMethods) {
		return nil
	}
	var out []string
	for _, m := range g.view.pol.LoginMethods {
		if !slices.Contains(g.done, m) && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// Login authenticates and opens a session in one step.
func (e *Engine) Login(ctx context.Context, req LoginRequest) (*Session, error) {
	g, err := e.Authenticate(ctx, req)
	if err != nil {
		return nil, err
	}
	return e.Open(ctx, g, req)
}

// Authenticate checks the credentials in req. Every failure — unknown user,
// wrong password or key, disabled or expired account — returns an error
// wrapping ferry.ErrAuth; the reason is logged and published, never returned.
func (e *Engine) Authenticate(ctx context.Context, req LoginRequest) (*Grant, error) {
	g, reason, err := e.authenticate(ctx, req)
	if err != nil && req.Probe {
		e.log.Debug("public key not accepted", ferry.LogUser, req.User, ferry.LogRemote, req.Remote.String(), "reason", reason)
		return nil, err
	}
	if err != nil {
		if e.opts.Defender != nil {
			score := 1
			if reason == "unknown user" {
				score = 2
			}
			e.opts.Defender.Record(ctx, req.Remote.Addr(), score, "login failed: "+reason)
		}
		if e.opts.FailureDelay > 0 {
			select {
			case <-time.After(e.opts.FailureDelay):
			case <-ctx.Done():
			}
		}
		e.log.Info("login failed", ferry.LogUser, req.User, ferry.LogProto, string(req.Protocol),
			ferry.LogRemote, req.Remote.String(), "reason", reason)
		e.publish(ferry.Event{Type: ferry.EventLoginFailed, User: req.User, Protocol: req.Protocol,
			Remote: req.Remote.String(), Service: req.Service, Status: reason})
		return nil, err
	}
	return g, nil
}

func (e *Engine) authenticate(ctx context.Context, req LoginRequest) (*Grant, string, error) {
	fail := fmt.Errorf("core: user %q: %w", req.User, ferry.ErrAuth)
	if req.Prior != nil && req.Prior.user.Name != req.User {
		return nil, "user changed between login steps", fail
	}
	if !req.Probe && !e.loginAllowed(req.Remote.Addr().Unmap()) {
		return nil, "login rate exceeded for this address", fail
	}
	var tok *ferry.UserToken
	if req.Token != "" {
		if req.Password != "" || len(req.PublicKey) > 0 || req.ClientCertCN != "" {
			return nil, "token combined with other credentials in one step", fail
		}
		var reason string
		if tok, reason = e.lookupToken(ctx, req.Token); tok == nil {
			return nil, reason, fail
		}
		if req.User != "" && req.User != tok.User {
			return nil, fmt.Sprintf("token %q is for user %q", tok.Name, tok.User), fail
		}
		req.User = tok.User
		fail = fmt.Errorf("core: user %q: %w", req.User, ferry.ErrAuth)
	}
	u, err := e.users.GetUser(ctx, req.User)
	if req.ClientCertCN != "" && (req.Password != "" || len(req.PublicKey) > 0) {
		return nil, "client certificate combined with other credentials in one step", fail
	}
	if err == nil && req.Password == "" && len(req.PublicKey) == 0 && req.ClientCertCN == "" && tok == nil && !ferry.Bool(u.Policy.Anonymous) {
		return nil, "no credentials", fail
	}
	if err != nil {
		if req.Password != "" {
			auth.DummyVerify(req.Password) // same cost as a real check
		}
		if errors.Is(err, ferry.ErrNotFound) || errors.Is(err, ferry.ErrInvalid) {
			return nil, "unknown user", fail
		}
		return nil, "user lookup: " + err.Error(), fail
	}
	method := "password"
	if tok != nil {
		method = ferry.MethodToken
	} else if req.ClientCertCN != "" {
		method = ferry.MethodTLSCert
		if req.ClientCertCN != u.Name {
			return nil, fmt.Sprintf("client certificate is for %q", req.ClientCertCN), fail
		}
		if len(u.TLSCertPins) > 0 && !slices.Contains(u.TLSCertPins, req.ClientCertPin) {
			return nil, "client certificate " + req.ClientCertPin + " is not pinned", fail
		}
	} else if len(req.PublicKey) > 0 {
		method = "publickey"
		if !auth.MatchKey(u.PublicKeys, req.PublicKey) {
			return nil, "public key not authorized", fail
		}
	} else if ferry.Bool(u.Policy.Anonymous) {
		method = "anonymous" // any password; rights come from the account's rules
	} else if !e.verifyPassword(u, req.Password) {
		return nil, "wrong password", fail
	}
	switch {
	case u.Status == ferry.StatusDisabled:
		return nil, "account disabled", fail
	case u.Expired(e.now()):
		return nil, "account expired", fail
	}
	v, err := e.buildView(ctx, u)
	if err != nil {
		return nil, err.Error(), fail
	}
	if err := e.restrict(v, req, method); err != nil {
		return nil, err.Error(), fail
	}
	if tok != nil {
		e.touchToken(ctx, tok)
	}
	g := &Grant{user: v.user, view: v, method: method, done: []string{method}} // v.user: home resolved
	if req.Prior != nil {
		if slices.Contains(req.Prior.done, method) {
			return nil, "login method " + method + " already passed", fail
		}
		g.done = append(slices.Clone(req.Prior.done), method)
		g.method = req.Prior.method + "+" + method
	}
	return g, "", nil
}

func (e *Engine) verifyPassword(u *ferry.User, pw string) bool {
	if u.PasswordHash == "" {
		auth.DummyVerify(pw)
		return false
	}
	if e.cache != nil && e.cache.ok(u.Name, pw, u.PasswordHash, e.now()) {
		return true
	}
	ok, err := auth.VerifyPassword(u.PasswordHash, pw)
	if err != nil {
		e.log.Warn("stored password hash unusable", ferry.LogUser, u.Name, "err", err)
		return false
	}
	if ok && e.cache != nil {
		e.cache.add(u.Name, pw, u.PasswordHash, e.now())
	}
	return ok
}

// Open starts a session for a granted login: it opens the user's storage,
// registers the session and publishes the login event.
func (e *Engine) Open(ctx context.Context, g *Grant, req LoginRequest) (*Session, error) {
	if rest := g.Remaining(); len(rest) > 0 {
		reason := "account also requires login method " + strings.Join(rest, ", ")
		e.log.Info("login failed", ferry.LogUser, g.user.Name, ferry.LogProto, string(req.Protocol),
			ferry.LogRemote, req.Remote.String(), "reason", reason)
		e.publish(ferry.Event{Type: ferry.EventLoginFailed, User: g.user.Name, Protocol: req.Protocol,
			Remote: req.Remote.String(), Service: req.Service, Status: reason})
		return nil, fmt.Errorf("core: user %q: %w", g.user.Name, ferry.ErrAuth)
	}
	if err := e.checkLimits(g, req); err != nil {
		e.log.Info("login refused", ferry.LogUser, g.user.Name, ferry.LogRemote, req.Remote.String(), "reason", err)
		e.publish(ferry.Event{Type: ferry.EventLoginFailed, User: g.user.Name, Protocol: req.Protocol,
			Remote: req.Remote.String(), Service: req.Service, Status: err.Error()})
		return nil, err
	}
	fsys, folders, err := e.openTree(ctx, g.view)
	if err != nil {
		e.log.Error("cannot open home", ferry.LogUser, g.user.Name, "home", g.user.Home, "err", err)
		return nil, fmt.Errorf("core: user %q: home unavailable: %w", g.user.Name, ferry.ErrAuth)
	}
	s := e.newSession(ctx, g, req, fsys)
	s.folders = folders
	s.log.Info("login", "method", g.method)
	s.publish(ferry.Event{Type: ferry.EventLogin, Status: "ok", Detail: g.method})
	return s, nil
}

// checkLimits refuses a session over the user's, the address's or the
// server's session limit. Unlike credentials, these are told to the client.
func (e *Engine) checkLimits(g *Grant, req LoginRequest) error {
	max := 0
	if g.view.pol.MaxSessions != nil {
		max = *g.view.pol.MaxSessions
	}
	addr := req.Remote.Addr().Unmap()
	var user, ip, total int
	for _, s := range e.reg.snapshot(nil) {
		total++
		if s.user.Name == g.user.Name {
			user++
		}
		if s.addr == addr && addr.IsValid() {
			ip++
		}
	}
	switch {
	case max > 0 && user >= max:
		return fmt.Errorf("core: user %q already has %d sessions (limit %d): %w", g.user.Name, user, max, ferry.ErrLimit)
	case e.opts.MaxSessionsPerIP > 0 && ip >= e.opts.MaxSessionsPerIP:
		return fmt.Errorf("core: %s already has %d sessions (limit %d): %w", addr, ip, e.opts.MaxSessionsPerIP, ferry.ErrLimit)
	case e.opts.MaxSessions > 0 && total >= e.opts.MaxSessions:
		return fmt.Errorf("core: the server has %d sessions (limit %d): %w", total, e.opts.MaxSessions, ferry.ErrLimit)
	}
	return nil
}

// Sessions lists the live sessions.
func (e *Engine) Sessions() []SessionInfo { return e.reg.list() }

// Kick disconnects one session by id; it reports whether it existed.
func (e *Engine) Kick(id string) bool { return e.reg.kick(id) }

// KickUser disconnects every session of a user and returns how many.
func (e *Engine) KickUser(name string) int { return e.reg.kickUser(name) }

// CountService returns how many live sessions a service holds.
func (e *Engine) CountService(service string) int { return e.reg.countService(service) }

// ActiveTransfers returns how many live sessions are moving a file now.
func (e *Engine) ActiveTransfers() int {
	return len(e.reg.snapshot(func(s *Session) bool { return s.xfer.Load() != nil }))
}

// Shutdown disconnects every session.
func (e *Engine) Shutdown() { e.reg.kickAll() }

func (e *Engine) publish(ev ferry.Event) {
	if e.events == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = e.now()
	}
	e.events.Publish(ev)
}
