package app

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/ferrymft/ferry/internal/events/exec"
	"github.com/ferrymft/ferry/internal/events/hooks"
	"github.com/ferrymft/ferry/internal/events/metrics"
	"github.com/ferrymft/ferry/internal/events/webhook"
	"github.com/ferrymft/ferry/internal/events/xferlog"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

// eventSinks are the consumers of the bus: rules (exec and webhook
// actions, pre-hooks), transfer and audit logs, metrics. They are built in
// Open (the pre-hooks gate must exist before the engine) and run only
// while Serve runs, so a CLI command never delivers webhooks or writes
// transfer logs.
type eventSinks struct {
	hooks    *hooks.Dispatcher
	webhooks *webhook.Deliverer
	metrics  *metrics.Metrics
}

// newEvents builds the sinks over the store. The metrics read the engine
// and the service manager lazily: neither exists yet.
func (a *App) newEvents(st *store.Store) *eventSinks {
	log := a.log.With("component", "events")
	m := metrics.New(metrics.Options{
		Sessions:  a.sessionsByProtocol,
		Transfers: a.transfersByDirection,
		Services:  a.serviceStates,
		Outbox:    st.OutboxDepth,
		Dropped:   a.bus.Dropped,
		StorePing: func(ctx context.Context) error { _, err := st.Changes(ctx); return err },
	})
	wh, err := webhook.New(webhook.Options{Outbox: st, Logger: log, OnResult: func(rule string, err error, dead bool) {
		m.HookResult(ferry.ActionWebhook, rule, err, dead)
	}})
	if err != nil {
		panic(err) // only a nil Outbox fails
	}
	d, err := hooks.New(hooks.Options{
		Rules: st, Changes: st.Changes, Users: resolvedUsers{a}, Webhooks: wh, Node: a.cfg.Node, Logger: log,
		Exec: exec.New(exec.Options{Logger: log}),
		OnResult: func(action ferry.ActionKind, rule string, err error) {
			if action == ferry.ActionExec || err != nil { // webhook deliveries count themselves
				m.HookResult(action, rule, err, false)
			}
		},
	})
	if err != nil {
		panic(err) // only a nil RuleSource fails
	}
	return &eventSinks{hooks: d, webhooks: wh, metrics: m}
}

// MetricsHandler serves the Prometheus metrics; the admin service mounts
// it at GET /metrics.
func (a *App) MetricsHandler() http.Handler { return a.ev.metrics.Handler() }

// startEvents subscribes the sinks to the bus and starts the webhook
// workers. The returned function stops them: it drains the events already
// queued, waits for running hooks and closes the log files.
func (a *App) startEvents(ctx context.Context) (stop func()) {
	ev := a.ev
	bg := context.WithoutCancel(ctx) // handlers finish their queue on stop
	var unsub []func()
	var closers []func() error
	unsub = append(unsub, a.bus.Subscribe(bg, "metrics", 4096, ev.metrics.Handle))
	logs := append([]xferlogSpec(nil), a.transferLogSpecs()...)
	for _, s := range logs {
		l, err := xferlog.Open(s.opts)
		if err != nil {
			a.log.Error("transfer log not written", "log", s.name, "err", err)
			continue
		}
		unsub = append(unsub, a.bus.Subscribe(bg, s.name, 4096, l.Handle))
		closers = append(closers, l.Close)
	}
	wctx, cancel := context.WithCancel(ctx)
	ev.webhooks.Start(wctx)
	unsub = append(unsub, a.bus.Subscribe(bg, "webhooks", 4096, ev.hooks.HandleWebhook))
	unsub = append(unsub, a.bus.Subscribe(bg, "exec", 1024, ev.hooks.HandleExec))
	var wg sync.WaitGroup
	wg.Go(func() { ev.hooks.Watch(wctx, a.cfg.Services.PollInterval.D()) })
	return func() {
		for _, u := range unsub {
			u()
		}
		cancel()
		wg.Wait()
		ev.webhooks.Wait()
		ev.hooks.Wait()
		for _, c := range closers {
			if err := c(); err != nil {
				a.log.Warn("closing a transfer log", "err", err)
			}
		}
	}
}

type xferlogSpec struct {
	name string
	opts xferlog.Options
}

// transferLogSpecs translates transfer_logs and audit_log.
func (a *App) transferLogSpecs() []xferlogSpec {
	var out []xferlogSpec
	for i, c := range a.cfg.TransferLogs {
		out = append(out, xferlogSpec{name: fmt.Sprintf("transfer_logs[%d] (%s %s)", i, c.Format, c.Path), opts: xferlog.Options{
			Format: c.Format, Path: c.Path, Software: "Ferry " + Version, Logger: a.log,
			Rotate: xferlog.Rotation{MaxSize: int64(c.Rotate.MaxSize), Daily: c.Rotate.Daily, Keep: c.Rotate.Keep},
		}})
	}
	if c := a.cfg.AuditLog; c.Path != "" {
		out = append(out, xferlogSpec{name: "audit_log (" + c.Path + ")", opts: xferlog.Options{
			Format: xferlog.FormatAudit, Path: c.Path, Logger: a.log,
			Rotate: xferlog.Rotation{MaxSize: int64(c.Rotate.MaxSize), Daily: c.Rotate.Daily, Keep: c.Rotate.Keep},
		}})
	}
	return out
}

func (a *App) sessionsByProtocol() map[string]int {
	out := map[string]int{}
	if a.eng != nil {
		for _, s := range a.eng.Sessions() {
			out[s.Protocol]++
		}
	}
	return out
}

func (a *App) transfersByDirection() map[string]int {
	out := map[string]int{"upload": 0, "download": 0}
	if a.eng != nil {
		for _, s := range a.eng.Sessions() {
			if s.Transfer != nil {
				out[s.Transfer.Direction]++
			}
		}
	}
	return out
}

func (a *App) serviceStates(ctx context.Context) []metrics.Service {
	if a.mgr == nil {
		return nil
	}
	sts, err := a.mgr.Status(ctx)
	if err != nil {
		return nil
	}
	out := make([]metrics.Service, len(sts))
	for i, s := range sts {
		out[i] = metrics.Service{Name: s.Service.Name, Kind: string(s.Service.Kind), State: string(s.State)}
	}
	return out
}
