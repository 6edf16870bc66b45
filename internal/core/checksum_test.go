package core_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/netip"
	"os"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/events"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/storage/local"
)

// onlyReader hides WriteTo and the like, as a socket's reader would be.
type onlyReader struct{ io.Reader }

func TestUploadChecksum(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte("0123456789abcdef"), 70000) // > one ReadFrom chunk of buffers
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	for _, tt := range []struct {
		name     string
		checksum string
		opts     core.WriteOptions
		write    func(up *core.Upload) error
		want     string
	}{
		{"Write", "", core.WriteOptions{}, func(up *core.Upload) error {
			_, err := io.Copy(struct{ io.Writer }{up}, bytes.NewReader(data))
			return err
		}, want},
		{"ReadFrom", "sha256", core.WriteOptions{}, func(up *core.Upload) error {
			_, err := up.ReadFrom(onlyReader{bytes.NewReader(data)})
			return err
		}, want},
		{"ReadFrom auto, not a socket", "", core.WriteOptions{}, func(up *core.Upload) error {
			_, err := up.ReadFrom(onlyReader{iotest.HalfReader(bytes.NewReader(data))})
			return err
		}, want},
		{"WriteAt in order", "", core.WriteOptions{}, func(up *core.Upload) error {
			for off := 0; off < len(data); off += 32768 {
				if _, err := up.WriteAt(data[off:min(off+32768, len(data))], int64(off)); err != nil {
					return err
				}
			}
			return nil
		}, want},
		{"WriteAt out of order", "", core.WriteOptions{}, func(up *core.Upload) error {
			half := len(data) / 2
			if _, err := up.WriteAt(data[half:], int64(half)); err != nil {
				return err
			}
			_, err := up.WriteAt(data[:half], 0)
			return err
		}, ""},
		{"none", core.ChecksumNone, core.WriteOptions{}, func(up *core.Upload) error {
			_, err := up.ReadFrom(onlyReader{bytes.NewReader(data)})
			return err
		}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.Perm("/=all")))
			bus := events.New(events.Options{})
			rec := make(chan ferry.Event, 100)
			bus.Subscribe(context.Background(), "test", 100, func(_ context.Context, ev ferry.Event) { rec <- ev })
			eng, err := core.New(core.Options{Users: env.Users, Storage: local.NewOpener(local.OpenerOptions{}),
				Events: bus, CreateHome: true, UploadChecksum: tt.checksum})
			if err != nil {
				t.Fatal(err)
			}
			s, err := eng.Login(t.Context(), core.LoginRequest{Protocol: ferry.SFTP, User: "alice", Password: "pw",
				Remote: netip.MustParseAddrPort("127.0.0.1:1")})
			if err != nil {
				t.Fatal(err)
			}
			up, err := s.OpenWrite(t.Context(), "/f.bin", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.write(up); err != nil {
				t.Fatal(err)
			}
			if err := up.Commit(); err != nil {
				t.Fatal(err)
			}
			s.Close()
			bus.Close()
			close(rec)
			var got *ferry.Event
			for ev := range rec {
				if ev.Type == ferry.EventUpload {
					got = &ev
				}
			}
			if got == nil || got.SHA256 != tt.want || got.Size != int64(len(data)) {
				t.Errorf("upload event = %+v, want sha256 %q", got, tt.want)
			}
		})
	}
}

func TestHashServesUploadDigest(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.Perm("/=all")))
	s, err := env.Engine.Login(t.Context(), core.LoginRequest{Protocol: ferry.FTP, User: "alice", Password: "pw",
		Remote: netip.MustParseAddrPort("127.0.0.1:1")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	up, err := s.OpenWrite(t.Context(), "/a.txt", core.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("original"))
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	orig := sha256.Sum256([]byte("original"))
	p := env.Home("alice", "a.txt")
	fi, _ := os.Stat(p)

	// Same size and time as uploaded: the recorded digest is served, not
	// a re-read (which would see the new bytes).
	os.WriteFile(p, []byte("imposter"), 0o644)
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	if got, err := s.Hash(t.Context(), "/a.txt", "sha256", 0, -1); err != nil || !bytes.Equal(got, orig[:]) {
		t.Errorf("Hash of an unchanged upload = %x, %v; want the recorded %x", got, err, orig)
	}
	// Changed since (mtime moved): hashed from the file.
	os.Chtimes(p, fi.ModTime().Add(time.Second), fi.ModTime().Add(time.Second))
	now := sha256.Sum256([]byte("imposter"))
	if got, err := s.Hash(t.Context(), "/a.txt", "sha256", 0, -1); err != nil || !bytes.Equal(got, now[:]) {
		t.Errorf("Hash of a changed file = %x, %v; want %x", got, err, now)
	}
}

// TestHashKeepsWholeFileDigest: a SHA-256 of a whole file computed for a
// client (a file put in place without an upload) is kept like an
// upload's, so the next request is not a re-read; ranges, other
// algorithms and changed files are not kept.
func TestHashKeepsWholeFileDigest(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.Perm("/=all")))
	s, err := env.Engine.Login(t.Context(), core.LoginRequest{Protocol: ferry.SFTP, User: "alice", Password: "pw",
		Remote: netip.MustParseAddrPort("127.0.0.1:1")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env.WriteFile(t, "alice", "b.txt", []byte("original"))
	p := env.Home("alice", "b.txt")
	fi, _ := os.Stat(p)
	orig := sha256.Sum256([]byte("original"))
	imposter := sha256.Sum256([]byte("imposter"))
	swap := func(mtime time.Time) { // same size; only a re-read sees it
		t.Helper()
		os.WriteFile(p, []byte("imposter"), 0o644)
		os.Chtimes(p, mtime, mtime)
	}

	// A range and another algorithm leave nothing behind.
	if _, err := s.Hash(t.Context(), "/b.txt", "sha256", 1, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hash(t.Context(), "/b.txt", "md5", 0, -1); err != nil {
		t.Fatal(err)
	}
	swap(fi.ModTime())
	if got, _ := s.Hash(t.Context(), "/b.txt", "sha256", 0, -1); !bytes.Equal(got, imposter[:]) {
		t.Fatalf("after a range and an md5, Hash = %x, want a fresh read %x", got, imposter)
	}
	// That whole-file SHA-256 was kept: put the original bytes back with
	// the same time, and the kept digest (of "imposter") is what a client
	// gets — proof that it was not read again.
	os.WriteFile(p, []byte("original"), 0o644)
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	if got, _ := s.Hash(t.Context(), "/b.txt", "sha256", 0, -1); !bytes.Equal(got, imposter[:]) {
		t.Errorf("second Hash = %x, want the kept %x", got, imposter)
	}
	// A change of modification time invalidates it.
	later := fi.ModTime().Add(time.Second)
	os.Chtimes(p, later, later)
	if got, _ := s.Hash(t.Context(), "/b.txt", "sha256", 0, -1); !bytes.Equal(got, orig[:]) {
		t.Errorf("Hash after a change = %x, want %x", got, orig)
	}
}
