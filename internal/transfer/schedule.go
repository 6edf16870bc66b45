package transfer

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Definitions lists the stored transfers (the store).
type Definitions interface {
	ListTransfers(ctx context.Context, o ferry.ListOptions) ([]*ferry.Transfer, error)
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	Transfers Definitions
	// Changes is the store's change counter: the definitions are re-read
	// when it moves.
	Changes func(ctx context.Context) (int64, error)
	Runner  *Runner
	// Tick is how often due times and the change counter are checked
	// (default 1s).
	Tick time.Duration
	// WatchInterval is how often a --watch transfer looks at its source
	// when it cannot be watched (not a local folder, or not on Linux), and
	// while files it saw are not yet stable (default 2s).
	WatchInterval time.Duration
	// WatchRescan is how often a --watch transfer whose local source is
	// watched through inotify looks anyway, in case a change was missed,
	// and an on_upload transfer that moves its files looks for any left
	// (default 1m).
	WatchRescan time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
}

// State is what the scheduler knows about one transfer.
type State struct {
	Running  bool
	Runs     int       // runs finished since the scheduler started
	Next     time.Time // zero: not scheduled (on demand, disabled, no cron match)
	LastEnd  time.Time
	LastErr  string // the run's error, "" when it listed and copied (files may have failed)
	LastDone int    // files copied by the last run
	LastFail int    // files failed in the last run
	// Watching: the source is watched for changes (inotify), not polled.
	Watching bool
	Pending  int  // files the last run left (still changing, too young)
	changed  bool // a change was seen during the run
	// Queued are uploads waiting for an on_upload delivery.
	Queued []string
}

// Scheduler runs the stored transfers whose time has come, each in its
// own goroutine, never one transfer twice at once.
type Scheduler struct {
	o       SchedulerOptions
	mu      sync.Mutex
	defs    map[string]*ferry.Transfer
	state   map[string]*State
	cancels map[string]context.CancelFunc
	watches map[string]context.CancelFunc // --watch transfers' watchers
	wg      sync.WaitGroup
	wake    chan struct{} // starts due runs before the next tick
}

// NewScheduler returns a Scheduler; Run starts it.
func NewScheduler(o SchedulerOptions) *Scheduler {
	o.Tick = cmp.Or(o.Tick, time.Second)
	o.WatchInterval = cmp.Or(o.WatchInterval, 2*time.Second)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.WatchRescan = cmp.Or(o.WatchRescan, time.Minute)
	return &Scheduler{o: o, defs: map[string]*ferry.Transfer{}, state: map[string]*State{}, cancels: map[string]context.CancelFunc{},
		watches: map[string]context.CancelFunc{}, wake: make(chan struct{}, 1)}
}

// Run schedules until ctx ends, then waits for the runs in progress
// (which ctx also cancels).
func (s *Scheduler) Run(ctx context.Context) {
	defer s.wg.Wait()
	last := int64(-1)
	tk := time.NewTicker(s.o.Tick)
	defer tk.Stop()
	for {
		if n, err := s.o.Changes(ctx); err != nil {
			if ctx.Err() == nil {
				s.o.Logger.Warn("transfers: change counter", "err", err)
			}
		} else if n != last {
			if err := s.reload(ctx); err != nil {
				if ctx.Err() == nil {
					s.o.Logger.Warn("transfers: reload", "err", err)
				}
			} else {
				last = n
			}
		}
		s.startDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		case <-s.wake:
		}
	}
}

// States returns a copy of every scheduled transfer's state.
func (s *Scheduler) States() map[string]State {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]State, len(s.state))
	for k, v := range s.state {
		out[k] = *v
	}
	return out
}

// reload re-reads the definitions: new and changed ones are scheduled from
// now, removed ones forgotten (a run in progress of a removed one is
// cancelled).
func (s *Scheduler) reload(ctx context.Context) error {
	ts, err := s.o.Transfers.ListTransfers(ctx, ferry.ListOptions{})
	if err != nil {
		return err
	}
	s.o.Runner.o.Resolver.Forget() // locations may have changed too
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, t := range ts {
		seen[t.Name] = true
		old, ok := s.defs[t.Name]
		s.defs[t.Name] = t
		if ok && old.Version == t.Version {
			continue
		}
		st := s.state[t.Name]
		if st == nil {
			st = &State{}
			s.state[t.Name] = st
		}
		st.Next = s.first(t)
		s.watch(ctx, t)
		if c := s.cancels[t.Name]; t.Disabled && c != nil {
			// Paused: stop the run in progress; its partial file is
			// resumed when the transfer is resumed.
			c()
		}
	}
	for name := range s.defs {
		if !seen[name] {
			delete(s.defs, name)
			delete(s.state, name)
			if c := s.watches[name]; c != nil {
				c()
				delete(s.watches, name)
			}
			if c := s.cancels[name]; c != nil {
				c()
			}
		}
	}
	return nil
}

// first is when a newly scheduled transfer first runs: at once for an
// interval or a watch, at the next match for cron.
func (s *Scheduler) first(t *ferry.Transfer) time.Time {
	switch {
	case t.Disabled:
		return time.Time{}
	case t.Every > 0, t.Watch:
		return s.o.Now()
	case t.Cron != "":
		return s.next(t, s.o.Now())
	case t.OnUpload != "" && (t.DeleteSource || t.ArchiveTo != ""):
		// Catch up with uploads made while the server was down (or
		// whose delivery a restart cut short): a move leaves nothing
		// already delivered to pick again.
		return s.o.Now()
	}
	return time.Time{}
}

// next is when t runs again after a run that ended at end.
func (s *Scheduler) next(t *ferry.Transfer, end time.Time) time.Time {
	switch {
	case t.Disabled:
		return time.Time{}
	case t.Every > 0:
		return end.Add(t.Every)
	case t.Watch:
		if st := s.state[t.Name]; st != nil && st.Watching && st.Pending == 0 && !st.changed {
			return end.Add(s.o.WatchRescan)
		}
		if st := s.state[t.Name]; st != nil && st.changed {
			return end
		}
		return end.Add(s.o.WatchInterval)
	case t.OnUpload != "" && (t.DeleteSource || t.ArchiveTo != ""):
		// A slow catch-up pass: a failed delivery, or an upload whose
		// event was dropped, goes at the latest then.
		return end.Add(s.o.WatchRescan)
	case t.Cron != "":
		c, err := ParseCron(t.Cron)
		if err != nil {
			s.o.Logger.Error("transfer not scheduled: bad cron", "transfer", t.Name, "err", err)
			return time.Time{}
		}
		return c.Next(end)
	}
	return time.Time{}
}

func (s *Scheduler) startDue(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.Now()
	for name, st := range s.state {
		t := s.defs[name]
		deliver := len(st.Queued) > 0 && !t.Disabled
		if st.Running || (!deliver && (st.Next.IsZero() || now.Before(st.Next))) {
			continue
		}
		files := st.Queued
		st.Queued = nil
		st.Running = true
		st.changed = false
		rctx, cancel := context.WithCancel(ctx)
		s.cancels[name] = cancel
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer cancel()
			var res RunResult
			var err error
			if deliver {
				res, err = s.o.Runner.Deliver(rctx, t, files)
			} else {
				res, err = s.o.Runner.Run(rctx, t)
			}
			s.finished(t, res, err, files)
		}()
	}
}

// Notify hands the scheduler a server event: a completed upload (or a
// rename onto a name) that an on_upload transfer's trigger matches is
// queued for delivery, which starts at once unless that transfer is
// running (then right after).
func (s *Scheduler) Notify(ev ferry.Event) {
	var p string
	switch {
	case ev.Type == ferry.EventUpload && ev.Status == "ok":
		p = ev.Path
	case ev.Type == ferry.EventRename && ev.Status == "ok":
		p = ev.Target
	default:
		return
	}
	s.mu.Lock()
	queued := false
	for name, t := range s.defs {
		st := s.state[name]
		if st == nil || t.OnUpload == "" || t.Disabled || !t.MatchUpload(ev.User, p) || slices.Contains(st.Queued, p) {
			continue
		}
		st.Queued = append(st.Queued, p)
		queued = true
	}
	s.mu.Unlock()
	if queued {
		s.kick()
	}
}

func (s *Scheduler) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) finished(t *ferry.Transfer, res RunResult, err error, files []string) {
	if err != nil && !errors.Is(err, context.Canceled) {
		lvl := slog.LevelWarn
		if errors.Is(err, ErrBusy) {
			lvl = slog.LevelInfo
		}
		s.o.Logger.Log(context.Background(), lvl, "transfer run", "transfer", t.Name, "err", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cancels, t.Name)
	st := s.state[t.Name]
	if st == nil {
		return // removed meanwhile
	}
	st.Running = false
	st.Runs++
	if len(files) > 0 && (errors.Is(err, ErrBusy) || errors.Is(err, context.Canceled)) {
		// Not delivered (the transfer is running elsewhere, or the run
		// was stopped): keep the files for the next tick.
		st.Queued = append(files, st.Queued...)
	} else if len(st.Queued) > 0 {
		defer s.kick() // uploads that came during the run
	}
	st.LastEnd = s.o.Now()
	st.LastErr = ""
	if err != nil {
		st.LastErr = err.Error()
	}
	st.LastFail = res.Failed()
	st.LastDone = len(res.Files) - st.LastFail
	st.Pending = res.Pending
	if cur := s.defs[t.Name]; cur != nil && cur.Version == t.Version && (len(files) == 0 || st.Next.IsZero()) {
		// (A delivery leaves the next catch-up pass where it was.)
		st.Next = s.next(t, st.LastEnd)
		if soon := st.LastEnd.Add(s.o.WatchInterval); errors.Is(err, ErrBusy) && !st.Next.IsZero() && soon.Before(st.Next) {
			// It ran elsewhere (or a lease is left from a crash): look
			// again soon rather than skip a whole period.
			st.Next = soon
		}
	}
	if !st.Next.IsZero() && !st.Next.After(st.LastEnd) {
		// Due already (a change was seen during the run): the watcher's
		// kick came while the run held the transfer, so start it now
		// rather than at the next tick.
		defer s.kick()
	}
}

// watch starts (or restarts, or stops) the watcher of a --watch transfer
// whose source is a local folder; s.mu is held. A source that cannot be
// watched is polled every WatchInterval instead.
func (s *Scheduler) watch(ctx context.Context, t *ferry.Transfer) {
	if c := s.watches[t.Name]; c != nil {
		c()
		delete(s.watches, t.Name)
	}
	if st := s.state[t.Name]; st != nil {
		st.Watching = false
	}
	if !t.Watch || t.Disabled {
		return
	}
	src, err := s.o.Runner.o.Resolver.Parse(ctx, t.Source)
	if err != nil || src.Scheme != "file" {
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	s.watches[t.Name] = cancel
	skip := func(rel string) bool {
		return (t.ArchiveTo != "" && rel == path.Clean(t.ArchiveTo)) || (t.FailedTo != "" && rel == path.Clean(t.FailedTo))
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := watchDir(wctx, src.Path, t.Recursive, skip, func() { s.setWatching(t, true) }, func() { s.changed(t.Name) })
		s.setWatching(t, false)
		if err != nil && wctx.Err() == nil {
			s.o.Logger.Info("transfer source not watched; looking at it every "+s.o.WatchInterval.String(),
				"transfer", t.Name, "source", src.Path, "err", err)
		}
	}()
}

func (s *Scheduler) setWatching(t *ferry.Transfer, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.state[t.Name]; st != nil && s.defs[t.Name] != nil && s.defs[t.Name].Version == t.Version {
		st.Watching = on
		if !on && !st.Running && !st.Next.IsZero() {
			st.Next = s.o.Now() // back to polling from now
			defer s.kick()
		}
	}
}

// changed is told by a watcher that something landed in a transfer's
// source: it runs now, or again right after the run in progress.
func (s *Scheduler) changed(name string) {
	s.mu.Lock()
	st, t := s.state[name], s.defs[name]
	if st == nil || t == nil || t.Disabled {
		s.mu.Unlock()
		return
	}
	st.changed = true
	if !st.Running {
		st.Next = s.o.Now()
	}
	s.mu.Unlock()
	s.kick()
}
