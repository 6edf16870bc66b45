// Package hooks applies the event rules kept in the store: after an event,
// a matching rule runs its command (events/exec) or queues a webhook
// delivery (events/webhook); before an upload, download or delete, a
// matching pre-hook rule is asked synchronously and can refuse the
// operation (Dispatcher is a core.Gate). Only app imports it.
package hooks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/events"
	"github.com/ferrymft/ferry/internal/events/exec"
	"github.com/ferrymft/ferry/internal/events/webhook"
	"github.com/ferrymft/ferry/internal/ferry"
)

// RuleSource lists the rules (the store).
type RuleSource interface {
	ListRules(ctx context.Context, o ferry.ListOptions) ([]*ferry.Rule, error)
}

// UserSource finds a user's home and groups (the store).
type UserSource interface {
	GetUser(ctx context.Context, name string) (*ferry.User, error)
}

// Options configure a Dispatcher.
type Options struct {
	Rules RuleSource // required
	// Changes, when set, is the store's change counter: rules are listed
	// again only when it moved. Without it they are listed every time.
	Changes func(ctx context.Context) (int64, error)
	Users   UserSource // optional: group filters and FERRY_PATH need it
	Exec    *exec.Runner
	// Webhooks queues deliveries; without it webhook rules only log.
	Webhooks *webhook.Deliverer
	// Client sends pre-hook requests (default http.DefaultClient).
	Client *http.Client
	// PreHookTimeout applies to pre-hook rules without their own
	// (default 10s).
	PreHookTimeout time.Duration
	Node           string
	Logger         *slog.Logger
	// OnResult, when set, is told how each action ended.
	OnResult func(action ferry.ActionKind, rule string, err error)
}

// Dispatcher matches events against the rules and runs their actions.
type Dispatcher struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	rules   []*ferry.Rule
	version int64
	loaded  bool
	checked time.Time // last look at the change counter
}

// recheck is how long a rule list is used before the change counter is
// read again: events come in bursts, rule changes rarely.
const recheck = 250 * time.Millisecond

// New returns a Dispatcher.
func New(opts Options) (*Dispatcher, error) {
	if opts.Rules == nil {
		return nil, errors.New("hooks: Options.Rules is required")
	}
	if opts.Exec == nil {
		opts.Exec = exec.New(exec.Options{Logger: opts.Logger})
	}
	opts.Client = cmp.Or(opts.Client, http.DefaultClient)
	opts.PreHookTimeout = cmp.Or(opts.PreHookTimeout, 10*time.Second)
	return &Dispatcher{opts: opts, log: cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))}, nil
}

// Rules returns the current rules, listing them again when the store
// changed since the last call.
func (d *Dispatcher) Rules(ctx context.Context) ([]*ferry.Rule, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var v int64
	if d.opts.Changes != nil {
		if d.loaded && time.Since(d.checked) < recheck {
			return d.rules, nil
		}
		var err error
		v, err = d.opts.Changes(ctx)
		if err == nil {
			d.checked = time.Now()
		}
		if err == nil && d.loaded && v == d.version {
			return d.rules, nil
		}
	}
	rules, err := d.opts.Rules.ListRules(ctx, ferry.ListOptions{})
	if err != nil {
		if d.loaded {
			d.log.Warn("event rules: using the last list read", "err", err)
			return d.rules, nil
		}
		return nil, fmt.Errorf("hooks: list rules: %w", err)
	}
	d.rules, d.version, d.loaded = rules, v, true
	if d.opts.Webhooks != nil {
		d.opts.Webhooks.SetRules(rules)
	}
	return rules, nil
}

// Watch lists the rules every interval until ctx ends, so webhook workers
// follow rule changes even when no event arrives.
func (d *Dispatcher) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(cmp.Or(interval, time.Second))
	defer t.Stop()
	for {
		if _, err := d.Rules(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("event rules", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// matching returns the enabled rules of the given action kind (any when
// "") and pre-hook flag that match ev, and who the event's user is.
func (d *Dispatcher) matching(ctx context.Context, ev ferry.Event, kind ferry.ActionKind, pre bool) ([]*ferry.Rule, events.Subject) {
	rules, err := d.Rules(ctx)
	if err != nil {
		d.log.Warn("event rules", "err", err)
		return nil, events.Subject{}
	}
	var cands []*ferry.Rule
	for _, r := range rules {
		if !r.Disabled && r.PreHook == pre && (kind == "" || r.Action == kind) && containsType(r, ev.Type) {
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 {
		return nil, events.Subject{}
	}
	var who events.Subject
	if d.opts.Users != nil && ev.User != "" && ev.Type != ferry.EventLoginFailed {
		if u, err := d.opts.Users.GetUser(ctx, ev.User); err == nil {
			who = events.Subject{Home: u.Home, Groups: u.Groups}
		}
	}
	out := cands[:0]
	for _, r := range cands {
		m := *r
		if pre { // size and outcome are not known before the operation
			m.MinSize, m.MaxSize, m.Status = 0, 0, ""
		}
		if events.Match(&m, ev, who.Groups) {
			out = append(out, r)
		}
	}
	return out, who
}

func containsType(r *ferry.Rule, t ferry.EventType) bool {
	for _, e := range r.Events {
		if e == t {
			return true
		}
	}
	return false
}

func (d *Dispatcher) result(kind ferry.ActionKind, rule string, err error) {
	if d.opts.OnResult != nil {
		d.opts.OnResult(kind, rule, err)
	}
}

// HandleExec runs the exec rules matching ev; subscribe it to the bus. It
// holds the bus back only when MaxConcurrent commands already run.
func (d *Dispatcher) HandleExec(ctx context.Context, ev ferry.Event) {
	rules, who := d.matching(ctx, ev, ferry.ActionExec, false)
	for _, r := range rules {
		p := events.NewPayload(ev, r.Name, d.opts.Node, who)
		name := r.Name
		d.opts.Exec.Start(ctx, exec.Job{Name: name, Argv: r.Command, Env: p.Env(), Stdin: p.JSON(), Timeout: r.Timeout},
			func(res exec.Result) { d.result(ferry.ActionExec, name, res.Err) })
	}
}

// HandleWebhook queues a delivery in the outbox for each webhook rule
// matching ev; subscribe it to the bus.
func (d *Dispatcher) HandleWebhook(ctx context.Context, ev ferry.Event) {
	rules, who := d.matching(ctx, ev, ferry.ActionWebhook, false)
	for _, r := range rules {
		body := events.NewPayload(ev, r.Name, d.opts.Node, who).JSON()
		if d.opts.Webhooks == nil {
			d.log.Warn("webhook rule matched but webhooks are not running", "rule", r.Name)
			continue
		}
		if err := d.opts.Webhooks.Enqueue(context.WithoutCancel(ctx), r.Name, body); err != nil {
			d.log.Error("webhook: event not queued", "rule", r.Name, "event", ev.Type, "err", err)
			d.result(ferry.ActionWebhook, r.Name, err)
		}
	}
}

// Wait waits for exec actions still running.
func (d *Dispatcher) Wait() { d.opts.Exec.Wait() }

// Allow runs the pre-hook rules matching ev, in name order, and refuses
// the operation when one of them does: a command exiting non-zero or a
// webhook replying outside 2xx. A hook that cannot be asked (not found,
// timed out, unreachable) refuses too, unless its rule is fail-open. It
// implements core.Gate.
func (d *Dispatcher) Allow(ctx context.Context, ev ferry.Event) error {
	rules, who := d.matching(ctx, ev, "", true)
	for _, r := range rules {
		if err := d.preHook(ctx, r, ev, who); err != nil {
			d.result(r.Action, r.Name, err)
			return err
		}
		d.result(r.Action, r.Name, nil)
	}
	return nil
}

func (d *Dispatcher) preHook(ctx context.Context, r *ferry.Rule, ev ferry.Event, who events.Subject) error {
	p := events.NewPayload(ev, r.Name, d.opts.Node, who)
	timeout := cmp.Or(r.Timeout, d.opts.PreHookTimeout)
	var refused bool  // the hook answered no…
	var reason string // …with this message
	var failure error // the hook could not answer
	switch r.Action {
	case ferry.ActionExec:
		res := d.opts.Exec.Run(ctx, exec.Job{Name: r.Name, Argv: r.Command, Env: p.Env(), Stdin: p.JSON(), Timeout: timeout})
		var ee interface{ ExitCode() int }
		switch {
		case res.Err == nil:
		case errors.As(res.Err, &ee) && ee.ExitCode() > 0:
			refused, reason = true, firstLine(res.Output)
		default: // not started, killed, timed out
			failure = res.Err
		}
	case ferry.ActionWebhook:
		rctx, cancel := context.WithTimeout(ctx, timeout)
		err := webhook.Post(rctx, d.opts.Client, webhook.Request{URL: r.URL, Secret: r.Secret, Rule: r.Name, Event: ev.Type, Body: p.JSON()})
		cancel()
		var se *webhook.StatusError
		switch {
		case err == nil:
		case errors.As(err, &se):
			refused, reason = true, se.Body
		default:
			failure = err
		}
	}
	switch {
	case refused:
		return fmt.Errorf("%s %w", ev.Type, &ferry.Refusal{Rule: r.Name, Reason: reason})
	case failure != nil && r.FailOpen:
		d.log.Warn("pre-hook failed; allowing (fail-open)", "rule", r.Name, "event", ev.Type, "path", ev.Path, "err", failure)
	case failure != nil:
		d.log.Warn("pre-hook failed; refusing (fail-closed)", "rule", r.Name, "event", ev.Type, "path", ev.Path, "err", failure)
		return fmt.Errorf("%s %w", ev.Type, &ferry.Refusal{Rule: r.Name, Reason: "pre-hook " + r.Name + " is unavailable"})
	}
	return nil
}

// firstLine is the first non-empty line of a hook's output, the message a
// refused client sees, at most 200 bytes.
func firstLine(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if len(l) > 200 {
				l = l[:200]
			}
			return l
		}
	}
	return ""
}
