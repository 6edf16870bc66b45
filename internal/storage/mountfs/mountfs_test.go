package mountfs_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ferrymft/ferry/internal/storage"
	"github.com/ferrymft/ferry/internal/storage/local"
	"github.com/ferrymft/ferry/internal/storage/mountfs"
	"github.com/ferrymft/ferry/internal/storage/storagetest"
)

func newLocal(t *testing.T, dir string) storage.FS {
	t.Helper()
	f, err := local.New(local.Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestConformance runs the contract through the router (with no mounts a
// listing must show exactly what the suite created).
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.FS {
		return mountfs.New(newLocal(t, t.TempDir()), nil)
	})
}

func names(t *testing.T, f storage.FS, dir string) []string {
	t.Helper()
	d, err := f.OpenDir(context.Background(), dir)
	if err != nil {
		t.Fatalf("OpenDir(%q): %v", dir, err)
	}
	defer d.Close()
	var out []string
	for {
		batch, err := d.Readdir(2)
		for _, fi := range batch {
			out = append(out, fi.Name())
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(out)
	return out
}

func TestMounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	home, shared, reports := t.TempDir(), t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(home, "mine.txt"), []byte("mine"), 0o644)
	os.Mkdir(filepath.Join(home, "shared"), 0o755) // shadowed by the mount
	os.WriteFile(filepath.Join(shared, "common.txt"), []byte("common"), 0o644)
	os.WriteFile(filepath.Join(reports, "r.csv"), []byte("r"), 0o644)
	m := mountfs.New(newLocal(t, home), []mountfs.Mount{
		{Path: "shared", FS: newLocal(t, shared)},
		{Path: "deep/reports", FS: newLocal(t, reports), ReadOnly: true},
	})
	defer m.Close()

	if got := names(t, m, "."); !slices.Equal(got, []string{"deep", "mine.txt", "shared"}) {
		t.Errorf("root lists %v", got)
	}
	if got := names(t, m, "deep"); !slices.Equal(got, []string{"reports"}) {
		t.Errorf("deep lists %v", got)
	}
	if got := names(t, m, "shared"); !slices.Equal(got, []string{"common.txt"}) {
		t.Errorf("shared lists %v", got)
	}
	if fi, err := m.Stat(ctx, "deep"); err != nil || !fi.IsDir() {
		t.Errorf("Stat(deep) = %v, %v", fi, err)
	}
	if fi, err := m.Stat(ctx, "shared"); err != nil || !fi.IsDir() || fi.Name() != "shared" {
		t.Errorf("Stat(shared) = %v, %v", fi, err)
	}
	// Writes land in the folder's own directory.
	f, err := m.OpenFile(ctx, "shared/new.txt", os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("new"))
	f.Close()
	if b, _ := os.ReadFile(filepath.Join(shared, "new.txt")); string(b) != "new" {
		t.Errorf("write through the mount landed elsewhere: %q", b)
	}
	// Read-only folders refuse every write; reads work.
	if _, err := m.OpenFile(ctx, "deep/reports/x", os.O_WRONLY|os.O_CREATE, 0o644); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("write to a read-only folder: %v", err)
	}
	if err := m.Remove(ctx, "deep/reports/r.csv"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("delete in a read-only folder: %v", err)
	}
	if f, err := m.OpenFile(ctx, "deep/reports/r.csv", os.O_RDONLY, 0); err != nil {
		t.Errorf("read from a read-only folder: %v", err)
	} else {
		f.Close()
	}
	// The mount point itself cannot be removed or renamed, and nothing
	// moves across backends.
	if err := m.Remove(ctx, "shared"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("remove mount point: %v", err)
	}
	if err := m.Rename(ctx, "mine.txt", "shared/mine.txt"); !errors.Is(err, mountfs.ErrCrossMount) {
		t.Errorf("rename across: %v", err)
	}
	if err := m.Rename(ctx, "shared/new.txt", "shared/renamed.txt"); err != nil {
		t.Errorf("rename inside a folder: %v", err)
	}
	if !m.Mounted("shared/x") || m.Mounted("sharedx") || m.Mounted("mine.txt") {
		t.Error("Mounted")
	}
}
