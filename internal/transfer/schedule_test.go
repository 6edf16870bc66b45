package transfer_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/transfer"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// defs is a changing set of transfer definitions with a change counter.
type defs struct {
	mu sync.Mutex
	ts map[string]*ferry.Transfer
	n  atomic.Int64
}

func (d *defs) ListTransfers(context.Context, ferry.ListOptions) ([]*ferry.Transfer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*ferry.Transfer
	for _, t := range d.ts {
		c := *t
		out = append(out, &c)
	}
	return out, nil
}

func (d *defs) Changes(context.Context) (int64, error) { return d.n.Load(), nil }

func (d *defs) put(t *ferry.Transfer) {
	d.mu.Lock()
	t.Version++
	d.ts[t.Name] = t
	d.mu.Unlock()
	d.n.Add(1)
}

// waitFor polls cond until it holds (states, not durations).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestScheduler(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	clock := &fakeClock{t: time.Date(2030, 1, 1, 10, 0, 30, 0, time.UTC)}
	d := &defs{ts: map[string]*ferry.Transfer{}}
	st := newMemStore()
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{}, Settle: time.Millisecond, Now: clock.Now})
	s := transfer.NewScheduler(transfer.SchedulerOptions{Transfers: d, Changes: d.Changes, Runner: r,
		Tick: 2 * time.Millisecond, Now: clock.Now, Logger: ferrytest.Logger(t)})
	every := &ferry.Transfer{Name: "every", Source: src, Dest: filepath.Join(dst, "e"), Every: time.Minute, DeleteSource: true}
	cron := &ferry.Transfer{Name: "cron", Source: src, Dest: filepath.Join(dst, "c"), Cron: "*/5 * * * *"}
	manual := &ferry.Transfer{Name: "manual", Source: src, Dest: dst}
	d.put(every)
	d.put(cron)
	d.put(manual)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	state := func(name string) transfer.State { return s.States()[name] }
	// An interval transfer runs at once, then not again until its time.
	waitFor(t, "the first run", func() bool { return state("every").Runs == 1 })
	if st := state("every"); st.LastErr != "" || !st.Next.Equal(clock.Now().Add(time.Minute)) {
		t.Fatalf("after the first run: %+v", st)
	}
	if st := state("cron"); st.Runs != 0 || !st.Next.Equal(time.Date(2030, 1, 1, 10, 5, 0, 0, time.UTC)) {
		t.Fatalf("cron before its time: %+v", st)
	}
	if st := state("manual"); !st.Next.IsZero() || st.Runs != 0 {
		t.Fatalf("an on-demand transfer was scheduled: %+v", st)
	}
	write(t, filepath.Join(src, "a.csv"), []byte("a"))
	clock.Add(time.Minute)
	waitFor(t, "the second run", func() bool { return state("every").Runs == 2 })
	if st := state("every"); st.LastDone != 1 {
		t.Fatalf("second run: %+v", st)
	}
	mustEqual(t, filepath.Join(dst, "e", "a.csv"), []byte("a"))

	clock.Add(4 * time.Minute) // 10:05:30
	waitFor(t, "the cron run", func() bool { return state("cron").Runs == 1 })
	if st := state("cron"); !st.Next.Equal(time.Date(2030, 1, 1, 10, 10, 0, 0, time.UTC)) {
		t.Fatalf("cron next: %+v", st)
	}

	// Disabling through the store unschedules; removal forgets.
	every.Disabled = true
	d.put(every)
	waitFor(t, "the disabled transfer to be unscheduled", func() bool { return state("every").Next.IsZero() })
	d.mu.Lock()
	delete(d.ts, "cron")
	d.mu.Unlock()
	d.n.Add(1)
	waitFor(t, "the removed transfer to be forgotten", func() bool { _, ok := s.States()["cron"]; return !ok })
	if len(st.records()) != 1 {
		t.Errorf("history = %+v, want the one file", st.records())
	}
}
