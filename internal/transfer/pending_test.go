package transfer_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/transfer"
)

// TestMoveServedByFailoverFinishedOnTheBackup: a move whose source was
// read from the failover location (the primary was down), cut short after
// its row, is finished on the backup by the next run, with the primary
// back up: the file there is archived, the row succeeds. A file that
// replaced another crashed one on the backup (another size) is left alone.
func TestMoveServedByFailoverFinishedOnTheBackup(t *testing.T) {
	t.Parallel()
	primary, backup, dst := t.TempDir(), t.TempDir(), t.TempDir()
	write(t, filepath.Join(backup, "sub", "x.csv"), []byte("on the backup"))
	write(t, filepath.Join(backup, "sub", "y.csv"), []byte("y"))
	st, box := newMemStore(), newBox(t)
	st.addLocation(box, "out", primary, "")
	st.addLocation(box, "out-dr", backup, "")
	st.mu.Lock()
	st.locs["out"].Failover = "out-dr"
	st.mu.Unlock()
	var down atomic.Bool
	down.Store(true)
	newRunner := func() *transfer.Runner { // a fresh process: no memory of the outage
		res := &transfer.Resolver{Locations: st, Secrets: box,
			Dialer: func(ctx context.Context, l remote.Location, o remote.Options) (remote.FS, error) {
				if l.Name == "out" && down.Load() {
					return nil, errors.New("primary unreachable")
				}
				return remote.Dial(ctx, l, o)
			}}
		return transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: res, Settle: time.Millisecond,
			Backoff: time.Millisecond, Logger: ferrytest.Logger(t)})
	}
	tr := &ferry.Transfer{Name: "pull", Source: "location:out", Dest: dst, ArchiveTo: "done", Recursive: true}
	crashing := newRunner()
	transfer.CrashAfterRecord(crashing, func(string) bool { return true })
	if out, err := crashing.Run(t.Context(), tr); err != nil || len(out.Files) != 2 {
		t.Fatalf("run with the primary down: %+v, %v", out, err)
	}
	for _, h := range st.records() {
		if h.Status != ferry.TransferRemoving || !strings.HasPrefix(h.Source, backup) {
			t.Fatalf("row after the crash = %+v, want removing, read from the backup", h)
		}
	}
	mustEqual(t, filepath.Join(dst, "sub", "x.csv"), []byte("on the backup"))
	write(t, filepath.Join(backup, "sub", "y.csv"), []byte("a new y, longer"))

	down.Store(false)
	out, err := newRunner().Run(t.Context(), tr)
	if err != nil || len(out.Files) != 0 {
		t.Fatalf("run after the restart: %+v, %v; want nothing to copy", out.Files, err)
	}
	for _, h := range st.records() {
		if h.Status != ferry.TransferOK {
			t.Errorf("row after the restart = %+v, want succeeded", h)
		}
	}
	mustEqual(t, filepath.Join(backup, "done", "sub", "x.csv"), []byte("on the backup"))
	if _, err := os.Stat(filepath.Join(backup, "sub", "x.csv")); !os.IsNotExist(err) {
		t.Errorf("x.csv still at the backup's source: %v", err)
	}
	mustEqual(t, filepath.Join(backup, "sub", "y.csv"), []byte("a new y, longer"))
	if es, _ := os.ReadDir(primary); len(es) != 0 {
		t.Errorf("the primary got %v", es)
	}
}

// TestOnUploadArchiveInVirtualFolderSurvivesACrash: an on_upload move
// with an archive folder, of a file in a virtual folder whose directory is
// outside the home, cut short after its row, is archived by the next run
// where an uninterrupted delivery archives it.
func TestOnUploadArchiveInVirtualFolderSurvivesACrash(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw-a", ferrytest.WithPolicy(func(p *ferry.Policy) {
		p.Mounts = []ferry.Mount{{Path: "/in/shared", Folder: "shared"}}
	})))
	shared := filepath.Join(t.TempDir(), "shared")
	env.Users.PutFolder(&ferry.Folder{Name: "shared", Path: shared})
	write(t, filepath.Join(shared, "x.csv"), []byte("x"))
	write(t, filepath.Join(shared, "y.csv"), []byte("y"))
	if err := os.MkdirAll(env.Home("alice", "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	st, dst := newMemStore(), t.TempDir()
	tr := &ferry.Transfer{Name: "up", OnUpload: "alice:/in/**", Dest: dst, ArchiveTo: "done"}
	newRunner := func() *transfer.Runner {
		return transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{}, Settle: time.Millisecond,
			LocalPath: env.Engine.LocalPath, Logger: ferrytest.Logger(t)})
	}
	// y.csv is delivered without a crash: where it is archived is where
	// the crashed x.csv must go.
	if out, err := newRunner().Deliver(t.Context(), tr, []string{"/in/shared/y.csv"}); err != nil || out.Failed() != 0 {
		t.Fatalf("deliver y.csv: %+v, %v", out, err)
	}
	archived := env.Home("alice", "in", "done", "shared")
	mustEqual(t, filepath.Join(archived, "y.csv"), []byte("y"))

	crashing := newRunner()
	transfer.CrashAfterRecord(crashing, func(string) bool { return true })
	if _, err := crashing.Deliver(t.Context(), tr, []string{"/in/shared/x.csv"}); err != nil {
		t.Fatal(err)
	}
	if h := st.records(); len(h) != 2 || h[1].Status != ferry.TransferRemoving {
		t.Fatalf("history after the crash = %+v", h)
	}
	if _, err := newRunner().Run(t.Context(), tr); err != nil {
		t.Fatal(err)
	}
	if h := st.records(); len(h) != 2 || h[1].Status != ferry.TransferOK {
		t.Errorf("history after the restart = %+v, want two successes", h)
	}
	mustEqual(t, filepath.Join(archived, "x.csv"), []byte("x"))
	if _, err := os.Stat(filepath.Join(shared, "x.csv")); !os.IsNotExist(err) {
		t.Errorf("the source is still in the folder: %v", err)
	}
	mustEqual(t, filepath.Join(dst, "shared", "x.csv"), []byte("x"))
}

// warnings counts the warnings logged, by message.
type warnings struct {
	mu sync.Mutex
	n  map[string]int
}

func (w *warnings) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *warnings) WithGroup(string) slog.Handler            { return w }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		w.mu.Lock()
		w.n[r.Message]++
		w.mu.Unlock()
	}
	return nil
}

func (w *warnings) count(sub string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for m, c := range w.n {
		if strings.Contains(m, sub) {
			n += c
		}
	}
	return n
}

// TestUnfinishableMoveLoggedOnce: a "removing" row whose source cannot be
// found again stays as it is, and is warned about once, not at each run.
func TestUnfinishableMoveLoggedOnce(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	st := newMemStore()
	row := &ferry.TransferRecord{Transfer: "mv", Source: "sftp://elsewhere.example/out/x.csv", Dest: dst + "/x.csv",
		Status: ferry.TransferRemoving, Bytes: 1, Attempts: 1, Started: time.Now()}
	st.AddTransferRecord(t.Context(), row)
	w := &warnings{n: map[string]int{}}
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{}, Settle: time.Millisecond,
		Logger: slog.New(w)})
	tr := &ferry.Transfer{Name: "mv", Source: src, Dest: dst, DeleteSource: true}
	for range 3 {
		if _, err := r.Run(t.Context(), tr); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.count("cannot be completed"); n != 1 {
		t.Errorf("warned %d times about the row, want once", n)
	}
	if h := st.records(); len(h) != 1 || h[0].Status != ferry.TransferRemoving {
		t.Errorf("row = %+v, want it left removing", h)
	}
}

// TestOnUploadCatchUpEntersMounts: the catch-up pass (a Run of an
// on_upload transfer) delivers files in virtual folders mounted below the
// glob's root although the home has no directory at the mount points (nor
// on the way to a deeper one), and a home file hidden by a mount is not
// read.
func TestOnUploadCatchUpEntersMounts(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw-a", ferrytest.WithPolicy(func(p *ferry.Policy) {
		p.Mounts = []ferry.Mount{{Path: "/in/drop", Folder: "drop"}, {Path: "/in/a/b/deep", Folder: "deep"}, {Path: "/elsewhere", Folder: "other"}}
	})))
	folders := t.TempDir()
	for _, n := range []string{"drop", "deep", "other"} {
		env.Users.PutFolder(&ferry.Folder{Name: n, Path: filepath.Join(folders, n)})
		write(t, filepath.Join(folders, n, n+".csv"), []byte("in "+n))
	}
	write(t, env.Home("alice", "in", "home.csv"), []byte("in the home"))
	write(t, env.Home("alice", "in", "a", "own.csv"), []byte("in the home's a/"))
	if err := os.WriteFile(env.Home("alice", "in", "drop"), []byte("a file the mount hides"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, dst := newMemStore(), t.TempDir()
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{}, Settle: time.Millisecond,
		LocalPath: env.Engine.LocalPath, MountPoints: env.Engine.MountPoints, Logger: ferrytest.Logger(t)})
	tr := &ferry.Transfer{Name: "up", OnUpload: "alice:/in/**", Dest: dst}
	out, err := r.Run(t.Context(), tr)
	if err != nil || out.Failed() != 0 {
		t.Fatalf("catch-up: %+v, %v", out, err)
	}
	mustEqual(t, filepath.Join(dst, "drop", "drop.csv"), []byte("in drop"))
	mustEqual(t, filepath.Join(dst, "a", "b", "deep", "deep.csv"), []byte("in deep"))
	mustEqual(t, filepath.Join(dst, "home.csv"), []byte("in the home"))
	mustEqual(t, filepath.Join(dst, "a", "own.csv"), []byte("in the home's a/"))
	if len(out.Files) != 4 {
		t.Errorf("delivered %d files, want 4 (not the mount outside the root, nor the hidden file)", len(out.Files))
	}
	if _, err := os.Stat(filepath.Join(dst, "drop", "other.csv")); !os.IsNotExist(err) {
		t.Errorf("a folder mounted outside the root was delivered: %v", err)
	}
}
