// Package servicemgr turns service definitions from the store into running
// listeners and keeps them in line with the store while the server runs:
// a service added, changed, disabled or removed is started, restarted or
// stopped within a poll interval, without touching the others. It knows no
// protocol: app registers one Factory per service kind.
package servicemgr

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Runner serves one service on a bound listener until ctx ends. Serve
// returns nil after ctx ends; an error before means the service failed.
type Runner interface {
	Serve(ctx context.Context, ln net.Listener) error
}

// Factory builds a Runner for a definition, validating its options. An
// error leaves the service in the failed state with that message.
type Factory func(svc ferry.Service) (Runner, error)

// Source lists the wanted services (the store).
type Source interface {
	ListServices(ctx context.Context) ([]*ferry.Service, error)
}

// Publisher receives service events.
type Publisher interface {
	Publish(ev ferry.Event)
}

// Options configure a Manager.
type Options struct {
	Source    Source
	Factories map[ferry.ServiceKind]Factory
	Events    Publisher
	Logger    *slog.Logger
	// Listen binds a service (default net.Listen("tcp", addr)).
	Listen func(ctx context.Context, addr string) (net.Listener, error)
	// Sessions counts a service's live sessions for Status and for the
	// grace period of a stopped service (optional).
	Sessions func(service string) int
	// Kick disconnects every live session of a service (optional); a
	// stopped or removed service's sessions are kicked when Grace ends.
	Kick func(service string) int
	// Grace is how long the sessions of a stopped, removed or restarted
	// service may run on after its listener closes (0: cut at once).
	Grace time.Duration
	// Busy counts the transfers in progress; at shutdown the manager
	// closes every listener and waits up to ShutdownGrace for Busy to
	// reach 0 before it cuts the sessions (both optional).
	Busy          func() int
	ShutdownGrace time.Duration
}

// Manager runs services.
type Manager struct {
	opts    Options
	log     *slog.Logger
	mu      sync.Mutex
	running map[string]*running
	failed  map[string]failure
	// draining holds stopped services whose sessions run on for Grace.
	draining map[*running]struct{}
}

type running struct {
	def    ferry.Service
	ln     *drainListener
	cancel context.CancelFunc
	done   chan struct{}
	err    error         // set before done closes when Serve failed
	cut    chan struct{} // closed to end a grace period at once
}

type failure struct {
	def ferry.Service
	err error
}

// State of a service as Status reports it.
type State string

// Service states.
const (
	StateRunning  State = "running"
	StateFailed   State = "failed"
	StateDisabled State = "disabled"
	StateStopped  State = "stopped"
)

// Status is one service's state.
type Status struct {
	Service  ferry.Service
	State    State
	Address  string // bound address when running
	Error    string
	Sessions int
}

// New returns a Manager running nothing yet.
func New(opts Options) (*Manager, error) {
	if opts.Source == nil {
		return nil, errors.New("servicemgr: Options.Source is required")
	}
	if opts.Listen == nil {
		opts.Listen = func(ctx context.Context, addr string) (net.Listener, error) {
			var lc net.ListenConfig
			return lc.Listen(ctx, "tcp", addr)
		}
	}
	return &Manager{
		opts:     opts,
		log:      cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		running:  make(map[string]*running),
		failed:   make(map[string]failure),
		draining: make(map[*running]struct{}),
	}, nil
}

// Reconcile starts, restarts and stops services to match the source.
func (m *Manager) Reconcile(ctx context.Context) error {
	defs, err := m.opts.Source.ListServices(ctx)
	if err != nil {
		return fmt.Errorf("servicemgr: list services: %w", err)
	}
	want := make(map[string]ferry.Service, len(defs))
	for _, d := range defs {
		if d.Enabled {
			want[d.Name] = *d
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reap()
	for name, r := range m.running {
		if d, ok := want[name]; !ok || d.Version != r.def.Version {
			m.stop(name, r, !ok, false)
		}
	}
	for name, f := range m.failed {
		if d, ok := want[name]; !ok || d.Version != f.def.Version {
			delete(m.failed, name)
		}
	}
	for _, name := range sortedKeys(want) {
		if _, ok := m.running[name]; ok {
			continue
		}
		if _, ok := m.failed[name]; ok {
			continue // retried when its definition changes
		}
		m.start(ctx, want[name])
	}
	return nil
}

// reap moves services whose Serve returned on its own to failed.
func (m *Manager) reap() {
	for name, r := range m.running {
		select {
		case <-r.done:
			delete(m.running, name)
			m.failed[name] = failure{def: r.def, err: cmp.Or(r.err, errors.New("stopped unexpectedly"))}
		default:
		}
	}
}

func (m *Manager) start(ctx context.Context, def ferry.Service) {
	log := m.log.With(ferry.LogService, def.Name, "protocol", string(def.Kind))
	fail := func(err error) {
		log.Error("service failed", "err", err)
		m.failed[def.Name] = failure{def: def, err: err}
		m.publish(ferry.Event{Type: ferry.EventServiceFailed, Service: def.Name, Status: err.Error()})
	}
	factory, ok := m.opts.Factories[def.Kind]
	if !ok {
		fail(fmt.Errorf("protocol %q is not available in this build", def.Kind))
		return
	}
	runner, err := factory(def)
	if err != nil {
		fail(err)
		return
	}
	inner, err := m.opts.Listen(ctx, def.Listen)
	if err != nil {
		fail(explainBind(def.Listen, err))
		return
	}
	ln := newDrainListener(inner)
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &running{def: def, ln: ln, cancel: cancel, done: make(chan struct{}), cut: make(chan struct{})}
	m.running[def.Name] = r
	go func() {
		defer close(r.done)
		err := runner.Serve(sctx, ln)
		ln.Close()
		if sctx.Err() == nil {
			r.err = cmp.Or(err, errors.New("stopped unexpectedly"))
			log.Error("service stopped unexpectedly", "err", r.err)
			m.publish(ferry.Event{Type: ferry.EventServiceFailed, Service: def.Name, Status: r.err.Error()})
		}
	}()
	log.Info("service started", "address", ln.Addr().String())
	m.publish(ferry.Event{Type: ferry.EventServiceStarted, Service: def.Name, Detail: ln.Addr().String(), Status: "ok"})
}

// stop closes a service's listener at once (its port is free for another
// service or its own restart) and leaves its sessions Grace to finish:
// when they have all ended or Grace runs out, the sessions left are kicked
// (unless the service runs again under the same name, a restart) and its
// Serve is cancelled. m.mu is held.
func (m *Manager) stop(name string, r *running, kick, now bool) {
	delete(m.running, name)
	r.ln.drain()
	m.draining[r] = struct{}{}
	grace := m.opts.Grace
	if now {
		r.cutOnce()
		grace = 0
	}
	m.log.Info("service stopped", ferry.LogService, name, "grace", grace)
	m.publish(ferry.Event{Type: ferry.EventServiceStopped, Service: name, Status: "ok"})
	go func() {
		m.waitSessions(name, r)
		m.mu.Lock()
		again := m.running[name] != nil
		m.mu.Unlock()
		left := m.opts.Sessions == nil || m.opts.Sessions(name) > 0
		if kick && !again && left && m.opts.Kick != nil {
			if n := m.opts.Kick(name); n > 0 {
				m.log.Info("grace period over: sessions kicked", ferry.LogService, name, "sessions", n)
			}
		}
		r.cancel()
		r.ln.Close() // wakes an Accept waiting since drain
		<-r.done
		m.mu.Lock()
		delete(m.draining, r)
		m.mu.Unlock()
	}()
}

// waitSessions returns when name has no live session, Grace has passed,
// the service's Serve returned or its grace was cut.
func (m *Manager) waitSessions(name string, r *running) {
	if m.opts.Grace <= 0 || m.opts.Sessions == nil {
		return
	}
	timer := time.NewTimer(m.opts.Grace)
	defer timer.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for m.opts.Sessions(name) > 0 {
		select {
		case <-timer.C:
			return
		case <-r.done:
			return
		case <-r.cut:
			return
		case <-tick.C:
		}
	}
}

// explainBind turns a bind error into a sentence an operator can act on.
func explainBind(addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("listen on %s: address already in use (another program or service holds it)", addr)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("listen on %s: permission denied (ports below 1024 need root, CAP_NET_BIND_SERVICE or a higher port)", addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("listen on %s: address not available on this machine", addr)
	}
	return fmt.Errorf("listen on %s: %w", addr, err)
}

// Run reconciles now and then whenever changed reports a new value, every
// interval, until ctx ends; then it stops every service.
func (m *Manager) Run(ctx context.Context, interval time.Duration, changed func(context.Context) (int64, error)) {
	var last int64 = -1
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		n, err := changed(ctx)
		if err != nil && ctx.Err() == nil {
			m.log.Warn("cannot read store change counter", "err", err)
		}
		m.mu.Lock()
		died := false
		for _, r := range m.running {
			select {
			case <-r.done:
				died = true
			default:
			}
		}
		m.mu.Unlock()
		if err == nil && (n != last || died) {
			if err := m.Reconcile(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("reconcile services", "err", err)
			} else {
				last = n
			}
		}
		select {
		case <-ctx.Done():
			m.drainAll()
			m.StopAll()
			return
		case <-tick.C:
		}
	}
}

// StopAll stops every service without a grace period and waits for them.
func (m *Manager) StopAll() {
	m.mu.Lock()
	for name, r := range m.running {
		m.stop(name, r, true, true)
	}
	var all []*running
	for r := range m.draining {
		all = append(all, r)
		r.cutOnce()
	}
	m.mu.Unlock()
	for _, r := range all {
		<-r.done
	}
}

// drainAll closes every listener so no new session starts, then waits up
// to ShutdownGrace for the transfers in progress to end.
func (m *Manager) drainAll() {
	if m.opts.ShutdownGrace <= 0 || m.opts.Busy == nil {
		return
	}
	m.mu.Lock()
	for _, r := range m.running {
		r.ln.drain()
	}
	m.mu.Unlock()
	n := m.opts.Busy()
	if n == 0 {
		return
	}
	m.log.Info("shutting down: waiting for transfers", "transfers", n, "grace", m.opts.ShutdownGrace)
	timer := time.NewTimer(m.opts.ShutdownGrace)
	defer timer.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for m.opts.Busy() > 0 {
		select {
		case <-timer.C:
			m.log.Warn("shutdown grace over: cutting transfers", "transfers", m.opts.Busy())
			return
		case <-tick.C:
		}
	}
}

func (r *running) cutOnce() {
	select {
	case <-r.cut:
	default:
		close(r.cut)
	}
}

// Status reports every defined service, sorted by name.
func (m *Manager) Status(ctx context.Context) ([]Status, error) {
	defs, err := m.opts.Source.ListServices(ctx)
	if err != nil {
		return nil, fmt.Errorf("servicemgr: list services: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reap()
	out := make([]Status, 0, len(defs))
	for _, d := range defs {
		st := Status{Service: *d, State: StateStopped}
		if r, ok := m.running[d.Name]; ok {
			st.State, st.Address = StateRunning, r.ln.Addr().String()
			if r.def.Version != d.Version {
				st.Error = "definition changed; restarting"
			}
		} else if f, ok := m.failed[d.Name]; ok {
			st.State, st.Error = StateFailed, f.err.Error()
		} else if !d.Enabled {
			st.State = StateDisabled
		}
		if m.opts.Sessions != nil {
			st.Sessions = m.opts.Sessions(d.Name)
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b Status) int { return cmp.Compare(a.Service.Name, b.Service.Name) })
	return out, nil
}

func (m *Manager) publish(ev ferry.Event) {
	if m.opts.Events != nil {
		m.opts.Events.Publish(ev)
	}
}

func sortedKeys(m map[string]ferry.Service) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
