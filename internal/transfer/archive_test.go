package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/transfer"
)

// crossDevice makes every archive rename of r fail with EXDEV, as a rename
// into a folder on another file system does, and counts them.
func crossDevice(r *transfer.Runner) func() int {
	var mu sync.Mutex
	n := 0
	transfer.RenameHook(r, func(from, to string) error {
		mu.Lock()
		n++
		mu.Unlock()
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EXDEV}
	})
	return func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// hidden lists the hidden files left under dir (a temporary copy).
func hidden(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestManagedArchiveAcrossFileSystems: archive and failed folders on
// another file system (every rename into them fails with EXDEV) get a
// complete copy under the final name, the source goes, and no temporary
// file is left.
func TestManagedArchiveAcrossFileSystems(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	write(t, filepath.Join(src, "good.csv"), big)
	write(t, filepath.Join(src, "sub", "deep.csv"), []byte("deep"))
	write(t, filepath.Join(src, "bad.csv"), []byte("b"))
	res := &transfer.Resolver{Dialer: func(ctx context.Context, l remote.Location, o remote.Options) (remote.FS, error) {
		f, err := remote.Dial(ctx, l, o)
		return failingFS{f}, err
	}}
	st := newMemStore()
	r := localRunner(t, st, res, nil)
	renames := crossDevice(r)
	tr := &ferry.Transfer{Name: "x", Source: src, Dest: dst, ArchiveTo: "done", FailedTo: "failed", Retries: 1, Recursive: true}
	got, err := r.Run(t.Context(), tr)
	if err != nil || len(got.Files) != 3 || got.Failed() != 1 {
		t.Fatalf("run: %+v, %v", got, err)
	}
	if n := renames(); n != 3 {
		t.Errorf("%d archive renames, want 3 (each crossing file systems)", n)
	}
	mustEqual(t, filepath.Join(dst, "good.csv"), big)
	mustEqual(t, filepath.Join(src, "done", "good.csv"), big)
	mustEqual(t, filepath.Join(src, "done", "sub", "deep.csv"), []byte("deep"))
	mustEqual(t, filepath.Join(src, "failed", "bad.csv"), []byte("b"))
	for _, n := range []string{"good.csv", "bad.csv", filepath.Join("sub", "deep.csv")} {
		if _, err := os.Stat(filepath.Join(src, n)); !os.IsNotExist(err) {
			t.Errorf("source %s not removed: %v", n, err)
		}
	}
	if h := hidden(t, src); len(h) != 0 {
		t.Errorf("temporary files left: %v", h)
	}
	for _, h := range st.records() {
		if filepath.Base(h.Source) != "bad.csv" && h.Status != ferry.TransferOK {
			t.Errorf("row %+v, want succeeded", h)
		}
	}
}

// TestManagedArchiveAcrossFileSystemsFails: when the copy into the archive
// folder cannot be made, the source stays and nothing appears under the
// archived name.
func TestManagedArchiveAcrossFileSystemsFails(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "a.csv"), []byte("a"))
	// A directory where the temporary copy goes: it cannot be created.
	if err := os.MkdirAll(filepath.Join(src, "done", ".a.csv"+transfer.DefaultTempSuffix), 0o755); err != nil {
		t.Fatal(err)
	}
	st := newMemStore()
	r := localRunner(t, st, nil, nil)
	crossDevice(r)
	tr := &ferry.Transfer{Name: "x", Source: src, Dest: dst, ArchiveTo: "done"}
	got, err := r.Run(t.Context(), tr)
	if err != nil || len(got.Files) != 1 || got.Failed() != 1 {
		t.Fatalf("run: %+v, %v", got, err)
	}
	if !strings.Contains(got.Files[0].Err.Error(), "across file systems") {
		t.Errorf("error %v does not say the move crossed file systems", got.Files[0].Err)
	}
	mustEqual(t, filepath.Join(src, "a.csv"), []byte("a"))
	if _, err := os.Stat(filepath.Join(src, "done", "a.csv")); !os.IsNotExist(err) {
		t.Errorf("archived name exists after a failed copy: %v", err)
	}
}

// TestManagedArchiveAcrossFileSystemsOnFailover: a source read from its
// location's failover (the primary is down) is archived across file
// systems on the backup, at the backup's paths.
func TestManagedArchiveAcrossFileSystemsOnFailover(t *testing.T) {
	t.Parallel()
	primary, backup, dst := t.TempDir(), t.TempDir(), t.TempDir()
	write(t, filepath.Join(backup, "x.csv"), []byte("on the backup"))
	st, box := newMemStore(), newBox(t)
	st.addLocation(box, "out", primary, "")
	st.addLocation(box, "out-dr", backup, "")
	st.mu.Lock()
	st.locs["out"].Failover = "out-dr"
	st.mu.Unlock()
	res := &transfer.Resolver{Locations: st, Secrets: box,
		Dialer: func(ctx context.Context, l remote.Location, o remote.Options) (remote.FS, error) {
			if l.Name == "out" {
				return nil, errors.New("primary unreachable")
			}
			return remote.Dial(ctx, l, o)
		}}
	r := localRunner(t, st, res, nil)
	crossDevice(r)
	tr := &ferry.Transfer{Name: "pull", Source: "location:out", Dest: dst, ArchiveTo: "done"}
	if out, err := r.Run(t.Context(), tr); err != nil || len(out.Files) != 1 || out.Failed() != 0 {
		t.Fatalf("run: %+v, %v", out, err)
	}
	mustEqual(t, filepath.Join(backup, "done", "x.csv"), []byte("on the backup"))
	if _, err := os.Stat(filepath.Join(backup, "x.csv")); !os.IsNotExist(err) {
		t.Errorf("source not removed from the backup: %v", err)
	}
	if h := hidden(t, backup); len(h) != 0 {
		t.Errorf("temporary files left: %v", h)
	}
	if es, _ := os.ReadDir(primary); len(es) != 0 {
		t.Errorf("the primary got %v", es)
	}
}
