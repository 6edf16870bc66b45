package core_test

import (
	"bytes"
	"crypto/sha256"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/storage/local"
	"github.com/ferrymft/ferry/internal/store"
)

// TestUploadDigestSurvivesRestart: a digest recorded at upload is kept in
// the store, served by a new engine on the same store and data (a
// restart) while the file is unchanged, follows a rename and a change of
// modification time, and is forgotten on delete.
func TestUploadDigestSurvivesRestart(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.Perm("/=all")))
	dsn := filepath.Join(t.TempDir(), "ferry.db")
	var eng *core.Engine
	start := func() *core.Session {
		t.Helper()
		if eng != nil {
			eng.FlushSums() // what a server does before closing its store
		}
		st, err := store.Open(t.Context(), store.Options{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		eng, err = core.New(core.Options{Users: env.Users, Storage: local.NewOpener(local.OpenerOptions{}),
			CreateHome: true, Sums: st})
		if err != nil {
			t.Fatal(err)
		}
		s, err := eng.Login(t.Context(), core.LoginRequest{Protocol: ferry.SFTP, User: "alice", Password: "pw",
			Remote: netip.MustParseAddrPort("127.0.0.1:1")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := start()
	if err := s.Mkdir(t.Context(), "/d"); err != nil {
		t.Fatal(err)
	}
	up, err := s.OpenWrite(t.Context(), "/d/a.txt", core.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("original"))
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	orig := sha256.Sum256([]byte("original"))
	imposter := sha256.Sum256([]byte("imposter"))
	// Replace the bytes behind Ferry's back, keeping size and time: a
	// served digest that is still "original" came from the record.
	swap := func(rel string) {
		t.Helper()
		p := env.Home("alice", rel)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(p, []byte("imposter"), 0o644)
		os.Chtimes(p, fi.ModTime(), fi.ModTime())
	}
	hash := func(s *core.Session, p string, want [32]byte, what string) {
		t.Helper()
		if got, err := s.Hash(t.Context(), p, "sha256", 0, -1); err != nil || !bytes.Equal(got, want[:]) {
			t.Errorf("%s: Hash(%s) = %x, %v; want %x", what, p, got, err, want)
		}
	}
	swap("d/a.txt")

	s = start() // restart: a new engine with an empty memory
	hash(s, "/d/a.txt", orig, "after restart")

	// Rename the directory: the digest follows the file.
	if err := s.Rename(t.Context(), "/d", "/e"); err != nil {
		t.Fatal(err)
	}
	s = start()
	hash(s, "/e/a.txt", orig, "after a directory rename and restart")

	// A client setting the time after the upload keeps the digest valid.
	mt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.Chtimes(t.Context(), "/e/a.txt", mt, mt); err != nil {
		t.Fatal(err)
	}
	s = start()
	hash(s, "/e/a.txt", orig, "after chtimes and restart")

	// Delete drops the record: a new file of the same size and time is
	// hashed from its bytes.
	if err := s.Remove(t.Context(), "/e/a.txt"); err != nil {
		t.Fatal(err)
	}
	p := env.Home("alice", "e/a.txt")
	os.WriteFile(p, []byte("imposter"), 0o644)
	os.Chtimes(p, mt, mt)
	s = start()
	hash(s, "/e/a.txt", imposter, "after delete")

	// A file changed since (its time moved) is hashed from its bytes.
	up, err = s.OpenWrite(t.Context(), "/b.txt", core.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("original"))
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	swap("b.txt")
	os.Chtimes(env.Home("alice", "b.txt"), mt, mt)
	s = start()
	hash(s, "/b.txt", imposter, "changed since")
}

// TestUploadDigestInVirtualFolder: a digest is keyed by the folder, not the
// user: another user mounting the same folder elsewhere is served it.
func TestUploadDigestInVirtualFolder(t *testing.T) {
	t.Parallel()
	shared := t.TempDir()
	mount := func(at string) ferrytest.Option {
		return ferrytest.WithPolicy(func(p *ferry.Policy) { p.Mounts = []ferry.Mount{{Path: at, Folder: "shared"}} })
	}
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.Perm("/=all"), mount("/team")),
		ferrytest.User("bob", "pw", ferrytest.Perm("/=all"), mount("/x/common")))
	env.Users.PutFolder(&ferry.Folder{Name: "shared", Path: shared})
	login := func(user string) *core.Session {
		s, err := env.Engine.Login(t.Context(), core.LoginRequest{Protocol: ferry.SFTP, User: user, Password: "pw",
			Remote: netip.MustParseAddrPort("127.0.0.1:1")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := login("alice"), login("bob")
	up, err := a.OpenWrite(t.Context(), "/team/r.txt", core.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("original"))
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(shared, "r.txt")
	fi, _ := os.Stat(p)
	os.WriteFile(p, []byte("imposter"), 0o644)
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	orig := sha256.Sum256([]byte("original"))
	if got, err := b.Hash(t.Context(), "/x/common/r.txt", "sha256", 0, -1); err != nil || !bytes.Equal(got, orig[:]) {
		t.Errorf("bob's Hash of alice's upload in the shared folder = %x, %v; want %x", got, err, orig)
	}
	if err := b.Rename(t.Context(), "/x/common/r.txt", "/x/common/s.txt"); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Hash(t.Context(), "/team/s.txt", "sha256", 0, -1); err != nil || !bytes.Equal(got, orig[:]) {
		t.Errorf("alice's Hash after bob's rename = %x, %v; want %x", got, err, orig)
	}
}
