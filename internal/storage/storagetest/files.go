package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/storage"
)

func testCreateWriteRead(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	data := pattern(1<<20+17, 1)
	f, err := fsys.OpenFile(ctx, "big.bin", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	// Uneven chunks catch backends that buffer by fixed block sizes.
	for rest, size := data, 1; len(rest) > 0; size = size*3 + 1 {
		n := min(size, len(rest))
		if w, err := f.Write(rest[:n]); err != nil || w != n {
			t.Fatalf("write %d bytes: wrote %d: %v", n, w, err)
		}
		rest = rest[n:]
	}
	if err := f.Sync(); err != nil {
		t.Errorf("Sync: %v", err)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != int64(len(data)) {
		t.Errorf("File.Stat before close: %v, %v; want size %d", fi, err, len(data))
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	wantContent(t, fsys, "big.bin", data)
	if fi := stat(t, fsys, "big.bin"); fi.Size() != int64(len(data)) || !fi.Mode().IsRegular() {
		t.Errorf("stat: size %d mode %v, want %d regular", fi.Size(), fi.Mode(), len(data))
	}

	writeFile(t, fsys, "empty", nil)
	wantContent(t, fsys, "empty", nil)

	// Rewriting with O_TRUNC leaves no tail of the longer old content.
	writeFile(t, fsys, "big.bin", []byte("short"))
	wantContent(t, fsys, "big.bin", []byte("short"))

	mkdir(t, fsys, "sub")
	writeFile(t, fsys, "sub/f.txt", []byte("in a directory\n"))
	wantContent(t, fsys, "sub/f.txt", []byte("in a directory\n"))
}

func testReadAtWriteAt(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	base := pattern(100, 2)
	writeFile(t, fsys, "f", base)
	f, err := fsys.OpenFile(ctx, "f", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("XYZ"), 50); err != nil {
		t.Fatalf("WriteAt 50: %v", err)
	}
	if _, err := f.WriteAt([]byte("END"), 200); err != nil {
		t.Fatalf("WriteAt 200: %v", err)
	}
	want := make([]byte, 203)
	copy(want, base)
	copy(want[50:], "XYZ")
	copy(want[200:], "END") // 100..199 is a hole that reads as zeros

	buf := make([]byte, 5)
	if n, err := f.ReadAt(buf, 48); err != nil || n != 5 || !bytes.Equal(buf, want[48:53]) {
		t.Errorf("ReadAt 48 = %d %q, %v; want 5 %q", n, buf[:n], err, want[48:53])
	}
	if n, err := f.ReadAt(buf, 150); err != nil || n != 5 || !bytes.Equal(buf, make([]byte, 5)) {
		t.Errorf("ReadAt in hole = %d %q, %v; want 5 zero bytes", n, buf[:n], err)
	}
	// A read crossing the end returns what there is and io.EOF.
	if n, err := f.ReadAt(buf, 201); n != 2 || !errors.Is(err, io.EOF) || string(buf[:n]) != "ND" {
		t.Errorf("ReadAt 201 = %d %q, %v; want 2 \"ND\", io.EOF", n, buf[:n], err)
	}
	if n, err := f.ReadAt(buf, 300); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("ReadAt past the end = %d, %v; want 0, io.EOF", n, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	wantContent(t, fsys, "f", want)
}

func testSeek(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	data := pattern(1000, 3)
	writeFile(t, fsys, "f", data)
	f, err := fsys.OpenFile(ctx, "f", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer f.Close()
	if pos, err := f.Seek(0, io.SeekEnd); err != nil || pos != 1000 {
		t.Errorf("Seek end = %d, %v; want 1000", pos, err)
	}
	if pos, err := f.Seek(990, io.SeekStart); err != nil || pos != 990 {
		t.Fatalf("Seek 990 = %d, %v", pos, err)
	}
	rest, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(rest, data[990:]) {
		t.Errorf("read after Seek 990 = %q, %v; want %q", rest, err, data[990:])
	}
	if _, err := f.Seek(-500, io.SeekCurrent); err != nil {
		t.Fatalf("Seek -500 current: %v", err)
	}
	if _, err := f.Write([]byte("mid")); err != nil {
		t.Fatalf("write at 500: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	copy(data[500:], "mid")
	wantContent(t, fsys, "f", data)
}

func testTruncate(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	data := pattern(1000, 4)
	writeFile(t, fsys, "f", data)
	f, err := fsys.OpenFile(ctx, "f", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if err := f.Truncate(10); err != nil {
		t.Fatalf("Truncate 10: %v", err)
	}
	if err := f.Truncate(20); err != nil {
		t.Fatalf("Truncate 20: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	want := append(bytes.Clone(data[:10]), make([]byte, 10)...)
	wantContent(t, fsys, "f", want)
	if fi := stat(t, fsys, "f"); fi.Size() != 20 {
		t.Errorf("size after truncate = %d, want 20", fi.Size())
	}

	f, err = fsys.OpenFile(ctx, "f", os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatalf("open O_TRUNC: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if fi := stat(t, fsys, "f"); fi.Size() != 0 {
		t.Errorf("size after O_TRUNC = %d, want 0", fi.Size())
	}
}

func testAppend(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	writeFile(t, fsys, "f", []byte("hello"))
	f, err := fsys.OpenFile(ctx, "f", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatalf("open O_APPEND: %v", err)
	}
	if _, err := f.Write([]byte(", ")); err != nil {
		t.Fatalf("append: %v", err)
	}
	if _, err := f.Write([]byte("world")); err != nil {
		t.Fatalf("append: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	wantContent(t, fsys, "f", []byte("hello, world"))

	// O_APPEND with O_CREATE creates a missing file.
	f, err = fsys.OpenFile(ctx, "new", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatalf("open O_APPEND|O_CREATE: %v", err)
	}
	if _, err := f.Write([]byte("first")); err != nil {
		t.Fatalf("append: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	wantContent(t, fsys, "new", []byte("first"))
}

func testExclusive(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	writeFile(t, fsys, "f", []byte("keep"))
	mkdir(t, fsys, "d")
	for _, name := range []string{"f", "d"} {
		f, err := fsys.OpenFile(ctx, name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_TRUNC, 0o644)
		if err == nil {
			f.Close()
		}
		wantErr(t, "O_EXCL on existing "+name, err, fs.ErrExist)
	}
	wantContent(t, fsys, "f", []byte("keep"))
	if fi := stat(t, fsys, "d"); !fi.IsDir() {
		t.Errorf("d is no longer a directory: %v", fi.Mode())
	}

	f, err := fsys.OpenFile(ctx, "g", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatalf("O_EXCL on a new name: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func testOpenMissing(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	f, err := fsys.OpenFile(ctx, "missing", os.O_RDONLY, 0)
	if err == nil {
		f.Close()
	}
	wantErr(t, "open missing file", err, fs.ErrNotExist)

	f, err = fsys.OpenFile(ctx, "nodir/f", os.O_WRONLY|os.O_CREATE, 0o644)
	if err == nil {
		f.Close()
	}
	wantErr(t, "create in a missing directory", err, fs.ErrNotExist)
	wantMissing(t, fsys, "nodir")

	mkdir(t, fsys, "d")
	f, err = fsys.OpenFile(ctx, "d", os.O_WRONLY, 0)
	if err == nil {
		f.Close()
		t.Errorf("opening a directory for writing succeeded")
	}
}

func testStat(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	mkdir(t, fsys, "d")
	writeFile(t, fsys, "d/f.txt", pattern(1234, 5))

	for _, name := range []string{"d/f.txt"} {
		for op, statFn := range map[string]func(context.Context, string) (fs.FileInfo, error){
			"Stat": fsys.Stat, "Lstat": fsys.Lstat,
		} {
			fi, err := statFn(ctx, name)
			if err != nil {
				t.Errorf("%s %q: %v", op, name, err)
				continue
			}
			if fi.Name() != "f.txt" || fi.Size() != 1234 || !fi.Mode().IsRegular() || fi.IsDir() {
				t.Errorf("%s %q = name %q size %d mode %v; want f.txt 1234 regular", op, name, fi.Name(), fi.Size(), fi.Mode())
			}
			if fi.ModTime().IsZero() {
				t.Errorf("%s %q: zero modification time", op, name)
			}
		}
	}
	for _, name := range []string{"d", "."} {
		if fi := stat(t, fsys, name); !fi.IsDir() || !fi.Mode().IsDir() {
			t.Errorf("stat %q: mode %v, want a directory", name, fi.Mode())
		}
	}
	_, err := fsys.Stat(ctx, "d/missing")
	wantErr(t, "stat missing", err, fs.ErrNotExist)
	_, err = fsys.Lstat(ctx, "missing/f")
	wantErr(t, "lstat in a missing directory", err, fs.ErrNotExist)
}

func testChmod(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	writeFile(t, fsys, "f", []byte("x"))
	mkdir(t, fsys, "d")
	for _, tc := range []struct {
		name string
		mode fs.FileMode
	}{
		{"f", 0o600}, {"f", 0o644}, {"f", 0o755}, {"d", 0o700}, {"d", 0o750},
	} {
		err := fsys.Chmod(ctx, tc.name, tc.mode)
		if errors.Is(err, errors.ErrUnsupported) {
			t.Skipf("Chmod: %v", err)
		}
		if err != nil {
			t.Errorf("Chmod %q %v: %v", tc.name, tc.mode, err)
			continue
		}
		if got := stat(t, fsys, tc.name).Mode().Perm(); got != tc.mode {
			t.Errorf("after Chmod %q %v: mode %v", tc.name, tc.mode, got)
		}
	}
	wantErr(t, "Chmod missing", fsys.Chmod(ctx, "missing", 0o644), fs.ErrNotExist)
	wantContent(t, fsys, "f", []byte("x"))
}

func testChtimes(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	writeFile(t, fsys, "f", []byte("x"))
	mkdir(t, fsys, "d")
	atime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for i, name := range []string{"f", "d"} {
		mtime := time.Date(2009, 11, 10, 23, 0, i, 0, time.UTC)
		err := fsys.Chtimes(ctx, name, atime, mtime)
		if errors.Is(err, errors.ErrUnsupported) {
			t.Skipf("Chtimes: %v", err)
		}
		if err != nil {
			t.Errorf("Chtimes %q: %v", name, err)
			continue
		}
		if got := stat(t, fsys, name).ModTime(); got.Unix() != mtime.Unix() {
			t.Errorf("after Chtimes %q: mtime %v, want %v", name, got.UTC(), mtime)
		}
	}
	wantErr(t, "Chtimes missing", fsys.Chtimes(ctx, "missing", atime, atime), fs.ErrNotExist)
}

func testContextCancelled(t *testing.T, fsys storage.FS) {
	writeFile(t, fsys, "f", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := fsys.Stat(ctx, "f")
	wantErr(t, "Stat with a cancelled context", err, context.Canceled)
	f, err := fsys.OpenFile(ctx, "g", os.O_WRONLY|os.O_CREATE, 0o644)
	if err == nil {
		f.Close()
	}
	wantErr(t, "create with a cancelled context", err, context.Canceled)
	wantErr(t, "Mkdir with a cancelled context", fsys.Mkdir(ctx, "d", 0o755), context.Canceled)
	wantErr(t, "Remove with a cancelled context", fsys.Remove(ctx, "f"), context.Canceled)
	wantMissing(t, fsys, "g")
	wantMissing(t, fsys, "d")
	wantContent(t, fsys, "f", []byte("x"))
}

// testConcurrent uses one FS from many goroutines; run with -race.
func testConcurrent(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	mkdir(t, fsys, "d")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			name := fmt.Sprintf("d/f%d", i)
			data := pattern(4096+i, uint64(i))
			f, err := fsys.OpenFile(ctx, name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			if _, err := f.Write(data); err != nil {
				errs <- err
				return
			}
			got := make([]byte, len(data))
			if _, err := f.ReadAt(got, 0); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, data) {
				errs <- fmt.Errorf("%s: read back different bytes", name)
				return
			}
			if _, err := fsys.Stat(ctx, name); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
