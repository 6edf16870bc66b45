package transfer_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/frontend/sshd"
	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/transfer"
)

func startSSHD(t *testing.T, env *ferrytest.Env) string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	srv, err := sshd.New(sshd.Options{Engine: env.Engine, Logger: ferrytest.Logger(t), HostKeys: []ssh.Signer{signer}})
	if err != nil {
		t.Fatal(err)
	}
	ln := ferrytest.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func loc(t *testing.T, s string) remote.Location {
	t.Helper()
	l, err := remote.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func write(t *testing.T, p string, b []byte) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustEqual(t *testing.T, p string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d expected", p, len(got), len(want))
	}
}

func okAll(t *testing.T, rs []transfer.Result, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Src, r.Err)
		}
	}
}

func TestSFTPRoundTrip(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr := startSSHD(t, env)
	src := t.TempDir()
	a, b := random(2<<20+3), random(777)
	write(t, filepath.Join(src, "out", "a.csv"), a)
	write(t, filepath.Join(src, "out", "deep", "b.csv"), b)
	write(t, filepath.Join(src, "out", "skip.txt"), []byte("x"))
	dial := func(ctx context.Context, l remote.Location) (remote.FS, error) {
		return remote.Dial(ctx, l, remote.Options{Password: "pw", Insecure: true})
	}
	ctx := context.Background()

	// Upload a glob, then a tree.
	cp := transfer.New(transfer.Options{Dial: dial})
	defer cp.Close()
	rs, err := cp.Copy(ctx, []remote.Location{loc(t, filepath.Join(src, "out", "*.csv"))}, loc(t, "sftp://alice@"+addr+"/in/"))
	okAll(t, rs, err)
	if len(rs) != 1 || !strings.HasPrefix(rs[0].Hash, "sha256:") {
		t.Fatalf("results %+v: want one file verified by sha256", rs)
	}
	mustEqual(t, env.Home("alice", "in", "a.csv"), a)
	rs, err = cp.Copy(ctx, []remote.Location{loc(t, filepath.Join(src, "out"))}, loc(t, "sftp://alice@"+addr+"/tree"))
	if err != nil || len(rs) != 1 || rs[0].Err == nil || !strings.Contains(rs[0].Err.Error(), "--recursive") {
		t.Fatalf("a directory without Recursive: %+v, %v", rs, err)
	}

	cpr := transfer.New(transfer.Options{Dial: dial, Recursive: true})
	defer cpr.Close()
	rs, err = cpr.Copy(ctx, []remote.Location{loc(t, filepath.Join(src, "out"))}, loc(t, "sftp://alice@"+addr+"/tree"))
	okAll(t, rs, err)
	mustEqual(t, env.Home("alice", "tree", "deep", "b.csv"), b)
	if _, err := os.Stat(env.Home("alice", "tree", "a.csv"+transfer.DefaultTempSuffix)); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}

	// Download the tree's contents back.
	dst := t.TempDir()
	rs, err = cpr.Copy(ctx, []remote.Location{loc(t, "sftp://alice@"+addr+"/tree/")}, loc(t, dst+"/back/"))
	okAll(t, rs, err)
	if len(rs) != 3 {
		t.Fatalf("downloaded %d files, want 3", len(rs))
	}
	mustEqual(t, filepath.Join(dst, "back", "deep", "b.csv"), b)
	mustEqual(t, filepath.Join(dst, "back", "a.csv"), a)
}

func TestResumeDownload(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr := startSSHD(t, env)
	data := random(1 << 20)
	env.WriteFile(t, "alice", "big.bin", data)
	dst := filepath.Join(t.TempDir(), "big.bin")
	write(t, dst+transfer.DefaultTempSuffix, data[:300000]) // an earlier interrupted copy
	cp := transfer.New(transfer.Options{Dial: func(ctx context.Context, l remote.Location) (remote.FS, error) {
		return remote.Dial(ctx, l, remote.Options{Password: "pw", Insecure: true})
	}, Verify: transfer.VerifyHash})
	defer cp.Close()
	rs, err := cp.Copy(context.Background(), []remote.Location{loc(t, "sftp://alice@"+addr+"/big.bin")}, loc(t, dst))
	okAll(t, rs, err)
	if rs[0].Resumed != 300000 || rs[0].Hash == "" {
		t.Fatalf("result %+v: want resumed at 300000 and hash-verified", rs[0])
	}
	mustEqual(t, dst, data)
}

func TestCorruptPartialIsRedone(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr := startSSHD(t, env)
	data := random(200000)
	env.WriteFile(t, "alice", "f.bin", data)
	dst := filepath.Join(t.TempDir(), "f.bin")
	write(t, dst+transfer.DefaultTempSuffix, random(1000)) // not a prefix of the source
	cp := transfer.New(transfer.Options{Dial: func(ctx context.Context, l remote.Location) (remote.FS, error) {
		return remote.Dial(ctx, l, remote.Options{Password: "pw", Insecure: true})
	}, Retries: 1, Backoff: 1})
	defer cp.Close()
	rs, err := cp.Copy(context.Background(), []remote.Location{loc(t, "sftp://alice@"+addr+"/f.bin")}, loc(t, dst))
	okAll(t, rs, err)
	if rs[0].Attempts != 2 {
		t.Fatalf("attempts = %d, want 2 (hash mismatch, then a fresh copy)", rs[0].Attempts)
	}
	mustEqual(t, dst, data)
}

// flakyFS fails writes after limit bytes, once.
type flakyFS struct {
	remote.FS
	limit *int64
}

type flakyWriter struct {
	remote.Writer
	limit *int64
}

func (f flakyFS) Create(ctx context.Context, p string, off int64) (remote.Writer, error) {
	w, err := f.FS.Create(ctx, p, off)
	return flakyWriter{w, f.limit}, err
}

func (w flakyWriter) Write(b []byte) (int, error) {
	if *w.limit <= 0 {
		return w.Writer.Write(b)
	}
	if int64(len(b)) >= *w.limit {
		n, _ := w.Writer.Write(b[:*w.limit])
		*w.limit = -1
		return n, io.ErrUnexpectedEOF
	}
	*w.limit -= int64(len(b))
	return w.Writer.Write(b)
}

func TestInterruptedCopyResumesOnRetry(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src.bin")
	data := random(3 << 20)
	write(t, src, data)
	dst := filepath.Join(t.TempDir(), "dst.bin")
	limit := int64(1 << 20)
	cp := transfer.New(transfer.Options{Retries: 2, Backoff: 1, Dial: func(ctx context.Context, l remote.Location) (remote.FS, error) {
		return flakyFS{remote.Local(), &limit}, nil
	}})
	defer cp.Close()
	rs, err := cp.Copy(context.Background(), []remote.Location{loc(t, src)}, loc(t, dst))
	okAll(t, rs, err)
	if rs[0].Attempts != 2 || rs[0].Resumed != 1<<20 {
		t.Fatalf("result %+v: want a second attempt resumed at 1 MiB", rs[0])
	}
	mustEqual(t, dst, data)
}

func TestFailures(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.Perm("/=list,download")))
	addr := startSSHD(t, env)
	env.WriteFile(t, "alice", "f.bin", []byte("data"))
	cp := transfer.New(transfer.Options{Retries: 3, Backoff: 1, Dial: func(ctx context.Context, l remote.Location) (remote.FS, error) {
		return remote.Dial(ctx, l, remote.Options{Password: "pw", Insecure: true})
	}})
	defer cp.Close()
	ctx := context.Background()
	dir := t.TempDir()
	rs, err := cp.Copy(ctx, []remote.Location{loc(t, "sftp://alice@"+addr+"/missing.bin")}, loc(t, dir+"/"))
	if err != nil || len(rs) != 1 || rs[0].Err == nil || !strings.Contains(rs[0].Err.Error(), "missing.bin") {
		t.Fatalf("missing source: %+v, %v", rs, err)
	}
	// Upload refused by permissions: not retried, nothing left behind.
	write(t, filepath.Join(dir, "up.bin"), []byte("up"))
	rs, err = cp.Copy(ctx, []remote.Location{loc(t, filepath.Join(dir, "up.bin"))}, loc(t, "sftp://alice@"+addr+"/up.bin"))
	if err != nil || rs[0].Err == nil || rs[0].Attempts != 1 {
		t.Fatalf("refused upload: %+v, %v (want one failed attempt)", rs, err)
	}
	if _, err := os.Stat(env.Home("alice", "up.bin")); !os.IsNotExist(err) {
		t.Fatalf("refused upload left a file: %v", err)
	}
	// Several sources into a file is a usage error.
	var ue transfer.UsageError
	_, err = cp.Copy(ctx, []remote.Location{loc(t, "sftp://alice@"+addr+"/f.bin"), loc(t, "sftp://alice@"+addr+"/f.bin")},
		loc(t, filepath.Join(dir, "up.bin")))
	if !errors.As(err, &ue) {
		t.Fatalf("two sources into a file: %v, want a UsageError", err)
	}
}

// A download to a local file that is not a regular file (/dev/null) is
// written as it is (no temporary name, no fsync) and still verified by
// hash: the digest is taken from the bytes as they are written.
func TestDownloadToDevNull(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(os.DevNull); err != nil {
		t.Skip("no /dev/null")
	}
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr := startSSHD(t, env)
	env.WriteFile(t, "alice", "big.bin", random(3<<20+12345))
	cp := transfer.New(transfer.Options{Dial: func(ctx context.Context, l remote.Location) (remote.FS, error) {
		return remote.Dial(ctx, l, remote.Options{Password: "pw", Insecure: true})
	}, Verify: transfer.VerifyHash})
	defer cp.Close()
	rs, err := cp.Copy(context.Background(), []remote.Location{loc(t, "sftp://alice@"+addr+"/big.bin")}, loc(t, os.DevNull))
	okAll(t, rs, err)
	if !strings.HasPrefix(rs[0].Hash, "sha256:") || rs[0].Size != 3<<20+12345 {
		t.Fatalf("result %+v: want the whole file, hash-verified", rs[0])
	}
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode().IsRegular() {
		t.Fatalf("/dev/null replaced: %v %v", fi, err)
	}
}
