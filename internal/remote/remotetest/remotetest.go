// Package remotetest is the conformance suite every remote.FS client runs
// against every server it supports (Ferry's own services, vsftpd,
// OpenSSH…). Only tests import it.
package remotetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"testing"

	"github.com/ferrymft/ferry/internal/remote"
)

// Target is a connected client and a writable, empty directory on its
// server (an absolute remote path).
type Target struct {
	FS   remote.FS
	Root string
	// NoResumeUpload marks servers (or clients) that cannot continue an
	// upload at an offset; the suite then expects errors.ErrUnsupported.
	NoResumeUpload bool
}

// Dial returns a fresh target for one subtest.
type Dial func(t *testing.T) Target

// Run runs the suite; each case gets its own connection from dial.
func Run(t *testing.T, dial Dial) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Target)
	}{
		{"WriteReadBack", writeReadBack},
		{"ReadAtOffset", readAtOffset},
		{"ResumeUpload", resumeUpload},
		{"ListAndStat", listAndStat},
		{"RenameReplaces", renameReplaces},
		{"RemoveAndMissing", removeAndMissing},
		{"MkdirRmdir", mkdirRmdir},
		{"Hash", hashMatches},
		{"EmptyFile", emptyFile},
		{"SequentialTransfers", sequential},
	} {
		t.Run(c.name, func(t *testing.T) {
			tg := dial(t)
			t.Cleanup(func() { tg.FS.Close() })
			c.fn(t, tg)
		})
	}
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Put writes a whole file.
func Put(t *testing.T, f remote.FS, p string, data []byte) {
	t.Helper()
	w, err := f.Create(context.Background(), p, 0)
	if err != nil {
		t.Fatalf("Create(%s): %v", p, err)
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		t.Fatalf("Write(%s): %v", p, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close(%s): %v", p, err)
	}
}

// Get reads a whole file from an offset.
func Get(t *testing.T, f remote.FS, p string, off int64) []byte {
	t.Helper()
	r, err := f.Open(context.Background(), p, off)
	if err != nil {
		t.Fatalf("Open(%s, %d): %v", p, off, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		r.Close()
		t.Fatalf("Read(%s): %v", p, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close after reading %s: %v", p, err)
	}
	return b
}

func writeReadBack(t *testing.T, tg Target) {
	data := random(t, 3<<20+17)
	p := path.Join(tg.Root, "big file.bin")
	Put(t, tg.FS, p, data)
	if got := Get(t, tg.FS, p, 0); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want the %d written", len(got), len(data))
	}
	e, err := tg.FS.Stat(context.Background(), p)
	if err != nil || e.Size != int64(len(data)) || e.Dir {
		t.Fatalf("Stat = %+v, %v; want a %d-byte file", e, err, len(data))
	}
}

func readAtOffset(t *testing.T, tg Target) {
	data := random(t, 100000)
	p := path.Join(tg.Root, "off.bin")
	Put(t, tg.FS, p, data)
	if got := Get(t, tg.FS, p, 12345); !bytes.Equal(got, data[12345:]) {
		t.Fatalf("read from 12345: %d bytes, want %d", len(got), len(data)-12345)
	}
	// Giving up early must leave the connection usable.
	r, err := tg.FS.Open(context.Background(), p, 0)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(r, make([]byte, 10))
	r.Close()
	if _, err := tg.FS.Stat(context.Background(), p); err != nil {
		t.Fatalf("Stat after an abandoned read: %v", err)
	}
}

func resumeUpload(t *testing.T, tg Target) {
	data := random(t, 200000)
	p := path.Join(tg.Root, "resume.bin")
	Put(t, tg.FS, p, data[:70000])
	w, err := tg.FS.Create(context.Background(), p, 70000)
	if tg.NoResumeUpload {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("Create at an offset = %v, want errors.ErrUnsupported", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Create at 70000: %v", err)
	}
	if _, err := w.Write(data[70000:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := Get(t, tg.FS, p, 0); !bytes.Equal(got, data) {
		t.Fatalf("resumed file has %d bytes, want %d (or differs)", len(got), len(data))
	}
}

func listAndStat(t *testing.T, tg Target) {
	ctx := context.Background()
	Put(t, tg.FS, path.Join(tg.Root, "a.csv"), []byte("12345"))
	Put(t, tg.FS, path.Join(tg.Root, "b c.txt"), []byte("1"))
	if err := tg.FS.Mkdir(ctx, path.Join(tg.Root, "sub")); err != nil {
		t.Fatal(err)
	}
	es, err := tg.FS.List(ctx, tg.Root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name)
		switch e.Name {
		case "a.csv":
			if e.Size != 5 || e.Dir {
				t.Errorf("a.csv listed as %+v", e)
			}
		case "sub":
			if !e.Dir {
				t.Errorf("sub listed as %+v", e)
			}
		}
	}
	slices.Sort(names)
	if want := []string{"a.csv", "b c.txt", "sub"}; !slices.Equal(names, want) {
		t.Fatalf("List = %q, want %q", names, want)
	}
	e, err := tg.FS.Stat(ctx, path.Join(tg.Root, "sub"))
	if err != nil || !e.Dir {
		t.Fatalf("Stat(sub) = %+v, %v", e, err)
	}
	if _, err := tg.FS.Stat(ctx, path.Join(tg.Root, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat(missing) = %v, want fs.ErrNotExist", err)
	}
}

func renameReplaces(t *testing.T, tg Target) {
	ctx := context.Background()
	from, to := path.Join(tg.Root, "new.part"), path.Join(tg.Root, "final.csv")
	Put(t, tg.FS, to, []byte("old"))
	Put(t, tg.FS, from, []byte("new contents"))
	if err := tg.FS.Rename(ctx, from, to); err != nil {
		t.Fatal(err)
	}
	if got := Get(t, tg.FS, to, 0); string(got) != "new contents" {
		t.Fatalf("after rename: %q", got)
	}
	if _, err := tg.FS.Stat(ctx, from); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("source still there: %v", err)
	}
}

func removeAndMissing(t *testing.T, tg Target) {
	ctx := context.Background()
	p := path.Join(tg.Root, "gone.txt")
	Put(t, tg.FS, p, []byte("x"))
	if err := tg.FS.Remove(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.FS.Open(ctx, p, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(removed) = %v, want fs.ErrNotExist", err)
	}
	if _, err := tg.FS.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat(removed) = %v, want fs.ErrNotExist", err)
	}
}

func mkdirRmdir(t *testing.T, tg Target) {
	ctx := context.Background()
	d := path.Join(tg.Root, "x", "y", "z")
	if err := remote.MkdirAll(ctx, tg.FS, d); err != nil {
		t.Fatal(err)
	}
	if err := remote.MkdirAll(ctx, tg.FS, d); err != nil {
		t.Fatalf("MkdirAll again: %v", err)
	}
	Put(t, tg.FS, path.Join(d, "f"), []byte("f"))
	if es, err := tg.FS.List(ctx, d); err != nil || len(es) != 1 {
		t.Fatalf("List(%s) = %+v, %v", d, es, err)
	}
	if err := tg.FS.Remove(ctx, path.Join(d, "f")); err != nil {
		t.Fatal(err)
	}
	if err := tg.FS.Rmdir(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.FS.Stat(ctx, d); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat(removed dir) = %v", err)
	}
}

func hashMatches(t *testing.T, tg Target) {
	h, ok := tg.FS.(remote.Hasher)
	if !ok {
		t.Skip("no Hasher")
	}
	data := random(t, 54321)
	p := path.Join(tg.Root, "h.bin")
	Put(t, tg.FS, p, data)
	sum, err := h.Hash(context.Background(), p, "sha256")
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("server has no hash: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(sum, want[:]) {
		t.Fatalf("Hash = %x, want %x", sum, want)
	}
	// The connection stays usable after a hash.
	if _, err := tg.FS.Stat(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

func emptyFile(t *testing.T, tg Target) {
	p := path.Join(tg.Root, "empty")
	Put(t, tg.FS, p, nil)
	if got := Get(t, tg.FS, p, 0); len(got) != 0 {
		t.Fatalf("empty file read as %d bytes", len(got))
	}
	if e, err := tg.FS.Stat(context.Background(), p); err != nil || e.Size != 0 {
		t.Fatalf("Stat = %+v, %v", e, err)
	}
}

func sequential(t *testing.T, tg Target) {
	for i := range 20 {
		p := path.Join(tg.Root, "seq")
		data := random(t, 1000+i)
		Put(t, tg.FS, p, data)
		if got := Get(t, tg.FS, p, 0); !bytes.Equal(got, data) {
			t.Fatalf("round %d differs", i)
		}
	}
}
