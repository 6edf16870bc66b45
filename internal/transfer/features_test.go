package transfer_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/transfer"
)

func localRunner(t *testing.T, st *memStore, res *transfer.Resolver, now func() time.Time) *transfer.Runner {
	if res == nil {
		res = &transfer.Resolver{}
	}
	return transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: res, Settle: time.Millisecond,
		Backoff: time.Millisecond, Now: now, Logger: ferrytest.Logger(t)})
}

func TestManagedOnConflict(t *testing.T) {
	t.Parallel()
	now := func() time.Time { return time.Date(2030, 5, 6, 2, 30, 4, 0, time.UTC) }
	for _, tc := range []struct {
		mode      string
		wantFiles int
		check     func(t *testing.T, dst string)
	}{
		{"", 1, func(t *testing.T, dst string) { mustEqual(t, filepath.Join(dst, "a.csv"), []byte("new")) }},
		{"overwrite", 1, func(t *testing.T, dst string) { mustEqual(t, filepath.Join(dst, "a.csv"), []byte("new")) }},
		{"skip", 0, func(t *testing.T, dst string) { mustEqual(t, filepath.Join(dst, "a.csv"), []byte("old")) }},
		{"rename", 1, func(t *testing.T, dst string) {
			mustEqual(t, filepath.Join(dst, "a.csv"), []byte("old"))
			mustEqual(t, filepath.Join(dst, "a-20300506-023004.csv"), []byte("new"))
		}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			src, dst := t.TempDir(), t.TempDir()
			write(t, filepath.Join(src, "a.csv"), []byte("new"))
			write(t, filepath.Join(src, "b.csv"), []byte("b"))
			write(t, filepath.Join(dst, "a.csv"), []byte("old"))
			st := newMemStore()
			tr := &ferry.Transfer{Name: "c", Source: src, Dest: dst, OnConflict: tc.mode, DeleteSource: true}
			res, err := localRunner(t, st, nil, now).Run(t.Context(), tr)
			if err != nil || res.Failed() != 0 || len(res.Files) != tc.wantFiles+1 {
				t.Fatalf("run: %+v, %v", res, err)
			}
			tc.check(t, dst)
			mustEqual(t, filepath.Join(dst, "b.csv"), []byte("b"))
			_, srcErr := os.Stat(filepath.Join(src, "a.csv"))
			if tc.mode == "skip" {
				if srcErr != nil || res.Skipped != 1 || len(st.records()) != 1 {
					t.Errorf("a skipped file lost its source or was recorded: %v, %+v, %+v", srcErr, res, st.records())
				}
			} else if !os.IsNotExist(srcErr) {
				t.Errorf("source not deleted: %v", srcErr)
			}
			if tc.mode == "rename" {
				// A second conflict within the same second gets a counter.
				write(t, filepath.Join(src, "a.csv"), []byte("newer"))
				if res, err := localRunner(t, st, nil, now).Run(t.Context(), tr); err != nil || res.Failed() != 0 {
					t.Fatalf("second run: %+v, %v", res, err)
				}
				mustEqual(t, filepath.Join(dst, "a-20300506-023004-2.csv"), []byte("newer"))
				if h := st.records(); !strings.HasSuffix(h[len(h)-1].Dest, "a-20300506-023004-2.csv") {
					t.Errorf("history dest = %q, want the renamed name", h[len(h)-1].Dest)
				}
			}
		})
	}
}

func TestManagedExclude(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	for _, p := range []string{"a.csv", "a.tmp", "keep/b.csv", "skipdir/c.csv", "sub/d.csv", "sub/e.csv"} {
		write(t, filepath.Join(src, p), []byte(p))
	}
	tr := &ferry.Transfer{Name: "x", Source: src, Dest: dst, Recursive: true, Exclude: []string{"*.tmp", "skipdir", "sub/e.csv"}}
	res, err := localRunner(t, newMemStore(), nil, nil).Run(t.Context(), tr)
	if err != nil || res.Failed() != 0 || len(res.Files) != 3 {
		t.Fatalf("run: %+v, %v", res, err)
	}
	for _, p := range []string{"a.csv", "keep/b.csv", "sub/d.csv"} {
		mustEqual(t, filepath.Join(dst, p), []byte(p))
	}
	for _, p := range []string{"a.tmp", "skipdir", "sub/e.csv"} {
		if _, err := os.Stat(filepath.Join(dst, p)); !os.IsNotExist(err) {
			t.Errorf("excluded %s was copied: %v", p, err)
		}
	}
}

// failingFS refuses to write names containing "bad".
type failingFS struct{ remote.FS }

func (f failingFS) Create(ctx context.Context, p string, off int64) (remote.Writer, error) {
	if strings.Contains(filepath.Base(p), "bad") {
		return nil, errors.New("refused by the test destination")
	}
	return f.FS.Create(ctx, p, off)
}

func TestManagedFailedFolder(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "good.csv"), []byte("g"))
	write(t, filepath.Join(src, "bad.csv"), []byte("b"))
	res := &transfer.Resolver{Dialer: func(ctx context.Context, l remote.Location, o remote.Options) (remote.FS, error) {
		f, err := remote.Dial(ctx, l, o)
		return failingFS{f}, err
	}}
	st := newMemStore()
	r := localRunner(t, st, res, nil)
	tr := &ferry.Transfer{Name: "f", Source: src, Dest: dst, ArchiveTo: "done", FailedTo: "failed", Retries: 2, Recursive: true}
	got, err := r.Run(t.Context(), tr)
	if err != nil || len(got.Files) != 2 || got.Failed() != 1 {
		t.Fatalf("run: %+v, %v", got, err)
	}
	mustEqual(t, filepath.Join(src, "failed", "bad.csv"), []byte("b"))
	mustEqual(t, filepath.Join(src, "done", "good.csv"), []byte("g"))
	var failed ferry.TransferRecord
	for _, h := range st.records() {
		if h.Status == ferry.TransferFailed {
			failed = h
		}
	}
	if !strings.Contains(failed.Error, "failed folder") || !strings.Contains(failed.Error, "refused by the test destination") {
		t.Errorf("failed row = %+v", failed)
	}
	// Neither the failed nor the archive folder is picked again.
	if got, err := r.Run(t.Context(), tr); err != nil || len(got.Files) != 0 {
		t.Fatalf("second run: %+v, %v", got, err)
	}
}

// barrierFS holds each Open until n are open at once (or the test's
// deadline), proving files are copied in parallel.
type barrierFS struct {
	remote.FS
	b *barrier
}

type barrier struct {
	mu   sync.Mutex
	n    int
	seen int
	max  int
	all  chan struct{}
}

func (f barrierFS) Open(ctx context.Context, p string, off int64) (io.ReadCloser, error) {
	b := f.b
	b.mu.Lock()
	b.seen++
	b.max = max(b.max, b.seen)
	if b.seen == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-time.After(10 * time.Second):
	}
	return f.FS.Open(ctx, p, off)
}

func TestManagedParallel(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	for _, n := range []string{"a", "b", "c", "d"} {
		write(t, filepath.Join(src, n), []byte(n))
	}
	b := &barrier{n: 3, all: make(chan struct{})}
	res := &transfer.Resolver{Dialer: func(ctx context.Context, l remote.Location, o remote.Options) (remote.FS, error) {
		f, err := remote.Dial(ctx, l, o)
		return barrierFS{f, b}, err
	}}
	tr := &ferry.Transfer{Name: "p", Source: src, Dest: dst, Parallel: 3}
	got, err := localRunner(t, newMemStore(), res, nil).Run(t.Context(), tr)
	if err != nil || len(got.Files) != 4 || got.Failed() != 0 {
		t.Fatalf("run: %+v, %v", got, err)
	}
	select {
	case <-b.all:
	default:
		t.Fatalf("never %d files open at once (max %d)", b.n, b.max)
	}
	for _, n := range []string{"a", "b", "c", "d"} {
		mustEqual(t, filepath.Join(dst, n), []byte(n))
	}
}

// A partial file left by an interrupted copy is resumed, and the history
// counts the interrupted attempt.
func TestManagedResumeCountsTheInterruptedAttempt(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	data := random(100 << 10)
	write(t, filepath.Join(src, "big.bin"), data)
	write(t, filepath.Join(dst, "big.bin"+transfer.DefaultTempSuffix), data[:40<<10])
	st := newMemStore()
	tr := &ferry.Transfer{Name: "r", Source: src, Dest: dst, Verify: "size"}
	got, err := localRunner(t, st, nil, nil).Run(t.Context(), tr)
	if err != nil || len(got.Files) != 1 || got.Failed() != 0 || got.Files[0].Resumed != 40<<10 {
		t.Fatalf("run: %+v, %v", got, err)
	}
	mustEqual(t, filepath.Join(dst, "big.bin"), data)
	if h := st.records(); len(h) != 1 || h[0].Attempts != 2 || h[0].Status != ferry.TransferOK {
		t.Errorf("history = %+v, want one success with 2 attempts", h)
	}
}

func TestTransferValidateNewFields(t *testing.T) {
	t.Parallel()
	for _, tr := range []ferry.Transfer{
		{OnConflict: "merge"}, {Parallel: -1}, {Parallel: 65}, {Exclude: []string{"[x"}}, {RateLimit: -1},
		{FailedTo: "done", ArchiveTo: "done"},
	} {
		tr.Name, tr.Source, tr.Dest = "t", "/a", "/b"
		if err := tr.Validate(); !errors.Is(err, ferry.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", tr, err)
		}
	}
}

// Pausing (disabling) a transfer stops its run in progress.
func TestSchedulerPauseStopsTheRun(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "big.bin"), random(4<<20))
	d := &defs{ts: map[string]*ferry.Transfer{}}
	st := newMemStore()
	s := transfer.NewScheduler(transfer.SchedulerOptions{Transfers: d, Changes: d.Changes, Runner: localRunner(t, st, nil, nil),
		Tick: 2 * time.Millisecond, Logger: ferrytest.Logger(t)})
	// 64 KiB/s: the 4 MiB file takes a minute, long enough to pause it.
	tr := &ferry.Transfer{Name: "slow", Source: src, Dest: dst, Every: time.Hour, RateLimit: 64 << 10}
	d.put(tr)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	part := filepath.Join(dst, "big.bin"+transfer.DefaultTempSuffix)
	waitFor(t, "the copy to start", func() bool { fi, err := os.Stat(part); return err == nil && fi.Size() > 0 })
	paused := *tr
	paused.Disabled = true
	d.put(&paused)
	waitFor(t, "the run to stop", func() bool { st := s.States()["slow"]; return st.Runs == 1 && !st.Running })
	h := st.records()
	if len(h) != 1 || h[0].Status != ferry.TransferFailed || !strings.Contains(h[0].Error, "interrupted") {
		t.Fatalf("history = %+v", h)
	}
	if _, err := os.Stat(part); err != nil {
		t.Errorf("the partial file was not kept for resuming: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "big.bin")); !os.IsNotExist(err) {
		t.Errorf("a partial copy under the final name: %v", err)
	}
}
