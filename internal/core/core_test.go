package core_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

var remote = netip.MustParseAddrPort("192.0.2.1:5000")

func login(t *testing.T, env *ferrytest.Env, user, pw string) *core.Session {
	t.Helper()
	s, err := env.Engine.Login(context.Background(), core.LoginRequest{Protocol: ferry.SFTP, User: user, Password: pw, Remote: remote})
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sshWireKey(pub ed25519.PublicKey) []byte {
	var b []byte
	for _, part := range [][]byte{[]byte("ssh-ed25519"), pub} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(part)))
		b = append(b, part...)
	}
	return b
}

func TestLoginFailuresAreUniform(t *testing.T) {
	t.Parallel()
	pub, _, _ := ed25519.GenerateKey(nil)
	other, _, _ := ed25519.GenerateKey(nil)
	keyLine := "ssh-ed25519 " + base64.StdEncoding.EncodeToString(sshWireKey(pub)) + " alice@test"
	env := ferrytest.NewEngine(t,
		ferrytest.User("alice", "pw", ferrytest.PublicKey(keyLine)),
		ferrytest.User("off", "pw", ferrytest.Disabled()),
		ferrytest.User("keyonly", ""))
	old := env.AddUser(t, ferrytest.User("old", "pw"))
	old.ExpiresAt = time.Now().Add(-time.Hour)
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		req  core.LoginRequest
	}{
		{"wrong password", core.LoginRequest{User: "alice", Password: "nope"}},
		{"unknown user", core.LoginRequest{User: "mallory", Password: "pw"}},
		{"disabled", core.LoginRequest{User: "off", Password: "pw"}},
		{"expired", core.LoginRequest{User: "old", Password: "pw"}},
		{"no credentials", core.LoginRequest{User: "alice"}},
		{"key-only user with a password", core.LoginRequest{User: "keyonly", Password: "x"}},
		{"unauthorized key", core.LoginRequest{User: "alice", PublicKey: sshWireKey(other)}},
	} {
		_, err := env.Engine.Login(ctx, tt.req)
		if !errors.Is(err, ferry.ErrAuth) {
			t.Errorf("%s: err = %v, want ErrAuth", tt.name, err)
		}
		if err != nil && (strings.Contains(err.Error(), "disabled") || strings.Contains(err.Error(), "expired") || strings.Contains(err.Error(), "password")) {
			t.Errorf("%s: error %q reveals the reason", tt.name, err)
		}
	}
	s, err := env.Engine.Login(ctx, core.LoginRequest{Protocol: ferry.SFTP, User: "alice", PublicKey: sshWireKey(pub)})
	if err != nil {
		t.Fatalf("key login: %v", err)
	}
	s.Close()
}

func TestPasswordCacheStillChecksPassword(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "right"))
	ctx := context.Background()
	for range 3 {
		s, err := env.Engine.Login(ctx, core.LoginRequest{User: "alice", Password: "right"})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := env.Engine.Login(ctx, core.LoginRequest{User: "alice", Password: "wrong"}); !errors.Is(err, ferry.ErrAuth) {
			t.Fatalf("wrong password after a cached success: %v", err)
		}
	}
	// A password change invalidates the cached verification.
	env.AddUser(t, ferrytest.User("alice", "changed"))
	if _, err := env.Engine.Login(ctx, core.LoginRequest{User: "alice", Password: "right"}); !errors.Is(err, ferry.ErrAuth) {
		t.Fatalf("old password accepted after a password change: %v", err)
	}
}

func TestAtomicUploadInvisibleUntilCommit(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	s := login(t, env, "alice", "pw")
	other := login(t, env, "alice", "pw")
	ctx := context.Background()
	up, err := s.OpenWrite(ctx, "/report.csv", core.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write([]byte("half of it")); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Stat(ctx, "/report.csv"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat during upload: %v, want not exist", err)
	}
	if _, err := other.OpenRead(ctx, "/report.csv", 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("download during upload: %v, want not exist", err)
	}
	for fi, err := range other.List(ctx, "/") {
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("listing during upload shows %q", fi.Name())
	}
	// The partial cannot be addressed by name either.
	entries, _ := os.ReadDir(env.Home("alice"))
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), ".ferry-upload.") {
		t.Fatalf("home holds %v, want one partial", entries)
	}
	if _, err := other.OpenRead(ctx, "/"+entries[0].Name(), 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("partial readable by name: %v", err)
	}
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(env.Home("alice", "report.csv"))
	if err != nil || string(b) != "half of it" {
		t.Fatalf("after commit: %q, %v", b, err)
	}
	if entries, _ := os.ReadDir(env.Home("alice")); len(entries) != 1 {
		t.Errorf("home holds %d entries after commit, want 1", len(entries))
	}
}

func TestResumeInterruptedUploadFromPartial(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"), ferrytest.User("res", "pw", ferrytest.Mode(ferry.UploadAtomicResumable)))
	ctx := context.Background()
	for _, user := range []string{"alice", "res"} {
		s := login(t, env, user, "pw")
		up, err := s.OpenWrite(ctx, "/big", core.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		up.Write([]byte("0123456789"))
		up.Abort(io.ErrUnexpectedEOF)
		fi, err := s.Stat(ctx, "/big")
		if user == "alice" && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("atomic: stat of an interrupted upload = %v, want not exist", err)
		}
		if user == "res" && (err != nil || fi.Size() != 10) {
			t.Errorf("atomic-resumable: stat = %v, %v; want the partial's 10 bytes", fi, err)
		}
		// Resume past what was received: refused.
		if _, err := s.OpenWrite(ctx, "/big", core.WriteOptions{Offset: 11}); !errors.Is(err, ferry.ErrInvalid) {
			t.Errorf("resume beyond partial: %v, want ErrInvalid", err)
		}
		up, err = s.OpenWrite(ctx, "/big", core.WriteOptions{Offset: 6})
		if err != nil {
			t.Fatal(err)
		}
		up.Write([]byte("ABCD"))
		if err := up.Commit(); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(env.Home(user, "big")); string(b) != "012345ABCD" {
			t.Errorf("%s: resumed file = %q, want 012345ABCD", user, b)
		}
	}
}

func TestDirectModeAndAppend(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("d", "pw", ferrytest.Mode(ferry.UploadDirect)))
	s := login(t, env, "d", "pw")
	ctx := context.Background()
	up, _ := s.OpenWrite(ctx, "/f", core.WriteOptions{})
	up.Write([]byte("abc"))
	if b, _ := os.ReadFile(env.Home("d", "f")); string(b) != "abc" {
		t.Errorf("direct mode: file during upload = %q, want abc", b)
	}
	up.Commit()
	up, err := s.OpenWrite(ctx, "/f", core.WriteOptions{Append: true})
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("def"))
	up.Commit()
	if b, _ := os.ReadFile(env.Home("d", "f")); string(b) != "abcdef" {
		t.Errorf("append: %q", b)
	}
}

func TestPermissionsDeeperOverride(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("u", "pw",
		ferrytest.Perm("/=list,download"), ferrytest.Perm("/in=list,upload"), ferrytest.Perm("/in/locked=none")))
	env.WriteFile(t, "u", "in/locked/x", []byte("x"))
	env.WriteFile(t, "u", "out/y", []byte("y"))
	s := login(t, env, "u", "pw")
	ctx := context.Background()
	if up, err := s.OpenWrite(ctx, "/in/new", core.WriteOptions{}); err != nil {
		t.Errorf("upload to /in: %v", err)
	} else {
		up.Commit()
	}
	if _, err := s.OpenWrite(ctx, "/in/new", core.WriteOptions{}); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("overwrite without the right: %v", err)
	}
	if _, err := s.OpenWrite(ctx, "/out/z", core.WriteOptions{}); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("upload to /out: %v", err)
	}
	if _, err := s.OpenRead(ctx, "/in/locked/x", 0); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("download from /in/locked: %v", err)
	}
	if _, err := s.OpenRead(ctx, "/in/new", 0); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("download from upload-only /in: %v", err)
	}
	if dl, err := s.OpenRead(ctx, "/out/y", 0); err != nil {
		t.Errorf("download from /out: %v", err)
	} else {
		dl.Close()
	}
	if err := s.Symlink(ctx, "/out/y", "/in/link"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("symlink without the right: %v", err)
	}
}

func TestRegistryAndKick(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"), ferrytest.User("bob", "pw"))
	ctx := context.Background()
	kicked := make(chan struct{}, 3)
	var sessions []*core.Session
	for _, u := range []string{"alice", "alice", "bob"} {
		s, err := env.Engine.Login(ctx, core.LoginRequest{Protocol: ferry.FTP, User: u, Password: "pw", Remote: remote, Service: "ftp",
			Disconnect: func() { kicked <- struct{}{} }})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	env.WriteFile(t, "bob", "f", make([]byte, 1000))
	dl, err := sessions[2].OpenRead(ctx, "/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	dl.Read(make([]byte, 100))
	infos := env.Engine.Sessions()
	if len(infos) != 3 || env.Engine.CountService("ftp") != 3 {
		t.Fatalf("sessions = %d, want 3", len(infos))
	}
	var sawTransfer bool
	for _, in := range infos {
		if in.User == "bob" && in.Transfer != nil && in.Transfer.Bytes == 100 && in.Transfer.Size == 1000 && in.Transfer.Path == "/f" {
			sawTransfer = true
		}
	}
	if !sawTransfer {
		t.Errorf("bob's download progress not in %+v", infos)
	}
	dl.Close()
	if n := env.Engine.KickUser("alice"); n != 2 {
		t.Errorf("KickUser = %d, want 2", n)
	}
	<-kicked
	<-kicked
	if sessions[0].Context().Err() == nil {
		t.Error("kicked session's context not cancelled")
	}
	if _, err := sessions[0].Stat(ctx, "/"); !errors.Is(err, ferry.ErrClosed) {
		t.Errorf("kicked session still works: %v", err)
	}
	for _, s := range sessions[:2] {
		s.Close()
	}
	if !env.Engine.Kick(sessions[2].ID()) || env.Engine.Kick("nope") {
		t.Error("Kick by id")
	}
	sessions[2].Close()
	if n := len(env.Engine.Sessions()); n != 0 {
		t.Errorf("%d sessions left after close", n)
	}
}

func TestHashAndSymlinkStayInside(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("u", "pw", ferrytest.Perm("/=all,symlink")))
	env.WriteFile(t, "u", "a/data", []byte("hello world"))
	s := login(t, env, "u", "pw")
	ctx := context.Background()
	sum, err := s.Hash(ctx, "/a/data", "sha256", 0, -1)
	want := sha256.Sum256([]byte("hello world"))
	if err != nil || hex.EncodeToString(sum) != hex.EncodeToString(want[:]) {
		t.Errorf("sha256 = %x, %v", sum, err)
	}
	part, _ := s.Hash(ctx, "/a/data", "sha256", 6, 5)
	wantPart := sha256.Sum256([]byte("world"))
	if hex.EncodeToString(part) != hex.EncodeToString(wantPart[:]) {
		t.Errorf("ranged sha256 = %x", part)
	}
	if _, err := s.Hash(ctx, "/a/data", "md4", 0, -1); !errors.Is(err, ferry.ErrInvalid) {
		t.Errorf("md4: %v", err)
	}
	// "../../../etc" from /a clamps to /etc inside the home.
	if err := s.Symlink(ctx, "../../../a/data", "/a/l1"); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.Readlink(env.Home("u", "a/l1"))
	if raw != "data" {
		t.Errorf("stored link = %q, want data", raw)
	}
	if err := s.Symlink(ctx, "/a/data", "/top"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Readlink(ctx, "/top"); got != "/a/data" {
		t.Errorf("Readlink = %q", got)
	}
	if raw, _ := os.Readlink(env.Home("u", "top")); raw != "a/data" || filepath.IsAbs(raw) {
		t.Errorf("stored link = %q, want a/data", raw)
	}
	if err := s.Rename(ctx, "/a", "/a/inside"); !errors.Is(err, ferry.ErrInvalid) {
		t.Errorf("rename into itself: %v", err)
	}
}

func TestListingStreamsLargeDirectory(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("u", "pw"))
	dir := env.Home("u", "many")
	os.MkdirAll(dir, 0o755)
	const n = 5000
	for i := range n {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%05d", i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	s := login(t, env, "u", "pw")
	seen := make(map[string]bool, n)
	for fi, err := range s.List(context.Background(), "/many") {
		if err != nil {
			t.Fatal(err)
		}
		if seen[fi.Name()] {
			t.Fatalf("%s listed twice", fi.Name())
		}
		seen[fi.Name()] = true
	}
	if len(seen) != n {
		t.Fatalf("listed %d, want %d", len(seen), n)
	}
}

func TestEventsPublished(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("u", "pw"))
	ctx := context.Background()
	env.Engine.Login(ctx, core.LoginRequest{User: "u", Password: "bad"})
	s := login(t, env, "u", "pw")
	up, _ := s.OpenWrite(ctx, "/x", core.WriteOptions{})
	up.Write([]byte("12345"))
	up.Commit()
	s.Mkdir(ctx, "/d")
	s.Rename(ctx, "/x", "/d/x")
	s.Close()
	env.Engine.Shutdown()
	want := []ferry.EventType{ferry.EventLoginFailed, ferry.EventLogin, ferry.EventUpload, ferry.EventMkdir, ferry.EventRename, ferry.EventLogout}
	// The bus delivers asynchronously; wait for the logout to arrive.
	var got []ferry.EventType
	for range 1000 {
		got = got[:0]
		for _, ev := range env.Events.Events() {
			got = append(got, ev.Type)
		}
		if len(got) >= len(want) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	for _, ev := range env.Events.Events() {
		if ev.Type == ferry.EventUpload && (ev.Size != 5 || ev.Path != "/x" || ev.User != "u" || ev.Status != "ok") {
			t.Errorf("upload event = %+v", ev)
		}
	}
}

func TestPreHookGateRefuses(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("u", "pw"))
	env.WriteFile(t, "u", "keep.txt", []byte("keep"))
	env.Gate.Set(func(_ context.Context, ev ferry.Event) error {
		if strings.HasSuffix(ev.Path, ".exe") || ev.Type == ferry.EventDelete {
			return fmt.Errorf("scanner says no to %s of %s by %s", ev.Type, ev.Path, ev.User)
		}
		return nil
	})
	s := login(t, env, "u", "pw")
	ctx := context.Background()
	_, err := s.OpenWrite(ctx, "/virus.exe", core.WriteOptions{})
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "scanner says no to upload of /virus.exe by u") {
		t.Fatalf("upload refused with %v", err)
	}
	if err := s.Remove(ctx, "/keep.txt"); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("delete refused with %v", err)
	}
	if _, err := os.Stat(env.Home("u", "keep.txt")); err != nil {
		t.Fatal("refused delete removed the file")
	}
	if entries, _ := os.ReadDir(env.Home("u")); len(entries) != 1 {
		t.Fatalf("refused upload left %d entries", len(entries))
	}
	up, err := s.OpenWrite(ctx, "/ok.txt", core.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	up.Commit()
}

func TestLoginRequiresAllMethods(t *testing.T) {
	t.Parallel()
	pub, _, _ := ed25519.GenerateKey(nil)
	keyLine := "ssh-ed25519 " + base64.StdEncoding.EncodeToString(sshWireKey(pub)) + " both@test"
	both := func(p *ferry.Policy) {
		p.LoginMethods = []string{"publickey", "password"}
		p.RequireAllMethods = ptr(true)
	}
	env := ferrytest.NewEngine(t,
		ferrytest.User("both", "pw", ferrytest.PublicKey(keyLine), ferrytest.WithPolicy(both)),
		ferrytest.User("any", "pw", ferrytest.PublicKey(keyLine)))
	ctx := context.Background()
	pw := core.LoginRequest{Protocol: ferry.SFTP, User: "both", Password: "pw", Remote: remote}
	key := core.LoginRequest{Protocol: ferry.SFTP, User: "both", PublicKey: sshWireKey(pub), Remote: remote}

	// One method alone is not a login.
	for _, req := range []core.LoginRequest{pw, key} {
		if _, err := env.Engine.Login(ctx, req); !errors.Is(err, ferry.ErrAuth) {
			t.Errorf("single step login: %v, want ErrAuth", err)
		}
	}
	g, err := env.Engine.Authenticate(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Remaining(); !slices.Equal(got, []string{"password"}) {
		t.Fatalf("remaining after publickey = %v", got)
	}
	// The same method twice, a wrong second step or another user fail.
	for _, req := range []core.LoginRequest{key, {Protocol: ferry.SFTP, User: "both", Password: "bad", Remote: remote},
		{Protocol: ferry.SFTP, User: "any", Password: "pw", Remote: remote}} {
		req.Prior = g
		if _, err := env.Engine.Authenticate(ctx, req); !errors.Is(err, ferry.ErrAuth) {
			t.Errorf("second step %+v: %v, want ErrAuth", req.User, err)
		}
	}
	req := pw
	req.Prior = g
	g2, err := env.Engine.Authenticate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r := g2.Remaining(); len(r) != 0 {
		t.Fatalf("remaining after both = %v", r)
	}
	s, err := env.Engine.Open(ctx, g2, req)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Password first works as well; an account without the flag needs one.
	g, err = env.Engine.Authenticate(ctx, pw)
	if err != nil || !slices.Equal(g.Remaining(), []string{"publickey"}) {
		t.Fatalf("after password: %v %v", g, err)
	}
	if g, err := env.Engine.Authenticate(ctx, core.LoginRequest{Protocol: ferry.SFTP, User: "any", Password: "pw", Remote: remote}); err != nil || len(g.Remaining()) != 0 {
		t.Errorf("account without login_requires_all: %v", err)
	}
	// A client certificate counts as a method too.
	env.AddUser(t, ferrytest.User("cert", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) {
		p.LoginMethods = []string{"tls-cert", "password"}
		p.RequireAllMethods = ptr(true)
	})))
	g, err = env.Engine.Authenticate(ctx, core.LoginRequest{Protocol: ferry.FTP, User: "cert", Password: "pw", Remote: remote})
	if err != nil || !slices.Equal(g.Remaining(), []string{"tls-cert"}) {
		t.Fatalf("after password, tls-cert account: %v %v", g, err)
	}
	g, err = env.Engine.Authenticate(ctx, core.LoginRequest{Protocol: ferry.FTP, User: "cert", ClientCertCN: "cert", Remote: remote, Prior: g})
	if err != nil || len(g.Remaining()) != 0 {
		t.Fatalf("password then certificate: %v %v", g, err)
	}
}
