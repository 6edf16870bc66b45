// Package httpd is Ferry's HTTP front end: WebDAV (class 1 and 2) at /dav/,
// the file REST API at /api/v1/fs/ and the browser web client at /, three
// faces of the same accounts and storage. Every request goes through a
// core.Session; this package parses HTTP, calls core, maps errors to status
// codes and renders replies. Only internal/app imports it.
package httpd

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrymft/ferry/internal/core"
)

// Options configure a Server.
type Options struct {
	Engine  *core.Engine // required
	Logger  *slog.Logger
	Service string // the service definition's name, for sessions and events
	// TLS, when set, serves HTTPS with this configuration.
	TLS *tls.Config
	// DAV, API and Web turn each face on (app defaults all three on).
	DAV, API, Web bool
	// PropfindInfinity allows PROPFIND with Depth: infinity; by default it
	// is refused with 403 and the DAV:propfind-finite-depth precondition.
	PropfindInfinity bool
	// AuthCacheTTL is how long a session opened by HTTP Basic credentials
	// is reused by later requests with the same credentials from the same
	// address once idle (default 30s). Negative opens one session per
	// request.
	AuthCacheTTL time.Duration
	// WebIdle signs a browser out after this much inactivity (default 30m).
	WebIdle time.Duration
	// LockMaxTimeout caps WebDAV lock timeouts, "Infinite" included
	// (default 1h).
	LockMaxTimeout time.Duration
	// PropsDir, when set, persists WebDAV dead properties there (one JSON
	// file per home); when empty they live in memory only.
	PropsDir string
	// MaxXMLBody caps WebDAV XML request bodies (default 1 MiB).
	MaxXMLBody int64
	// Now is the clock (tests).
	Now func() time.Time
}

// Server serves one HTTP service.
type Server struct {
	opts  Options
	eng   *core.Engine
	log   *slog.Logger
	auth  *sessionCache
	web   *webSessions
	locks *lockStore
	props *propStore
	mux   *http.ServeMux
	h     http.Handler
	tmpl  *templates
}

// New returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Engine == nil {
		return nil, errors.New("httpd: Options.Engine is required")
	}
	if opts.AuthCacheTTL == 0 {
		opts.AuthCacheTTL = 30 * time.Second
	}
	opts.WebIdle = cmp.Or(opts.WebIdle, 30*time.Minute)
	opts.LockMaxTimeout = cmp.Or(opts.LockMaxTimeout, time.Hour)
	opts.MaxXMLBody = cmp.Or(opts.MaxXMLBody, 1<<20)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:  opts,
		eng:   opts.Engine,
		log:   cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		locks: newLockStore(opts.Now),
		props: newPropStore(opts.PropsDir),
	}
	s.auth = newSessionCache(opts.Engine, opts.AuthCacheTTL, opts.Now)
	s.web = newWebSessions(opts.Engine, opts.WebIdle, opts.Now)
	tmpl, err := loadTemplates()
	if err != nil {
		return nil, err
	}
	s.tmpl = tmpl
	s.mux = s.routes()
	// Browsers' cross-origin writes are refused everywhere (the web
	// client also checks its own token); non-browser clients send no
	// Origin or Sec-Fetch-Site and pass.
	s.h = securityHeaders(http.NewCrossOriginProtection().Handler(s.mux), opts.TLS != nil)
	return s, nil
}

// Handler returns the server's HTTP handler (tests and embedding).
func (s *Server) Handler() http.Handler { return s.h }

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	if s.opts.DAV {
		dav := s.basicAuth(s.serveDAV, "webdav")
		mux.Handle("/dav/", dav)
		mux.Handle("/dav", http.RedirectHandler("/dav/", http.StatusMovedPermanently))
	}
	if s.opts.API {
		s.apiRoutes(mux)
	}
	if s.opts.Web {
		s.webRoutes(mux)
	} else {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	}
	return mux
}

// Serve serves HTTP(S) on ln until ctx ends, then stops accepting, waits a
// little for running requests and closes every session it opened.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ct := &connTracker{s: s, m: make(map[net.Conn]*connInfo)}
	srv := &http.Server{
		Handler:           ct.handler(s.h),
		ReadHeaderTimeout: 20 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnContext:       ct.connContext,
		ConnState:         ct.connState,
	}
	ln = admitting{Listener: ln, s: s}
	if s.opts.TLS != nil {
		cfg := s.opts.TLS.Clone()
		cfg.NextProtos = []string{"h2", "http/1.1"}
		srv.TLSConfig = cfg
		ln = tls.NewListener(ln, cfg)
	}
	var wg sync.WaitGroup
	janitorCtx, stopJanitor := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.janitor(janitorCtx)
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = srv.Shutdown(shutCtx)
		cancel()
		srv.Close()
		<-errc
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	stopJanitor()
	wg.Wait()
	s.auth.closeAll()
	s.web.closeAll()
	return err
}

// janitor closes idle cached sessions and expired browser sessions.
func (s *Server) janitor(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.auth.sweep()
			s.web.sweep()
		}
	}
}

// securityHeaders sets the headers every reply carries: no framing, no
// sniffing, no referrer leaks, and a strict CSP (no inline scripts). The
// values are shared slices, set without an allocation per request (a
// later Add appends to a copy: their capacity is their length).
func securityHeaders(h http.Handler, tls bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd["X-Content-Type-Options"] = nosniff
		hd["X-Frame-Options"] = frameDeny
		hd["Referrer-Policy"] = sameOrigin
		hd["Content-Security-Policy"] = siteCSP
		if tls {
			hd["Strict-Transport-Security"] = hsts
		}
		h.ServeHTTP(w, r)
	})
}

var (
	nosniff    = []string{"nosniff"}
	frameDeny  = []string{"DENY"}
	sameOrigin = []string{"same-origin"}
	siteCSP    = []string{"default-src 'none'; script-src 'self'; style-src 'self'; " +
		"img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"}
	hsts = []string{"max-age=31536000"}
)

// admitting refuses connections from banned addresses before any byte is
// read (core.Engine.Admit).
type admitting struct {
	net.Listener
	s *Server
}

func (l admitting) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, perr := netip.ParseAddrPort(c.RemoteAddr().String())
		if perr != nil {
			return c, nil
		}
		if err := l.s.eng.Admit(ap.Addr()); err != nil {
			l.s.log.Info("connection refused", "remote", c.RemoteAddr().String(), "err", err)
			c.Close()
			continue
		}
		return c, nil
	}
}

// connTracker reports to the defender the connections that sent bytes but
// never a request net/http could parse (garbage, a TLS or SSH hello on the
// plain port, an oversized or unfinished header): net/http answers those
// itself (400, 431) and the handlers never see them. A connection that
// sends nothing (a browser's preconnect) is not reported.
type connTracker struct {
	s  *Server
	mu sync.Mutex
	m  map[net.Conn]*connInfo
}

type connInfo struct {
	active  atomic.Bool // bytes arrived
	handled atomic.Bool // a request reached the handler
}

type connInfoKey struct{}

func (t *connTracker) connContext(ctx context.Context, c net.Conn) context.Context {
	ci := &connInfo{}
	t.mu.Lock()
	t.m[c] = ci
	t.mu.Unlock()
	return context.WithValue(ctx, connInfoKey{}, ci)
}

func (t *connTracker) handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ci, ok := r.Context().Value(connInfoKey{}).(*connInfo); ok && !ci.handled.Load() {
			ci.handled.Store(true)
		}
		h.ServeHTTP(w, r)
	})
}

func (t *connTracker) connState(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateActive:
		t.mu.Lock()
		ci := t.m[c]
		t.mu.Unlock()
		if ci != nil {
			ci.active.Store(true)
		}
	case http.StateHijacked, http.StateClosed:
		t.mu.Lock()
		ci := t.m[c]
		delete(t.m, c)
		t.mu.Unlock()
		if ci == nil || !ci.active.Load() || ci.handled.Load() {
			return
		}
		if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
			t.s.log.Debug("connection closed without a readable request", "remote", ap.String())
			t.s.eng.Report(context.Background(), ap.Addr(), "protocol: no readable HTTP request")
		}
	}
}
