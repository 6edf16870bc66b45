package transfer_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/transfer"
)

func runScheduler(t *testing.T, s *transfer.Scheduler) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestWatchUsesInotify: with every timer an hour away, only a change
// notification can make a watched local source run: a file written, one
// moved in, and one in a subfolder created after the watch began are all
// delivered.
func TestWatchUsesInotify(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("inotify is Linux only; elsewhere --watch polls")
	}
	t.Parallel()
	src, dst, tmp := t.TempDir(), t.TempDir(), t.TempDir()
	d := &defs{ts: map[string]*ferry.Transfer{}}
	st := newMemStore()
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{}, Settle: time.Millisecond,
		Logger: ferrytest.Logger(t)})
	s := transfer.NewScheduler(transfer.SchedulerOptions{Transfers: d, Changes: d.Changes, Runner: r, Tick: time.Hour,
		WatchInterval: time.Hour, WatchRescan: time.Hour, Logger: ferrytest.Logger(t)})
	d.put(&ferry.Transfer{Name: "w", Source: src, Dest: dst, Watch: true, Recursive: true, DeleteSource: true})
	runScheduler(t, s)
	waitFor(t, "the watch and the first run", func() bool { st := s.States()["w"]; return st.Watching && st.Runs >= 1 })

	write(t, filepath.Join(src, "a.csv"), []byte("written"))
	waitFor(t, "a.csv", func() bool { _, err := os.Stat(filepath.Join(dst, "a.csv")); return err == nil })
	write(t, filepath.Join(tmp, "b.csv"), []byte("moved in"))
	if err := os.Rename(filepath.Join(tmp, "b.csv"), filepath.Join(src, "b.csv")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b.csv", func() bool { _, err := os.Stat(filepath.Join(dst, "b.csv")); return err == nil })
	write(t, filepath.Join(src, "new", "c.csv"), []byte("in a new folder"))
	waitFor(t, "new/c.csv", func() bool { _, err := os.Stat(filepath.Join(dst, "new", "c.csv")); return err == nil })
	mustEqual(t, filepath.Join(dst, "a.csv"), []byte("written"))
	mustEqual(t, filepath.Join(dst, "b.csv"), []byte("moved in"))
	mustEqual(t, filepath.Join(dst, "new", "c.csv"), []byte("in a new folder"))
	if n := len(st.records()); n != 3 {
		t.Errorf("history has %d rows, want 3", n)
	}
}

// TestWatchKeepsMinAge: a change notification does not make a young file
// go: it waits until it is old enough, then goes without a new event.
func TestWatchKeepsMinAge(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("inotify is Linux only")
	}
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	clock := &fakeClock{t: time.Now()}
	d := &defs{ts: map[string]*ferry.Transfer{}}
	st := newMemStore()
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{}, Settle: time.Millisecond,
		Now: clock.Now, Logger: ferrytest.Logger(t)})
	s := transfer.NewScheduler(transfer.SchedulerOptions{Transfers: d, Changes: d.Changes, Runner: r, Tick: 5 * time.Millisecond,
		WatchInterval: time.Second, WatchRescan: time.Hour, Now: clock.Now, Logger: ferrytest.Logger(t)})
	d.put(&ferry.Transfer{Name: "w", Source: src, Dest: dst, Watch: true, MinAge: time.Minute, DeleteSource: true})
	runScheduler(t, s)
	waitFor(t, "the watch and the first run", func() bool { st := s.States()["w"]; return st.Watching && st.Runs >= 1 })
	runs := s.States()["w"].Runs
	write(t, filepath.Join(src, "young.csv"), []byte("y"))
	waitFor(t, "the run the write triggers", func() bool { st := s.States()["w"]; return st.Runs > runs && !st.Running })
	if st := s.States()["w"]; st.Pending != 1 || st.LastDone != 0 {
		t.Fatalf("a young file went: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(dst, "young.csv")); !os.IsNotExist(err) {
		t.Fatalf("young file delivered: %v", err)
	}
	clock.Add(2 * time.Minute) // old enough, and the recheck is due
	waitFor(t, "young.csv once old", func() bool { _, err := os.Stat(filepath.Join(dst, "young.csv")); return err == nil })
	mustEqual(t, filepath.Join(dst, "young.csv"), []byte("y"))
}

// TestWatchChangeDuringRun: a change seen while a run is in progress (here
// a folder created, with a file written in it, while the run removes the
// source of the file it copied) starts another run as soon as that one
// ends, not at the next tick an hour later.
func TestWatchChangeDuringRun(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("inotify is Linux only")
	}
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	d := &defs{ts: map[string]*ferry.Transfer{}}
	st := newMemStore()
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{}, Settle: time.Millisecond,
		Logger: ferrytest.Logger(t)})
	s := transfer.NewScheduler(transfer.SchedulerOptions{Transfers: d, Changes: d.Changes, Runner: r, Tick: time.Hour,
		WatchInterval: time.Hour, WatchRescan: time.Hour, Logger: ferrytest.Logger(t)})
	held, release := make(chan struct{}), make(chan struct{})
	transfer.CrashAfterRecord(r, func(p string) bool {
		if filepath.Base(p) == "a.csv" {
			close(held)
			<-release
		}
		return false
	})
	d.put(&ferry.Transfer{Name: "w", Source: src, Dest: dst, Watch: true, Recursive: true, DeleteSource: true})
	runScheduler(t, s)
	waitFor(t, "the watch and the first run", func() bool { st := s.States()["w"]; return st.Watching && st.Runs >= 1 })

	write(t, filepath.Join(src, "a.csv"), []byte("a"))
	<-held // the run that copies a.csv is about to remove it
	write(t, filepath.Join(src, "new", "c.csv"), []byte("c"))
	waitFor(t, "the watcher to see new/", func() bool { return transfer.ChangeSeen(s, "w") })
	close(release)
	waitFor(t, "new/c.csv", func() bool { _, err := os.Stat(filepath.Join(dst, "new", "c.csv")); return err == nil })
	mustEqual(t, filepath.Join(dst, "new", "c.csv"), []byte("c"))
}
