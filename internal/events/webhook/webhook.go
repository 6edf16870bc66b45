// Package webhook delivers events to HTTP endpoints: a JSON POST signed
// with HMAC-SHA256 over the body, retried with exponential backoff from a
// durable outbox (the store), in order per rule, until delivered or, after
// the rule's attempts, kept as a dead letter for an admin to replay.
// Delivery is at least once: a receiver deduplicates by X-Ferry-Delivery.
// Only events/hooks and app import it.
package webhook

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Headers set on every delivery.
const (
	SignatureHeader = "X-Ferry-Signature-256" // "sha256=" + hex HMAC-SHA256(secret, body)
	DeliveryHeader  = "X-Ferry-Delivery"      // the outbox id: the same on every retry
	EventHeader     = "X-Ferry-Event"         // the event type
	RuleHeader      = "X-Ferry-Rule"
)

// Sign returns the signature header's value for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature under secret, in
// constant time. Receivers written in Go can use it as is.
func Verify(secret string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}

// StatusError is a reply outside 2xx.
type StatusError struct {
	Code int
	Body string // the first line of the reply body, at most 200 bytes
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
	}
	return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body)
}

// Request describes one POST.
type Request struct {
	URL, Secret, Rule string
	Event             ferry.EventType
	Delivery          int64 // 0: not from the outbox (pre-hooks)
	Body              []byte
}

// Post sends one request and returns nil for a 2xx reply, a *StatusError
// for another reply, or the transport error.
func Post(ctx context.Context, client *http.Client, r Request) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ferry-webhook")
	req.Header.Set(EventHeader, string(r.Event))
	req.Header.Set(RuleHeader, r.Rule)
	if r.Delivery != 0 {
		req.Header.Set(DeliveryHeader, strconv.FormatInt(r.Delivery, 10))
	}
	if r.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(r.Secret, r.Body))
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(line) > 200 {
		line = line[:200]
	}
	return &StatusError{Code: resp.StatusCode, Body: line}
}

// Outbox is the durable queue the store provides.
type Outbox interface {
	EnqueueOutbox(ctx context.Context, rule string, payload []byte) (int64, error)
	NextOutbox(ctx context.Context, rule string) (ferry.OutboxEntry, error)
	DeliveredOutbox(ctx context.Context, id int64) error
	FailedOutbox(ctx context.Context, id int64, attempts int, next time.Time, lastErr string, dead bool) error
}

// Options configure a Deliverer.
type Options struct {
	Outbox Outbox // required
	// Client sends the requests (default: a client with no overall
	// timeout; each rule's Timeout bounds a request).
	Client *http.Client
	// BaseDelay is the wait after the first failure, doubled after each
	// further one up to MaxDelay (defaults 1s and 10m).
	BaseDelay, MaxDelay time.Duration
	// MaxAttempts applies to rules without their own (default 10).
	MaxAttempts int
	// Timeout applies to rules without their own (default 30s).
	Timeout time.Duration
	// Poll is how often an idle worker looks at the outbox for entries
	// added elsewhere (a replay from the CLI; default 1s).
	Poll   time.Duration
	Logger *slog.Logger
	// OnResult, when set, is told about every attempt.
	OnResult func(rule string, err error, dead bool)
}

// Deliverer runs one worker per webhook rule.
type Deliverer struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	ctx     context.Context
	workers map[string]*worker
	wg      sync.WaitGroup
}

type worker struct {
	mu     sync.Mutex
	rule   *ferry.Rule
	wake   chan struct{}
	cancel context.CancelFunc
}

// New returns a Deliverer; it delivers nothing until Start.
func New(opts Options) (*Deliverer, error) {
	if opts.Outbox == nil {
		return nil, errors.New("webhook: Options.Outbox is required")
	}
	opts.Client = cmp.Or(opts.Client, &http.Client{})
	opts.BaseDelay = cmp.Or(opts.BaseDelay, time.Second)
	opts.MaxDelay = cmp.Or(opts.MaxDelay, 10*time.Minute)
	opts.MaxAttempts = cmp.Or(opts.MaxAttempts, 10)
	opts.Timeout = cmp.Or(opts.Timeout, 30*time.Second)
	opts.Poll = cmp.Or(opts.Poll, time.Second)
	return &Deliverer{opts: opts, log: cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)), workers: map[string]*worker{}}, nil
}

// Start lets workers run until ctx ends; SetRules starts them.
func (d *Deliverer) Start(ctx context.Context) {
	d.mu.Lock()
	d.ctx = ctx
	d.mu.Unlock()
}

// Wait waits for every worker to stop after Start's ctx ended.
func (d *Deliverer) Wait() { d.wg.Wait() }

// SetRules starts a worker for each enabled webhook rule, updates the
// running ones, and stops those of rules gone or disabled. Their entries
// stay in the outbox.
func (d *Deliverer) SetRules(rules []*ferry.Rule) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil || d.ctx.Err() != nil {
		return
	}
	keep := map[string]bool{}
	for _, r := range rules {
		if r.Action != ferry.ActionWebhook || r.Disabled || r.PreHook {
			continue
		}
		keep[r.Name] = true
		if w, ok := d.workers[r.Name]; ok {
			w.mu.Lock()
			w.rule = r
			w.mu.Unlock()
			continue
		}
		ctx, cancel := context.WithCancel(d.ctx)
		w := &worker{rule: r, wake: make(chan struct{}, 1), cancel: cancel}
		d.workers[r.Name] = w
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.work(ctx, r.Name, w)
		}()
	}
	for name, w := range d.workers {
		if !keep[name] {
			w.cancel()
			delete(d.workers, name)
		}
	}
}

// Enqueue stores a delivery of body for rule and wakes its worker. Once it
// returns nil the delivery survives a restart.
func (d *Deliverer) Enqueue(ctx context.Context, rule string, body []byte) error {
	if _, err := d.opts.Outbox.EnqueueOutbox(ctx, rule, body); err != nil {
		return err
	}
	d.Wake(rule)
	return nil
}

// Wake makes rule's worker look at the outbox now.
func (d *Deliverer) Wake(rule string) {
	d.mu.Lock()
	w := d.workers[rule]
	d.mu.Unlock()
	if w != nil {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// backoff is the wait after the attempts-th failure.
func (d *Deliverer) backoff(attempts int) time.Duration {
	wait := d.opts.BaseDelay
	for i := 1; i < attempts && wait < d.opts.MaxDelay; i++ {
		wait *= 2
	}
	return min(wait, d.opts.MaxDelay)
}

// work delivers rule's entries oldest first, one at a time: the next entry
// waits until the one before is delivered or dead.
func (d *Deliverer) work(ctx context.Context, name string, w *worker) {
	for ctx.Err() == nil {
		e, err := d.opts.Outbox.NextOutbox(ctx, name)
		if err != nil {
			if !errors.Is(err, ferry.ErrNotFound) && ctx.Err() == nil {
				d.log.Warn("webhook outbox", "rule", name, "err", err)
			}
			d.sleep(ctx, w, d.opts.Poll)
			continue
		}
		if wait := time.Until(e.NextAt); wait > 0 {
			d.sleep(ctx, w, min(wait, d.opts.Poll))
			continue
		}
		w.mu.Lock()
		r := w.rule
		w.mu.Unlock()
		d.attempt(ctx, r, e)
	}
}

func (d *Deliverer) attempt(ctx context.Context, r *ferry.Rule, e ferry.OutboxEntry) {
	var ev struct {
		Event ferry.EventType `json:"event"`
	}
	_ = json.Unmarshal(e.Payload, &ev) // only for the header; the body goes as stored
	// A request in flight when ctx ends (shutdown) runs to its reply or
	// its timeout: cutting it off could leave a delivery the receiver
	// accepted recorded as failed, and sent again.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmp.Or(r.Timeout, d.opts.Timeout))
	err := Post(rctx, d.opts.Client, Request{URL: r.URL, Secret: r.Secret, Rule: r.Name, Event: ev.Event, Delivery: e.ID, Body: e.Payload})
	cancel()
	// The outcome is recorded even when ctx ended meanwhile, so a
	// delivered entry is not sent again after a restart.
	bg := context.WithoutCancel(ctx)
	if err == nil {
		if derr := d.opts.Outbox.DeliveredOutbox(bg, e.ID); derr != nil {
			d.log.Error("webhook delivered but not removed from the outbox; it will be sent again", "rule", r.Name, "id", e.ID, "err", derr)
		}
		d.log.Debug("webhook delivered", "rule", r.Name, "id", e.ID, "attempts", e.Attempts+1)
		if d.opts.OnResult != nil {
			d.opts.OnResult(r.Name, nil, false)
		}
		return
	}
	attempts := e.Attempts + 1
	dead := attempts >= cmp.Or(r.MaxAttempts, d.opts.MaxAttempts)
	next := time.Now().Add(d.backoff(attempts))
	if ferr := d.opts.Outbox.FailedOutbox(bg, e.ID, attempts, next, err.Error(), dead); ferr != nil {
		d.log.Error("webhook outbox", "rule", r.Name, "id", e.ID, "err", ferr)
	}
	if dead {
		d.log.Error("webhook gave up; the event is a dead letter (ferry outbox list --dead)", "rule", r.Name, "id", e.ID, "attempts", attempts, "err", err)
	} else {
		d.log.Warn("webhook failed; will retry", "rule", r.Name, "id", e.ID, "attempts", attempts, "retry_at", next.Format(time.RFC3339), "err", err)
	}
	if d.opts.OnResult != nil {
		d.opts.OnResult(r.Name, err, dead)
	}
}

func (d *Deliverer) sleep(ctx context.Context, w *worker, dur time.Duration) {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-w.wake:
	case <-t.C:
	}
}
