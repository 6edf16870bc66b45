// Package adminapi is Ferry's administration service: the REST API under
// /api/v1/ (documented by the OpenAPI file served at /api/v1/openapi.json)
// and the web admin under /admin/. It changes accounts, services and bans
// through the store interfaces it declares here, sees live sessions only
// through core's registry, and publishes an admin_change event for every
// change. Services added or changed here reach the running server through
// the store: the service manager applies them within its poll interval.
//
// It imports the domain (ferry), auth and core, never a front end, the
// concrete store, config or app; app passes adapters.
package adminapi

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
)

// Accounts stores users, groups and administrators.
type Accounts interface {
	GetUser(ctx context.Context, name string) (*ferry.User, error)
	ListUsers(ctx context.Context, o ferry.ListOptions) ([]*ferry.User, error)
	CreateUser(ctx context.Context, u *ferry.User) error
	UpdateUser(ctx context.Context, u *ferry.User) error
	DeleteUser(ctx context.Context, name string) error

	GetGroup(ctx context.Context, name string) (*ferry.Group, error)
	ListGroups(ctx context.Context, o ferry.ListOptions) ([]*ferry.Group, error)
	CreateGroup(ctx context.Context, g *ferry.Group) error
	UpdateGroup(ctx context.Context, g *ferry.Group) error
	DeleteGroup(ctx context.Context, name string) error

	GetAdmin(ctx context.Context, name string) (*ferry.Admin, error)
	ListAdmins(ctx context.Context, o ferry.ListOptions) ([]*ferry.Admin, error)
	CreateAdmin(ctx context.Context, a *ferry.Admin) error
	UpdateAdmin(ctx context.Context, a *ferry.Admin) error
	DeleteAdmin(ctx context.Context, name string) error

	GetFolder(ctx context.Context, name string) (*ferry.Folder, error)
	ListFolders(ctx context.Context, o ferry.ListOptions) ([]*ferry.Folder, error)
	CreateFolder(ctx context.Context, f *ferry.Folder) error
	UpdateFolder(ctx context.Context, f *ferry.Folder) error
	DeleteFolder(ctx context.Context, name string) error
}

// ServiceStatus is a service's live state as the service manager sees it.
type ServiceStatus struct {
	Name     string `json:"name"`
	State    string `json:"state"`             // running, failed, disabled, stopped
	Address  string `json:"address,omitempty"` // bound address when running
	Error    string `json:"error,omitempty"`
	Sessions int    `json:"sessions"`
}

// Services stores service definitions and reports their live state.
type Services interface {
	GetService(ctx context.Context, name string) (*ferry.Service, error)
	ListServices(ctx context.Context, o ferry.ListOptions) ([]*ferry.Service, error)
	CreateService(ctx context.Context, s *ferry.Service) error
	UpdateService(ctx context.Context, s *ferry.Service) error
	DeleteService(ctx context.Context, name string) error
	// ServiceStatus reports every defined service's live state.
	ServiceStatus(ctx context.Context) ([]ServiceStatus, error)
	// CheckService validates a definition's protocol options (the factory
	// of its kind), so a bad option is refused before it is stored.
	CheckService(s ferry.Service) error
}

// Bans stores banned networks.
type Bans interface {
	AddBan(ctx context.Context, b *ferry.Ban) error
	ListBans(ctx context.Context, now time.Time) ([]ferry.Ban, error)
	DeleteBan(ctx context.Context, network string) error
}

// Live is the registry of live sessions (core.Engine).
type Live interface {
	Sessions() []core.SessionInfo
	Kick(id string) bool
	KickUser(name string) int
}

// Defender scores failed sign-ins per address (core.Engine).
type Defender interface {
	Admit(remote netip.Addr) error
	Report(ctx context.Context, remote netip.Addr, why string)
}

// Publisher receives admin_change events.
type Publisher interface {
	Publish(ev ferry.Event)
}

// Options configure a Server.
type Options struct {
	Accounts Accounts
	Services Services
	Bans     Bans
	Tokens   Tokens
	Live     Live
	// Rules and Outbox serve /api/v1/rules and /api/v1/outbox (optional:
	// without them those answer 404).
	Rules  Rules
	Outbox Outbox
	// Locations and Transfers serve /api/v1/locations and
	// /api/v1/transfers (optional: without them those answer 404).
	Locations Locations
	Transfers Transfers
	// Metrics, when set, is served at GET /metrics (outside /api/v1):
	// to a bearer token of any admin, or to anyone with MetricsPublic.
	Metrics       http.Handler
	MetricsPublic bool
	// Events keeps recent events for GET /api/v1/events (optional).
	Events *EventLog
	// Publisher receives an admin_change event per change (optional).
	Publisher Publisher
	// Defender, when set, refuses sign-ins from banned addresses and
	// counts failed ones.
	Defender Defender
	Logger   *slog.Logger
	// HomeRoot is where a new user's home goes when none is given
	// (HomeRoot/NAME).
	HomeRoot string
	// HomeFor, when set, gives a new user's home from the home template
	// (user name, first group); it wins over HomeRoot.
	HomeFor func(user, group string) string
	// PasswordPolicy applies to every password set through the API.
	PasswordPolicy auth.PasswordPolicy
	// TokenTTL is how long a token from POST /api/v1/auth/token or a web
	// sign-in lasts (default 1h).
	TokenTTL time.Duration
	// TLS, when set, makes Serve speak HTTPS.
	TLS *tls.Config
	// Status fields.
	Version, Node, StoreKind string
	Started                  time.Time
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
}

// Server serves the admin API and the web admin.
type Server struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	web  *webAdmin
	// routeList is every API route, for the OpenAPI check.
	routeList []route
}

type nopPublisher struct{}

func (nopPublisher) Publish(ferry.Event) {}

// New checks opts and builds the routes.
func New(opts Options) (*Server, error) {
	if opts.Accounts == nil || opts.Services == nil || opts.Bans == nil || opts.Tokens == nil || opts.Live == nil {
		return nil, errors.New("adminapi: Options.Accounts, Services, Bans, Tokens and Live are required")
	}
	opts.TokenTTL = cmp.Or(opts.TokenTTL, time.Hour)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Publisher == nil {
		opts.Publisher = nopPublisher{}
	}
	if opts.Events == nil {
		opts.Events = NewEventLog(0)
	}
	if opts.Rules == nil {
		opts.Rules = noEvents{}
	}
	if opts.Outbox == nil {
		opts.Outbox = noEvents{}
	}
	if opts.Locations == nil {
		opts.Locations = noTransfers{}
	}
	if opts.Transfers == nil {
		opts.Transfers = noTransfers{}
	}
	if opts.Started.IsZero() {
		opts.Started = opts.Now()
	}
	s := &Server{opts: opts, log: cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)), mux: http.NewServeMux()}
	s.routes()
	var err error
	if s.web, err = newWebAdmin(s); err != nil {
		return nil, err
	}
	s.mux.Handle("/admin/", s.web)
	if opts.Metrics != nil {
		s.mux.HandleFunc("GET /metrics", s.serveMetrics)
	}
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/", http.StatusFound)
	})
	return s, nil
}

// ServeHTTP serves the API and the web admin.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

// Serve serves on ln until ctx ends, then shuts down, letting requests in
// flight finish for a few seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if s.opts.TLS != nil {
		srv.TLSConfig = s.opts.TLS.Clone()
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}
