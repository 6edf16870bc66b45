package storagetest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/storage"
)

func testMkdir(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	for _, name := range []string{"a", "a/b", "a/b/c"} {
		mkdir(t, fsys, name)
		if fi := stat(t, fsys, name); !fi.IsDir() {
			t.Errorf("%q: mode %v after Mkdir, want a directory", name, fi.Mode())
		}
	}
	writeFile(t, fsys, "a/b/c/f", []byte("deep"))
	wantContent(t, fsys, "a/b/c/f", []byte("deep"))

	wantErr(t, "Mkdir in a missing directory", fsys.Mkdir(ctx, "x/y", 0o755), fs.ErrNotExist)
	wantMissing(t, fsys, "x")
	wantErr(t, "Mkdir on an existing directory", fsys.Mkdir(ctx, "a/b", 0o755), fs.ErrExist)
	wantErr(t, "Mkdir on an existing file", fsys.Mkdir(ctx, "a/b/c/f", 0o755), fs.ErrExist)
	wantContent(t, fsys, "a/b/c/f", []byte("deep"))
}

// readAll reads the directory name in batches of batch entries, failing t on
// a batch that is too large, and returns the entries by name. A name seen
// twice is an error.
func readAll(t *testing.T, fsys storage.FS, name string, batch int) map[string]fs.FileInfo {
	t.Helper()
	d, err := fsys.OpenDir(t.Context(), name)
	if err != nil {
		t.Fatalf("OpenDir %q: %v", name, err)
	}
	defer d.Close()
	seen := make(map[string]fs.FileInfo)
	for calls := 0; ; calls++ {
		if calls > 1_000_000 {
			t.Fatalf("Readdir(%d) on %q never returned io.EOF", batch, name)
		}
		infos, err := d.Readdir(batch)
		if len(infos) > batch {
			t.Errorf("Readdir(%d) returned %d entries", batch, len(infos))
		}
		for _, fi := range infos {
			if _, dup := seen[fi.Name()]; dup {
				t.Errorf("Readdir on %q returned %q twice", name, fi.Name())
			}
			seen[fi.Name()] = fi
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Readdir on %q: %v", name, err)
		}
		if len(infos) == 0 {
			t.Fatalf("Readdir(%d) on %q returned nothing and no error", batch, name)
		}
	}
	if err := d.Close(); err != nil {
		t.Errorf("close dir %q: %v", name, err)
	}
	return seen
}

func testReadDir(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	mkdir(t, fsys, "empty")
	if got := readAll(t, fsys, "empty", 10); len(got) != 0 {
		t.Errorf("empty directory lists %d entries", len(got))
	}

	mkdir(t, fsys, "d")
	mkdir(t, fsys, "d/sub")
	writeFile(t, fsys, "d/a.txt", []byte("12345"))
	writeFile(t, fsys, "d/sub/hidden", []byte("not listed in d"))
	got := readAll(t, fsys, "d", 1)
	if len(got) != 2 || got["a.txt"] == nil || got["sub"] == nil {
		t.Fatalf("d lists %v, want a.txt and sub", keys(got))
	}
	if fi := got["a.txt"]; fi.Size() != 5 || !fi.Mode().IsRegular() {
		t.Errorf("a.txt: size %d mode %v, want 5 regular", fi.Size(), fi.Mode())
	}
	if fi := got["sub"]; !fi.IsDir() {
		t.Errorf("sub: mode %v, want a directory", fi.Mode())
	}
	if root := readAll(t, fsys, ".", 100); len(root) != 2 || root["d"] == nil || root["empty"] == nil {
		t.Errorf(". lists %v, want d and empty", keys(root))
	}

	d, err := fsys.OpenDir(ctx, "missing")
	if err == nil {
		d.Close()
	}
	wantErr(t, "OpenDir missing", err, fs.ErrNotExist)
	d, err = fsys.OpenDir(ctx, "d/a.txt")
	if err == nil {
		d.Close()
		t.Errorf("OpenDir on a file succeeded")
	}
}

// testReadDirLarge lists more entries than one batch holds, many times over,
// the way the front ends stream big directories.
func testReadDirLarge(t *testing.T, fsys storage.FS) {
	const files, dirs = 1100, 20
	mkdir(t, fsys, "big")
	for i := range dirs {
		mkdir(t, fsys, fmt.Sprintf("big/dir%03d", i))
	}
	for i := range files {
		writeFile(t, fsys, fmt.Sprintf("big/file%04d", i), pattern(i%7, uint64(i)))
	}
	got := readAll(t, fsys, "big", 100)
	if len(got) != files+dirs {
		t.Errorf("big lists %d entries, want %d", len(got), files+dirs)
	}
	for i := range files {
		name := fmt.Sprintf("file%04d", i)
		fi := got[name]
		switch {
		case fi == nil:
			t.Errorf("%s missing from the listing", name)
		case fi.Size() != int64(i%7) || !fi.Mode().IsRegular():
			t.Errorf("%s: size %d mode %v, want %d regular", name, fi.Size(), fi.Mode(), i%7)
		}
	}
	for i := range dirs {
		name := fmt.Sprintf("dir%03d", i)
		if fi := got[name]; fi == nil || !fi.IsDir() {
			t.Errorf("%s missing from the listing or not a directory: %v", name, fi)
		}
	}
}

func keys(m map[string]fs.FileInfo) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	return names
}

func testRemove(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	writeFile(t, fsys, "f", []byte("x"))
	mkdir(t, fsys, "empty")
	mkdir(t, fsys, "full")
	writeFile(t, fsys, "full/f", []byte("stays"))

	if err := fsys.Remove(ctx, "f"); err != nil {
		t.Errorf("Remove file: %v", err)
	}
	wantMissing(t, fsys, "f")
	if err := fsys.Remove(ctx, "empty"); err != nil {
		t.Errorf("Remove empty directory: %v", err)
	}
	wantMissing(t, fsys, "empty")

	wantErr(t, "Remove non-empty directory", fsys.Remove(ctx, "full"), ferry.ErrNotEmpty)
	wantContent(t, fsys, "full/f", []byte("stays"))

	wantErr(t, "Remove missing", fsys.Remove(ctx, "missing"), fs.ErrNotExist)
	wantErr(t, "Remove in a missing directory", fsys.Remove(ctx, "missing/f"), fs.ErrNotExist)
}

func testRename(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	data := pattern(5000, 6)
	writeFile(t, fsys, "a", data)
	if err := fsys.Rename(ctx, "a", "b"); err != nil {
		t.Fatalf("Rename a b: %v", err)
	}
	wantMissing(t, fsys, "a")
	wantContent(t, fsys, "b", data)

	writeFile(t, fsys, "c", []byte("replaced"))
	if err := fsys.Rename(ctx, "b", "c"); err != nil {
		t.Fatalf("Rename onto an existing file: %v", err)
	}
	wantMissing(t, fsys, "b")
	wantContent(t, fsys, "c", data)

	mkdir(t, fsys, "d")
	if err := fsys.Rename(ctx, "c", "d/c"); err != nil {
		t.Fatalf("Rename into a directory: %v", err)
	}
	wantContent(t, fsys, "d/c", data)

	mkdir(t, fsys, "full")
	writeFile(t, fsys, "full/x", []byte("x"))
	mkdir(t, fsys, "empty")
	writeFile(t, fsys, "f", []byte("f"))
	for _, to := range []string{"full", "empty"} {
		if err := fsys.Rename(ctx, "f", to); err == nil {
			t.Errorf("Rename of a file onto directory %q succeeded", to)
		}
		if fi := stat(t, fsys, to); !fi.IsDir() {
			t.Errorf("%q: mode %v after a refused rename, want a directory", to, fi.Mode())
		}
	}
	wantContent(t, fsys, "f", []byte("f"))
	wantContent(t, fsys, "full/x", []byte("x"))

	wantErr(t, "Rename missing", fsys.Rename(ctx, "missing", "z"), fs.ErrNotExist)
	wantMissing(t, fsys, "z")
	wantErr(t, "Rename into a missing directory", fsys.Rename(ctx, "f", "nodir/f"), fs.ErrNotExist)
	wantContent(t, fsys, "f", []byte("f"))
}

func testRenameDir(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	mkdir(t, fsys, "src")
	mkdir(t, fsys, "src/sub")
	writeFile(t, fsys, "src/sub/f", []byte("moved"))
	writeFile(t, fsys, "src/g", []byte("too"))
	if err := fsys.Rename(ctx, "src", "dst"); err != nil {
		t.Fatalf("Rename dir: %v", err)
	}
	wantMissing(t, fsys, "src")
	wantContent(t, fsys, "dst/sub/f", []byte("moved"))
	wantContent(t, fsys, "dst/g", []byte("too"))

	mkdir(t, fsys, "into")
	if err := fsys.Rename(ctx, "dst", "into/dst"); err != nil {
		t.Fatalf("Rename dir into a directory: %v", err)
	}
	wantContent(t, fsys, "into/dst/sub/f", []byte("moved"))

	// An existing directory is never replaced, empty or not.
	mkdir(t, fsys, "empty")
	mkdir(t, fsys, "full")
	writeFile(t, fsys, "full/x", []byte("x"))
	for _, to := range []string{"empty", "full"} {
		if err := fsys.Rename(ctx, "into/dst", to); err == nil {
			t.Errorf("Rename of a directory onto directory %q succeeded", to)
		}
	}
	wantContent(t, fsys, "into/dst/sub/f", []byte("moved"))
	wantContent(t, fsys, "full/x", []byte("x"))
	if got := readAll(t, fsys, "empty", 10); len(got) != 0 {
		t.Errorf("empty has %v after a refused rename", keys(got))
	}

	// A directory cannot move onto a file or into itself.
	writeFile(t, fsys, "file", []byte("file"))
	if err := fsys.Rename(ctx, "into/dst", "file"); err == nil {
		t.Errorf("Rename of a directory onto a file succeeded")
	}
	wantContent(t, fsys, "file", []byte("file"))
	if err := fsys.Rename(ctx, "into", "into/dst/sub/into"); err == nil {
		t.Errorf("Rename of a directory into itself succeeded")
	}
	wantContent(t, fsys, "into/dst/sub/f", []byte("moved"))
}

// escapes are names that leave the root: lexically, absolutely, and through
// a directory that exists.
var escapes = []string{
	"..",
	"../x",
	"../../../../../../etc/passwd",
	"/etc/passwd",
	"/x",
	"a/../../x",
	"a/../../../../../../etc/passwd",
}

func testTraversal(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	mkdir(t, fsys, "a")
	writeFile(t, fsys, "f", []byte("inside"))
	refused := []error{fs.ErrPermission, fs.ErrNotExist}
	past := time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)
	for _, name := range escapes {
		check := func(op string, err error) {
			t.Helper()
			wantErr(t, fmt.Sprintf("%s %q", op, name), err, refused...)
		}
		_, err := fsys.Stat(ctx, name)
		check("Stat", err)
		_, err = fsys.Lstat(ctx, name)
		check("Lstat", err)
		for _, flag := range []int{os.O_RDONLY, os.O_WRONLY | os.O_CREATE, os.O_RDWR | os.O_CREATE | os.O_EXCL, os.O_WRONLY | os.O_TRUNC} {
			f, err := fsys.OpenFile(ctx, name, flag, 0o644)
			if err == nil {
				f.Close()
			}
			check(fmt.Sprintf("OpenFile(%#x)", flag), err)
		}
		d, err := fsys.OpenDir(ctx, name)
		if err == nil {
			d.Close()
		}
		check("OpenDir", err)
		check("Mkdir", fsys.Mkdir(ctx, name, 0o755))
		check("Remove", fsys.Remove(ctx, name))
		check("Rename from", fsys.Rename(ctx, name, "got"))
		check("Rename to", fsys.Rename(ctx, "f", name))
		check("Chmod", fsys.Chmod(ctx, name, 0o777))
		check("Chtimes", fsys.Chtimes(ctx, name, past, past))
		if sl, ok := fsys.(storage.Symlinker); ok {
			check("Symlink at", sl.Symlink(ctx, "f", name))
			_, err := sl.Readlink(ctx, name)
			check("Readlink", err)
		}
		if ln, ok := fsys.(storage.Linker); ok {
			check("Link to", ln.Link(ctx, "f", name))
			check("Link from", ln.Link(ctx, name, "got"))
		}
		if sf, ok := fsys.(storage.StatFSer); ok {
			_, err := sf.StatFS(ctx, name)
			check("StatFS", err)
		}
	}
	wantContent(t, fsys, "f", []byte("inside"))
	wantMissing(t, fsys, "got")
	if got := readAll(t, fsys, ".", 100); len(got) != 2 {
		t.Errorf("root lists %v after the traversal attempts, want a and f", keys(got))
	}
}
