// Package app is the composition root: the only package that knows the
// concrete store, storage backend, event sinks and front ends, and wires
// them together with the start and stop order. Config types stop here.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/config"
	"github.com/ferrymft/ferry/internal/control"
	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/events"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/servicemgr"
	"github.com/ferrymft/ferry/internal/storage/local"
	"github.com/ferrymft/ferry/internal/store"
)

// Version is the build's version, set by the linker (-X) for releases.
var Version = "0.1.0-dev"

// App is a configured Ferry: store, engine, bus and service manager.
type App struct {
	cfg     *config.Config
	log     *slog.Logger
	store   *store.Store
	bus     *events.Bus
	eng     *core.Engine
	mgr     *servicemgr.Manager
	certs   *Certs
	def     *auth.Defender // nil when disabled
	started time.Time
	ev      *eventSinks
}

// Open opens the store (creating and initialising the data directory when
// it is missing, as `ferry init` with defaults would) and builds the engine.
// init reports what a first run created, nil when nothing was.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (a *App, init *InitResult, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	init, err = Init(ctx, cfg, InitOptions{DefaultServices: true, OnlyIfNew: true})
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, store.Options{DSN: cfg.Store.DSN, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	a = &App{cfg: cfg, log: log, store: st, certs: NewCerts(), started: time.Now()}
	a.bus = events.New(events.Options{Logger: log})
	a.ev = a.newEvents(st)
	opts := core.Options{
		Users:      st,
		Storage:    local.NewOpener(local.OpenerOptions{}),
		Events:     a.bus,
		Logger:     log,
		CreateHome: *cfg.Users.CreateHome,
		CacheSize:  cfg.Users.PasswordCacheSize,
		CacheTTL:   cfg.Users.PasswordCacheTTL.D(),
		Usage:      usageStore{st},
		Sums:       st,
		Gate:       a.ev.hooks,
		Tokens:     st,
	}
	opts.UploadChecksum = cfg.Uploads.Checksum
	if err := a.applyPolicyConfig(&opts); err != nil {
		st.Close()
		return nil, nil, err
	}
	a.eng, err = core.New(opts)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	a.mgr, err = servicemgr.New(servicemgr.Options{
		Source:        serviceSource{st},
		Factories:     a.factories(),
		Events:        a.bus,
		Logger:        log,
		Sessions:      a.eng.CountService,
		Kick:          a.kickService,
		Grace:         cfg.Services.StopGrace.D(),
		Busy:          a.eng.ActiveTransfers,
		ShutdownGrace: cfg.Services.ShutdownGrace.D(),
	})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return a, init, nil
}

// Close releases the store and the bus, once the upload digests still
// queued are written.
func (a *App) Close() error {
	a.bus.Close()
	a.eng.FlushSums()
	return a.store.Close()
}

// Store returns the store for the CLI's account and service commands.
func (a *App) Store() *store.Store { return a.store }

// Engine returns the core engine.
func (a *App) Engine() *core.Engine { return a.eng }

// Config returns the effective configuration.
func (a *App) Config() *config.Config { return a.cfg }

// ControlSocket is the control socket's path.
func (a *App) ControlSocket() string { return ControlSocket(a.cfg) }

// ControlSocket is the control socket's path for cfg.
func ControlSocket(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "ferry.sock") }

// factories maps each service kind to its front end. A kind without a
// front end in this build fails with a clear status.
func (a *App) factories() map[ferry.ServiceKind]servicemgr.Factory {
	m := map[ferry.ServiceKind]servicemgr.Factory{}
	m[ferry.ServiceSFTP] = a.sftpFactory
	m[ferry.ServiceFTP] = a.ftpFactory
	m[ferry.ServiceHTTP] = a.httpFactory
	m[ferry.ServiceFTPProxy] = a.ftpProxyFactory
	m[ferry.ServiceAdmin] = a.adminFactory()
	return m
}

// kickService disconnects the sessions of a stopped service once its
// grace period is over.
func (a *App) kickService(name string) int {
	n := 0
	for _, s := range a.eng.Sessions() {
		if s.Service == name && a.eng.Kick(s.ID) {
			n++
		}
	}
	return n
}

type serviceSource struct{ st *store.Store }

func (s serviceSource) ListServices(ctx context.Context) ([]*ferry.Service, error) {
	return s.st.ListServices(ctx, ferry.ListOptions{})
}

// Serve runs every enabled service and the control socket until ctx ends
// (SIGTERM/SIGINT in the CLI), then stops services and disconnects
// sessions. ready, when not nil, receives the service status once the first
// reconcile is done.
func (a *App) Serve(ctx context.Context, ready func([]servicemgr.Status)) error {
	ln, err := control.Listen(a.ControlSocket())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer a.startEvents(ctx)()
	defer a.startTransfers(ctx)()
	ctlDone := make(chan struct{})
	go func() {
		defer close(ctlDone)
		if err := control.Serve(ctx, ln, controlHandler{a}, a.log); err != nil {
			a.log.Error("control socket stopped", "err", err)
		}
	}()
	if err := a.mgr.Reconcile(ctx); err != nil {
		return err
	}
	if ready != nil {
		sts, err := a.mgr.Status(ctx)
		if err != nil {
			return err
		}
		ready(sts)
	}
	a.mgr.Run(ctx, a.cfg.Services.PollInterval.D(), a.watchChanges())
	a.eng.Shutdown()
	<-ctlDone
	_ = os.Remove(a.ControlSocket())
	return nil
}

// Reload re-reads certificates and re-applies the store's services.
func (a *App) Reload(ctx context.Context) error {
	err := a.certs.Reload()
	return errors.Join(err, a.mgr.Reconcile(ctx))
}

// Status describes the running server for the control socket and API.
func (a *App) Status(ctx context.Context) control.Status {
	st := control.Status{Version: Version, Started: a.started, Store: a.store.Kind()}
	sts, err := a.mgr.Status(ctx)
	if err != nil {
		a.log.Warn("service status", "err", err)
	}
	for _, s := range sts {
		st.Services = append(st.Services, control.ServiceStatus{
			Name: s.Service.Name, Protocol: string(s.Service.Kind), Listen: s.Service.Listen,
			Address: s.Address, State: string(s.State), Error: s.Error, Sessions: s.Sessions,
		})
	}
	return st
}

type controlHandler struct{ a *App }

func (h controlHandler) Sessions() []core.SessionInfo { return h.a.eng.Sessions() }
func (h controlHandler) Kick(id string) bool          { return h.a.eng.Kick(id) }
func (h controlHandler) KickUser(name string) int     { return h.a.eng.KickUser(name) }
func (h controlHandler) Reload() error                { return h.a.Reload(context.Background()) }
func (h controlHandler) Status() control.Status       { return h.a.Status(context.Background()) }

// NewLogger builds the process logger from the log settings.
func NewLogger(c config.Log, stderr io.Writer) (*slog.Logger, io.Closer, error) {
	var w io.Writer = stderr
	var closer io.Closer = io.NopCloser(nil)
	if c.File != "" {
		f, err := os.OpenFile(c.File, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("log.file: %w", err)
		}
		w, closer = f, f
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, nil, fmt.Errorf("log.level %q: %w", c.Level, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), closer, nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), closer, nil
}

// listenAddr is how serve prints an address a client can use.
func listenAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// HowToConnect is a one-line hint for an operator, printed by serve.
func HowToConnect(svc ferry.Service, addr string) string {
	hp := listenAddr(addr)
	switch svc.Kind {
	case ferry.ServiceFTP:
		return "lftp -u USER ftp://" + hp
	case ferry.ServiceSFTP:
		host, port, _ := net.SplitHostPort(hp)
		return "sftp -P " + port + " USER@" + host
	case ferry.ServiceHTTP:
		if svc.Options["tls"] == "on" {
			return "https://" + hp + "/"
		}
		return "http://" + hp + "/"
	case ferry.ServiceAdmin:
		scheme := "http://"
		if svc.Options["tls"] == "on" {
			scheme = "https://"
		}
		return scheme + hp + "/admin/ (web admin), " + scheme + hp + "/api/v1/ (API)"
	}
	return hp
}
