package core_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"sort"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

func ptr[T any](v T) *T { return &v }

func upload(t *testing.T, s *core.Session, p string, data []byte) error {
	t.Helper()
	up, err := s.OpenWrite(context.Background(), p, core.WriteOptions{})
	if err != nil {
		return err
	}
	if _, err := up.ReadFrom(bytes.NewReader(data)); err != nil {
		up.Abort(err)
		return err
	}
	return up.Commit()
}

// A refused ReadFrom reports every byte it took from the reader, so a front
// end that drains the rest of a stream (SCP) stays in step.
func TestReadFromOverQuotaCountsWhatItRead(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("q", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) {
		p.QuotaBytes = ptr(int64(1000))
	})))
	s := login(t, env, "q", "pw")
	up, err := s.OpenWrite(t.Context(), "/big.bin", core.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(make([]byte, 5000))
	n, err := up.ReadFrom(struct{ io.Reader }{r})
	if !errors.Is(err, ferry.ErrQuota) {
		t.Fatalf("ReadFrom past the quota: %v, want ErrQuota", err)
	}
	if taken := int64(5000 - r.Len()); n != taken || n != 1001 {
		t.Errorf("ReadFrom = %d, took %d bytes from the reader; want both 1001 (one past the limit)", n, taken)
	}
	up.Abort(err)
	if _, err := os.Stat(env.Home("q", "big.bin")); err == nil {
		t.Error("the refused upload left a file")
	}
}

// A source failing with its own io.ErrUnexpectedEOF (a request body cut
// short) fails ReadFrom; only io.EOF ends an upload cleanly.
func TestReadFromReportsTruncatedSource(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("u", "pw"))
	s := login(t, env, "u", "pw")
	up, err := s.OpenWrite(t.Context(), "/cut.bin", core.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort(nil)
	r := io.MultiReader(bytes.NewReader(make([]byte, 3000)), iotest.ErrReader(io.ErrUnexpectedEOF))
	if n, err := up.ReadFrom(r); !errors.Is(err, io.ErrUnexpectedEOF) || n != 3000 {
		t.Fatalf("ReadFrom of a truncated source = %d, %v; want 3000, io.ErrUnexpectedEOF", n, err)
	}
}

func TestQuotaCrossingUploadFailsAndLeavesNothing(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("q", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) {
		p.QuotaBytes, p.QuotaFiles = ptr(int64(1000)), ptr(int64(3))
	})))
	env.WriteFile(t, "q", "old.bin", make([]byte, 300)) // found by the first scan
	s := login(t, env, "q", "pw")
	if err := upload(t, s, "/a.bin", make([]byte, 600)); err != nil {
		t.Fatalf("upload within quota: %v", err)
	}
	err := upload(t, s, "/b.bin", make([]byte, 200))
	if !errors.Is(err, ferry.ErrQuota) {
		t.Fatalf("upload crossing the quota: %v, want ErrQuota", err)
	}
	entries, _ := os.ReadDir(env.Home("q"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "a.bin,old.bin" {
		t.Fatalf("home after the refused upload = %v, want a.bin and old.bin only", names)
	}
	// Overwriting a file counts only the difference.
	if err := upload(t, s, "/a.bin", make([]byte, 700)); err != nil {
		t.Fatalf("overwrite within quota: %v", err)
	}
	// Deleting frees space; the file quota counts files.
	if err := s.Remove(context.Background(), "/old.bin"); err != nil {
		t.Fatal(err)
	}
	if err := upload(t, s, "/c.bin", make([]byte, 250)); err != nil {
		t.Fatalf("upload after delete: %v", err)
	}
	if err := upload(t, s, "/d.bin", nil); err != nil {
		t.Fatalf("third file: %v", err)
	}
	if err := upload(t, s, "/e.bin", nil); !errors.Is(err, ferry.ErrQuota) {
		t.Fatalf("fourth file with a quota of 3: %v", err)
	}
	b, f, _, _ := env.Usage.GetUsage(context.Background(), "q")
	if b != 950 || f != 3 {
		t.Errorf("usage = %d bytes %d files, want 950 and 3", b, f)
	}
}

func TestMaxFileSizeAndExtensions(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("m", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) {
		p.MaxFileSize = ptr(int64(100))
		p.AllowedExtensions = []string{".csv", ".TXT"}
	})))
	s := login(t, env, "m", "pw")
	if err := upload(t, s, "/ok.csv", make([]byte, 100)); err != nil {
		t.Fatalf("exactly the maximum: %v", err)
	}
	if err := upload(t, s, "/big.csv", make([]byte, 101)); !errors.Is(err, ferry.ErrQuota) {
		t.Fatalf("one byte over: %v", err)
	}
	if _, err := os.Stat(env.Home("m", "big.csv")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("too-large upload left a file")
	}
	if err := upload(t, s, "/notes.txt", []byte("x")); err != nil {
		t.Fatalf("extension match is case-insensitive: %v", err)
	}
	if err := upload(t, s, "/run.exe", []byte("x")); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("disallowed extension: %v", err)
	}
}

func TestNameFiltersAndKeepAllFiles(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t,
		ferrytest.User("f", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) {
			p.DenyPatterns = []string{"*.exe"}
			p.HidePatterns = []string{"secret*"}
			p.DotFiles = ferry.DotFilesProtect
		})),
		ferrytest.User("h", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) { p.DotFiles = ferry.DotFilesHide })),
		ferrytest.User("k", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) { p.KeepAllFiles = ptr(true) })))
	for _, u := range []string{"f", "h", "k"} {
		env.WriteFile(t, u, "a.exe", []byte("x"))
		env.WriteFile(t, u, "secret.txt", []byte("x"))
		env.WriteFile(t, u, ".profile", []byte("x"))
		env.WriteFile(t, u, "plain.txt", []byte("x"))
	}
	ctx := context.Background()
	list := func(s *core.Session) string {
		var names []string
		for fi, err := range s.List(ctx, "/") {
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, fi.Name())
		}
		sort.Strings(names)
		return strings.Join(names, ",")
	}
	f := login(t, env, "f", "pw")
	if got := list(f); got != ".profile,a.exe,plain.txt" {
		t.Errorf("f lists %s", got)
	}
	if _, err := f.Stat(ctx, "/secret.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("hidden name stat: %v", err)
	}
	if _, err := f.OpenRead(ctx, "/a.exe", 0); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("denied name download: %v", err)
	}
	if err := upload(t, f, "/new.exe", nil); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("denied name upload: %v", err)
	}
	if err := f.Remove(ctx, "/.profile"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("protected dot-file delete: %v", err)
	}
	if dl, err := f.OpenRead(ctx, "/.profile", 0); err != nil {
		t.Errorf("protected dot-file stays readable: %v", err)
	} else {
		dl.Close()
	}
	h := login(t, env, "h", "pw")
	if got := list(h); got != "a.exe,plain.txt,secret.txt" {
		t.Errorf("h lists %s", got)
	}
	if _, err := h.OpenRead(ctx, "/.profile", 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("hidden dot-file read: %v", err)
	}
	k := login(t, env, "k", "pw")
	if err := k.Remove(ctx, "/plain.txt"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("keep-all delete: %v", err)
	}
	if err := upload(t, k, "/plain.txt", []byte("new")); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("keep-all overwrite: %v", err)
	}
	if err := k.Rename(ctx, "/a.exe", "/plain.txt"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("keep-all rename onto a file: %v", err)
	}
	if err := upload(t, k, "/fresh.txt", []byte("new")); err != nil {
		t.Errorf("keep-all new file: %v", err)
	}
}

func TestLoginRestrictions(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t,
		ferrytest.User("net", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) {
			p.AllowCIDRs = []string{"192.0.2.0/24"}
			p.DenyCIDRs = []string{"192.0.2.66"}
		})),
		ferrytest.User("proto", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) { p.Protocols = []ferry.Protocol{ferry.SFTP} })),
		ferrytest.User("tls", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) { p.RequireTLS = ptr(true) })),
		ferrytest.User("keys", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) { p.LoginMethods = []string{"publickey"} })),
		ferrytest.User("never", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) { p.Hours = "mon 00:00-00:01" })),
		ferrytest.User("two", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) { p.MaxSessions = ptr(2) })))
	ctx := context.Background()
	try := func(user string, proto ferry.Protocol, remote string, tls bool) error {
		s, err := env.Engine.Login(ctx, core.LoginRequest{Protocol: proto, User: user, Password: "pw",
			Remote: netip.MustParseAddrPort(remote), TLS: tls})
		if err == nil {
			t.Cleanup(func() { s.Close() })
		}
		return err
	}
	for _, tt := range []struct {
		user   string
		proto  ferry.Protocol
		remote string
		tls    bool
		ok     bool
	}{
		{"net", ferry.FTP, "192.0.2.10:1", false, true},
		{"net", ferry.FTP, "192.0.2.66:1", false, false},
		{"net", ferry.FTP, "198.51.100.1:1", false, false},
		{"proto", ferry.SFTP, "127.0.0.1:1", false, true},
		{"proto", ferry.FTP, "127.0.0.1:1", false, false},
		{"tls", ferry.FTP, "127.0.0.1:1", false, false},
		{"tls", ferry.FTP, "127.0.0.1:1", true, true},
		{"tls", ferry.SFTP, "127.0.0.1:1", false, true},
		{"keys", ferry.SFTP, "127.0.0.1:1", false, false},
	} {
		err := try(tt.user, tt.proto, tt.remote, tt.tls)
		if tt.ok && err != nil || !tt.ok && !errors.Is(err, ferry.ErrAuth) {
			t.Errorf("%s over %s from %s (tls %v): %v, want ok=%v", tt.user, tt.proto, tt.remote, tt.tls, err, tt.ok)
		}
	}
	// "mon 00:00-00:01" is open one minute a week; only check the refusal
	// when the clock is outside it.
	if now := time.Now(); !(now.Weekday() == time.Monday && now.Hour() == 0 && now.Minute() == 0) {
		if err := try("never", ferry.SFTP, "127.0.0.1:1", false); !errors.Is(err, ferry.ErrAuth) {
			t.Errorf("outside hours: %v", err)
		}
	}
	if err := try("two", ferry.SFTP, "127.0.0.1:1", false); err != nil {
		t.Fatal(err)
	}
	if err := try("two", ferry.SFTP, "127.0.0.1:1", false); err != nil {
		t.Fatal(err)
	}
	if err := try("two", ferry.SFTP, "127.0.0.1:1", false); !errors.Is(err, ferry.ErrLimit) {
		t.Errorf("third session over a limit of 2: %v", err)
	}
}

func TestServerLimitsAndDefender(t *testing.T) {
	t.Parallel()
	bans := &memBans{}
	var def *auth.Defender
	env := ferrytest.NewEngineWith(t, func(o *core.Options) {
		def = auth.NewDefender(auth.DefenderOptions{Store: bans, Threshold: 5})
		o.Defender = def
		o.MaxSessionsPerIP = 3
	}, ferrytest.User("u", "pw"))
	ctx := context.Background()
	bad := netip.MustParseAddrPort("127.0.0.2:5000")
	good := netip.MustParseAddrPort("127.0.0.1:5000")
	for range 5 {
		env.Engine.Login(ctx, core.LoginRequest{User: "u", Password: "wrong", Remote: bad})
	}
	if err := env.Engine.Admit(bad.Addr()); !errors.Is(err, ferry.ErrBanned) {
		t.Fatalf("Admit after 5 failures: %v", err)
	}
	if err := env.Engine.Admit(good.Addr()); err != nil {
		t.Fatalf("Admit of another address: %v", err)
	}
	var live []*core.Session
	for range 3 {
		s, err := env.Engine.Login(ctx, core.LoginRequest{User: "u", Password: "pw", Remote: good})
		if err != nil {
			t.Fatal(err)
		}
		live = append(live, s)
	}
	if _, err := env.Engine.Login(ctx, core.LoginRequest{User: "u", Password: "pw", Remote: good}); !errors.Is(err, ferry.ErrLimit) {
		t.Errorf("fourth session from one address: %v", err)
	}
	for _, s := range live {
		s.Close()
	}
}

type memBans struct{ bans []ferry.Ban }

func (m *memBans) AddBan(_ context.Context, b *ferry.Ban) error {
	m.bans = append(m.bans, *b)
	return nil
}

func (m *memBans) ListBans(context.Context, time.Time) ([]ferry.Ban, error) { return m.bans, nil }

// TestBandwidthLimitAppliesLive checks only lower bounds on time: a
// throttled transfer cannot be faster than its limit allows.
func TestBandwidthLimitAppliesLive(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("bw", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) {
		p.BandwidthDown = ptr(int64(1 << 20))
	})))
	data := make([]byte, 1<<20+1<<19) // 1.5 MiB at 1 MiB/s: at least ~0.25 s after the initial burst
	env.WriteFile(t, "bw", "f", data)
	s := login(t, env, "bw", "pw")
	dl, err := s.OpenRead(context.Background(), "/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n, err := dl.WriteTo(io.Discard)
	elapsed := time.Since(start)
	dl.Close()
	if err != nil || n != int64(len(data)) {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	minimum := time.Duration(float64(len(data)-256<<10) / float64(1<<20) * float64(time.Second))
	if elapsed < minimum*9/10 {
		t.Errorf("1.5 MiB at 1 MiB/s took %v, less than the %v the limit allows", elapsed, minimum)
	}
	// Raising the limit reaches the live session.
	u, _ := env.Users.GetUser(context.Background(), "bw")
	u.Policy.BandwidthDown = nil
	env.Users.Put(u)
	env.Engine.Refresh(context.Background())
	dl, _ = s.OpenRead(context.Background(), "/f", 0)
	if n, err := dl.WriteTo(io.Discard); err != nil || n != int64(len(data)) {
		t.Fatalf("unthrottled download: %d, %v", n, err)
	}
	dl.Close()
}

func TestRefreshDisconnectsDisabledUsers(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("gone", "pw"))
	s := login(t, env, "gone", "pw")
	u, _ := env.Users.GetUser(context.Background(), "gone")
	u.Status = ferry.StatusDisabled
	env.Users.Put(u)
	env.Engine.Refresh(context.Background())
	if s.Context().Err() == nil {
		t.Fatal("session of a disabled user still live after Refresh")
	}
}

func TestVirtualFoldersAndRenameOnConflict(t *testing.T) {
	t.Parallel()
	mount := ferrytest.WithPolicy(func(p *ferry.Policy) {
		p.Mounts = []ferry.Mount{{Path: "/shared", Folder: "common"}, {Path: "/ref/docs", Folder: "docs", ReadOnly: true}}
		p.RenameOnConflict = ptr(true)
		p.QuotaBytes = ptr(int64(1 << 20))
	})
	env := ferrytest.NewEngine(t, ferrytest.User("a", "pw", mount), ferrytest.User("b", "pw", mount))
	common, docs := t.TempDir(), t.TempDir()
	env.Users.PutFolder(&ferry.Folder{Name: "common", Path: common})
	env.Users.PutFolder(&ferry.Folder{Name: "docs", Path: docs})
	os.WriteFile(docs+"/manual.txt", []byte("read me"), 0o644)
	ctx := context.Background()
	a, b := login(t, env, "a", "pw"), login(t, env, "b", "pw")
	if err := upload(t, a, "/shared/from-a.txt", []byte("hello b")); err != nil {
		t.Fatal(err)
	}
	dl, err := b.OpenRead(ctx, "/shared/from-a.txt", 0)
	if err != nil {
		t.Fatalf("b reads what a put in the shared folder: %v", err)
	}
	got, _ := io.ReadAll(dl)
	dl.Close()
	if string(got) != "hello b" {
		t.Fatalf("b read %q", got)
	}
	if err := upload(t, b, "/ref/docs/x.txt", []byte("x")); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("upload to a read-only folder: %v", err)
	}
	var names []string
	for fi, err := range a.List(ctx, "/") {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, fi.Name())
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "ref,shared" {
		t.Errorf("a's root lists %v, want the mount points", names)
	}
	if err := a.Rename(ctx, "/shared/from-a.txt", "/mine.txt"); err == nil {
		t.Error("rename across folders succeeded")
	}
	// Rename on conflict: the second upload of the same name is kept as a.1.txt.
	if err := upload(t, a, "/report.txt", []byte("one")); err != nil {
		t.Fatal(err)
	}
	up, err := a.OpenWrite(ctx, "/report.txt", core.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("two"))
	if err := up.Commit(); err != nil || up.Path() != "/report.1.txt" {
		t.Fatalf("conflicting upload went to %q: %v", up.Path(), err)
	}
	if b1, _ := os.ReadFile(env.Home("a", "report.txt")); string(b1) != "one" {
		t.Errorf("original overwritten: %q", b1)
	}
	// Files in folders do not count in the user's quota.
	bytes, files, _, _ := env.Usage.GetUsage(ctx, "a")
	if bytes != 6 || files != 2 {
		t.Errorf("a's usage = %d bytes %d files, want 6 and 2 (the shared file excluded)", bytes, files)
	}
}

func TestAnonymousAcceptsAnyPassword(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("anonymous", "", ferrytest.Perm("/=list,download"),
		ferrytest.WithPolicy(func(p *ferry.Policy) { p.Anonymous = ptr(true) })))
	s, err := env.Engine.Login(context.Background(), core.LoginRequest{Protocol: ferry.FTP, User: "anonymous", Password: "guest@example.com"})
	if err != nil {
		t.Fatalf("anonymous login: %v", err)
	}
	defer s.Close()
	if err := upload(t, s, "/x", []byte("x")); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("anonymous upload: %v", err)
	}
}

func TestUmask(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("u", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) { p.Umask = "077" })))
	s := login(t, env, "u", "pw")
	if err := upload(t, s, "/f", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Mkdir(context.Background(), "/d"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]fs.FileMode{"f": 0o600, "d": 0o700} {
		fi, err := os.Stat(env.Home("u", name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s mode = %v, %v; want %v", name, fi.Mode().Perm(), err, want)
		}
	}
	bad := ferry.Policy{Umask: "999"}
	if err := bad.Validate(); err == nil {
		t.Error("umask 999 accepted")
	}
}

func TestFolderQuotaIsSharedByItsUsers(t *testing.T) {
	t.Parallel()
	mount := ferrytest.WithPolicy(func(p *ferry.Policy) {
		p.Mounts = []ferry.Mount{{Path: "/team", Folder: "team"}}
		p.QuotaBytes = ptr(int64(10)) // the user's own quota does not apply inside the folder
	})
	env := ferrytest.NewEngine(t, ferrytest.User("a", "pw", mount), ferrytest.User("b", "pw", mount))
	dir := t.TempDir()
	os.WriteFile(dir+"/old.bin", make([]byte, 100), 0o644) // found by the first scan
	env.Users.PutFolder(&ferry.Folder{Name: "team", Path: dir, QuotaBytes: 1000, QuotaFiles: 4})
	a, b := login(t, env, "a", "pw"), login(t, env, "b", "pw")
	if err := upload(t, a, "/team/a.bin", make([]byte, 500)); err != nil {
		t.Fatalf("a within the folder quota: %v", err)
	}
	if err := upload(t, b, "/team/b.bin", make([]byte, 500)); !errors.Is(err, ferry.ErrQuota) {
		t.Fatalf("b crossing the folder quota a filled: %v", err)
	}
	if _, err := os.Stat(dir + "/b.bin"); err == nil {
		t.Fatal("the refused upload left b.bin in the folder")
	}
	if err := b.Remove(context.Background(), "/team/a.bin"); err != nil {
		t.Fatal(err)
	}
	if err := upload(t, b, "/team/b.bin", make([]byte, 500)); err != nil {
		t.Fatalf("b after a's file was deleted: %v", err)
	}
	bytes, files, _, _ := env.Usage.GetUsage(context.Background(), "folder:team")
	if bytes != 600 || files != 2 {
		t.Errorf("folder usage = %d bytes %d files, want 600 and 2", bytes, files)
	}
	if err := upload(t, a, "/home-file", make([]byte, 11)); !errors.Is(err, ferry.ErrQuota) {
		t.Errorf("a's own quota of 10 bytes outside the folder: %v", err)
	}
}

func TestScopedNamePatterns(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("s", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) {
		p.DenyPatterns = []string{"/in/*.exe"}
		p.HidePatterns = []string{"/private/secret*"}
	})))
	env.WriteFile(t, "s", "secret.txt", []byte("top"))
	env.WriteFile(t, "s", "private/secret.txt", []byte("hidden"))
	env.WriteFile(t, "s", "private/deeper/secret.log", []byte("hidden too"))
	os.MkdirAll(env.Home("s", "in/sub"), 0o755)
	s := login(t, env, "s", "pw")
	ctx := context.Background()
	if err := upload(t, s, "/in/tool.exe", nil); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("/in/tool.exe: %v", err)
	}
	if err := upload(t, s, "/in/sub/tool.exe", nil); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("/in/sub/tool.exe (below the scope): %v", err)
	}
	if err := upload(t, s, "/tool.exe", nil); err != nil {
		t.Errorf("/tool.exe outside the scope: %v", err)
	}
	if _, err := s.Stat(ctx, "/secret.txt"); err != nil {
		t.Errorf("/secret.txt outside the scope: %v", err)
	}
	for _, p := range []string{"/private/secret.txt", "/private/deeper/secret.log"} {
		if _, err := s.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want hidden", p, err)
		}
	}
	for fi, err := range s.List(ctx, "/private") {
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(fi.Name(), "secret") {
			t.Errorf("/private lists %s", fi.Name())
		}
	}
}

func TestFreeSpaceTellsWhatTheQuotaLeaves(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("q", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) {
		p.QuotaBytes, p.QuotaFiles = ptr(int64(1000)), ptr(int64(10))
	})))
	s := login(t, env, "q", "pw")
	if err := upload(t, s, "/f", make([]byte, 300)); err != nil {
		t.Fatal(err)
	}
	u, err := s.StatFS(context.Background(), "/")
	if err != nil {
		t.Fatal(err)
	}
	if u.Avail != 700 || u.Total != 1000 || u.FilesFree != 9 {
		t.Errorf("statfs = avail %d total %d files free %d, want 700, 1000, 9", u.Avail, u.Total, u.FilesFree)
	}
}
