// Package storagetest is the conformance suite for storage backends. Every
// implementation of storage.FS runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.FS { return newTestFS(t) })
//	}
//
// The suite checks bytes and error classes (errors.Is against fs.ErrNotExist,
// fs.ErrExist, fs.ErrPermission, ferry.ErrNotEmpty), never timings. Optional
// capabilities (storage.Symlinker, storage.Linker, storage.StatFSer) are
// tested when the backend has them, and Chmod or Chtimes failing with
// errors.ErrUnsupported skips their tests. Only tests import this package.
package storagetest

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/ferrymft/ferry/internal/storage"
)

// Run runs the suite as parallel subtests. newFS returns an empty FS for one
// subtest; it is called from the subtest with the subtest's t, so it can
// clean up its storage with t.TempDir or t.Cleanup. Run closes the FS when
// the subtest ends and fails the subtest if Close fails.
func Run(t *testing.T, newFS func(t *testing.T) storage.FS) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, fsys storage.FS)
	}{
		{"CreateWriteRead", testCreateWriteRead},
		{"ReadAtWriteAt", testReadAtWriteAt},
		{"Seek", testSeek},
		{"Truncate", testTruncate},
		{"Append", testAppend},
		{"Exclusive", testExclusive},
		{"OpenMissing", testOpenMissing},
		{"Stat", testStat},
		{"Chmod", testChmod},
		{"Chtimes", testChtimes},
		{"ContextCancelled", testContextCancelled},
		{"Concurrent", testConcurrent},
		{"Mkdir", testMkdir},
		{"ReadDir", testReadDir},
		{"ReadDirLarge", testReadDirLarge},
		{"Remove", testRemove},
		{"Rename", testRename},
		{"RenameDir", testRenameDir},
		{"Traversal", testTraversal},
		{"Symlink", testSymlink},
		{"SymlinkEscape", testSymlinkEscape},
		{"Link", testLink},
		{"StatFS", testStatFS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fsys := newFS(t)
			t.Cleanup(func() {
				if err := fsys.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.test(t, fsys)
		})
	}
}

// isAny reports whether err matches one of targets.
func isAny(err error, targets ...error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// wantErr fails t unless err matches one of targets.
func wantErr(t *testing.T, what string, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want an error matching %v", what, targets)
		return
	}
	if !isAny(err, targets...) {
		t.Errorf("%s: error %q matches none of %v", what, err, targets)
	}
}

// pattern returns n deterministic pseudo-random bytes, so a shifted or
// truncated read back is caught.
func pattern(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'f', 'e', 'r', 'r', 'y'})
	_, _ = r.Read(b)
	return b
}

// writeFile creates or truncates name and writes data to it.
func writeFile(t *testing.T, fsys storage.FS, name string, data []byte) {
	t.Helper()
	f, err := fsys.OpenFile(t.Context(), name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatalf("create %q: %v", name, err)
	}
	if n, err := f.Write(data); err != nil || n != len(data) {
		f.Close()
		t.Fatalf("write %q: wrote %d of %d bytes: %v", name, n, len(data), err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %q after writing: %v", name, err)
	}
}

// readFile returns the content of name.
func readFile(t *testing.T, fsys storage.FS, name string) []byte {
	t.Helper()
	f, err := fsys.OpenFile(t.Context(), name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("open %q: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read %q: %v", name, err)
	}
	return b
}

// wantContent fails t unless name holds exactly want.
func wantContent(t *testing.T, fsys storage.FS, name string, want []byte) {
	t.Helper()
	got := readFile(t, fsys, name)
	if !bytes.Equal(got, want) {
		t.Errorf("content of %q: got %d bytes %s, want %d bytes %s", name, len(got), abbrev(got), len(want), abbrev(want))
	}
}

func abbrev(b []byte) string {
	const limit = 32
	if len(b) > limit {
		return string(bytes.ToValidUTF8(b[:limit], []byte("?"))) + "…"
	}
	return string(bytes.ToValidUTF8(b, []byte("?")))
}

// mkdir creates the directory name.
func mkdir(t *testing.T, fsys storage.FS, name string) {
	t.Helper()
	if err := fsys.Mkdir(t.Context(), name, 0o755); err != nil {
		t.Fatalf("mkdir %q: %v", name, err)
	}
}

// wantMissing fails t unless name does not exist (without following a
// final symbolic link).
func wantMissing(t *testing.T, fsys storage.FS, name string) {
	t.Helper()
	fi, err := fsys.Lstat(t.Context(), name)
	if err == nil {
		t.Errorf("%q exists (mode %v), want it missing", name, fi.Mode())
		return
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lstat %q: %v, want fs.ErrNotExist", name, err)
	}
}

// stat returns the FileInfo of name, following a final symbolic link.
func stat(t *testing.T, fsys storage.FS, name string) fs.FileInfo {
	t.Helper()
	fi, err := fsys.Stat(t.Context(), name)
	if err != nil {
		t.Fatalf("stat %q: %v", name, err)
	}
	return fi
}
