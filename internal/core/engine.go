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
	"time"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/perm"
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
	Remote    netip.AddrPort
	Local     netip.AddrPort
	TLS       bool
	Service   string // the service definition's name
	// Disconnect is called when the session is kicked or the engine shuts
	// down; the front end closes the connection.
	Disconnect func()
}

// Grant is a successful authentication, before a session is opened. SSH
// authenticates during the handshake and opens the session afterwards.
type Grant struct {
	user   *ferry.User
	rules  perm.Rules
	method string
}

// User returns the authenticated account.
func (g *Grant) User() *ferry.User { return g.user }

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
	if err != nil {
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
	if req.Password == "" && len(req.PublicKey) == 0 {
		return nil, "no credentials", fail
	}
	u, err := e.users.GetUser(ctx, req.User)
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
	if len(req.PublicKey) > 0 {
		method = "publickey"
		if !auth.MatchKey(u.PublicKeys, req.PublicKey) {
			return nil, "public key not authorized", fail
		}
	} else if !e.verifyPassword(u, req.Password) {
		return nil, "wrong password", fail
	}
	switch {
	case u.Status == ferry.StatusDisabled:
		return nil, "account disabled", fail
	case u.Expired(e.now()):
		return nil, "account expired", fail
	}
	rules, err := e.rulesFor(ctx, u)
	if err != nil {
		return nil, err.Error(), fail
	}
	return &Grant{user: u, rules: rules, method: method}, "", nil
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

// rulesFor merges the user's permission rules with its groups'.
func (e *Engine) rulesFor(ctx context.Context, u *ferry.User) (perm.Rules, error) {
	groups := make([][]ferry.PathPerm, 0, len(u.Groups))
	for _, name := range u.Groups {
		g, err := e.users.GetGroup(ctx, name)
		if errors.Is(err, ferry.ErrNotFound) {
			continue // a deleted group grants nothing
		}
		if err != nil {
			return nil, fmt.Errorf("group %q: %w", name, err)
		}
		groups = append(groups, g.Perms)
	}
	return perm.Effective(u.Perms, groups...), nil
}

// Open starts a session for a granted login: it opens the user's storage,
// registers the session and publishes the login event.
func (e *Engine) Open(ctx context.Context, g *Grant, req LoginRequest) (*Session, error) {
	fsys, err := e.storage.OpenFS(ctx, g.user.Home, e.create)
	if err != nil {
		e.log.Error("cannot open home", ferry.LogUser, g.user.Name, "home", g.user.Home, "err", err)
		return nil, fmt.Errorf("core: user %q: home unavailable: %w", g.user.Name, ferry.ErrAuth)
	}
	s := e.newSession(ctx, g, req, fsys)
	s.log.Info("login", "method", g.method)
	s.publish(ferry.Event{Type: ferry.EventLogin, Status: "ok", Detail: g.method})
	return s, nil
}

// Sessions lists the live sessions.
func (e *Engine) Sessions() []SessionInfo { return e.reg.list() }

// Kick disconnects one session by id; it reports whether it existed.
func (e *Engine) Kick(id string) bool { return e.reg.kick(id) }

// KickUser disconnects every session of a user and returns how many.
func (e *Engine) KickUser(name string) int { return e.reg.kickUser(name) }

// CountService returns how many live sessions a service holds.
func (e *Engine) CountService(service string) int { return e.reg.countService(service) }

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
