package ferrytest

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"crypto/rand"
	"errors"
	"github.com/ferrymft/ferry/internal/ferry"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Client is what a front end's test client must do for the scenario suite.
// Paths are as the protocol's client would send them, absolute from the
// user's home ("/in/a.csv").
type Client interface {
	Upload(path string, data []byte) error
	Download(path string) ([]byte, error)
	// DownloadFrom returns the bytes from offset to the end (resume).
	DownloadFrom(path string, offset int64) ([]byte, error)
	// UploadFrom resumes an upload: data is what comes after offset.
	UploadFrom(path string, offset int64, data []byte) error
	Rename(from, to string) error
	Remove(path string) error
	Mkdir(path string) error
	Rmdir(path string) error
	// List returns the names in a directory (no "." or "..").
	List(dir string) ([]string, error)
	Close() error
}

// Interrupter is implemented by clients that can start an upload, send
// data, and drop the connection before the upload completes.
type Interrupter interface {
	UploadInterrupted(path string, data []byte) error
}

// Dialer logs in as user and returns a connected client.
type Dialer func(t *testing.T, user, password string) Client

// Start starts a front end on env's engine and returns how to reach it.
type Start func(t *testing.T, env *Env) Dialer

// Scenario users: alice may do everything; reader may list and download
// only; both have the password "secret".
const (
	ScenarioPassword = "secret"
	scenarioAlice    = "alice"
	scenarioReader   = "reader"
	scenarioQuota    = "quota"    // 100 KiB quota
	scenarioFiltered = "filtered" // *.exe denied, secret* hidden
	scenarioMounted  = "mounted"  // folders at /shared (read-write) and /ref (read-only)
)

// RunScenarios runs the cross-protocol suite: every front end must behave
// the same for the same account, whatever its wire.
func RunScenarios(t *testing.T, start Start) {
	for _, sc := range []struct {
		name string
		run  func(t *testing.T, env *Env, dial Dialer)
	}{
		{"UploadDownloadByteExact", scUploadDownload},
		{"ResumeDownload", scResumeDownload},
		{"ResumeUpload", scResumeUpload},
		{"PermissionDenied", scPermissionDenied},
		{"RenameAndDelete", scRenameDelete},
		{"Listing", scListing},
		{"PathTraversalRefused", scTraversal},
		{"SymlinkEscapeRefused", scSymlinkEscape},
		{"AtomicUploadOnDisconnect", scAtomicDisconnect},
		{"QuotaCrossingUploadFails", scQuota},
		{"NameFilters", scFilters},
		{"VirtualFolders", scFolders},
		{"PreHookRefusal", scPreHook},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			env := NewEngine(t,
				User(scenarioAlice, ScenarioPassword),
				User(scenarioReader, ScenarioPassword, Perm("/=list,download")),
				User(scenarioQuota, ScenarioPassword, WithPolicy(func(p *ferry.Policy) {
					q := int64(100 << 10)
					p.QuotaBytes = &q
				})),
				User(scenarioFiltered, ScenarioPassword, WithPolicy(func(p *ferry.Policy) {
					p.DenyPatterns = []string{"*.exe"}
					p.HidePatterns = []string{"secret*"}
				})),
				User(scenarioMounted, ScenarioPassword, WithPolicy(func(p *ferry.Policy) {
					p.Mounts = []ferry.Mount{{Path: "/shared", Folder: "shared"}, {Path: "/ref", Folder: "ref", ReadOnly: true}}
				})))
			env.Users.PutFolder(&ferry.Folder{Name: "shared", Path: filepath.Join(env.Root, "folders", "shared")})
			env.Users.PutFolder(&ferry.Folder{Name: "ref", Path: filepath.Join(env.Root, "folders", "ref")})
			dial := start(t, env)
			sc.run(t, env, dial)
		})
	}
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func login(t *testing.T, dial Dialer, user string) Client {
	t.Helper()
	c := dial(t, user, ScenarioPassword)
	t.Cleanup(func() { c.Close() })
	return c
}

func mustDisk(t *testing.T, env *Env, user, rel string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(env.Home(user, rel))
	if err != nil {
		t.Fatalf("on disk %s/%s: %v", user, rel, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("on disk %s/%s: %d bytes differ from the %d expected", user, rel, len(got), len(want))
	}
}

func mustNotExist(t *testing.T, env *Env, user, rel string) {
	t.Helper()
	if _, err := os.Lstat(env.Home(user, rel)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s/%s exists on disk (err %v), want absent", user, rel, err)
	}
}

func scUploadDownload(t *testing.T, env *Env, dial Dialer) {
	c := login(t, dial, scenarioAlice)
	for _, size := range []int{0, 1, 64 << 10, 3<<20 + 17} {
		data := randomBytes(t, size)
		if err := c.Upload("/f.bin", data); err != nil {
			t.Fatalf("upload %d bytes: %v", size, err)
		}
		mustDisk(t, env, scenarioAlice, "f.bin", data)
		got, err := c.Download("/f.bin")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("download %d bytes: got %d bytes, err %v", size, len(got), err)
		}
	}
	if _, err := c.Download("/missing.bin"); err == nil {
		t.Fatal("download of a missing file succeeded")
	}
}

func scResumeDownload(t *testing.T, env *Env, dial Dialer) {
	data := randomBytes(t, 1<<20+5)
	env.WriteFile(t, scenarioAlice, "big.bin", data)
	c := login(t, dial, scenarioAlice)
	got, err := c.DownloadFrom("/big.bin", 700_001)
	if err != nil || !bytes.Equal(got, data[700_001:]) {
		t.Fatalf("download from offset: %d bytes, err %v; want %d bytes", len(got), err, len(data)-700_001)
	}
}

func scResumeUpload(t *testing.T, env *Env, dial Dialer) {
	data := randomBytes(t, 1<<20+3)
	c := login(t, dial, scenarioAlice)
	if err := c.Upload("/r.bin", data[:400_000]); err != nil {
		t.Fatal(err)
	}
	if err := c.UploadFrom("/r.bin", 400_000, data[400_000:]); err != nil {
		t.Fatalf("resume upload: %v", err)
	}
	mustDisk(t, env, scenarioAlice, "r.bin", data)
}

func scPermissionDenied(t *testing.T, env *Env, dial Dialer) {
	orig := []byte("original")
	env.WriteFile(t, scenarioReader, "keep.txt", orig)
	env.WriteFile(t, scenarioReader, "dir/x", orig)
	c := login(t, dial, scenarioReader)
	if got, err := c.Download("/keep.txt"); err != nil || !bytes.Equal(got, orig) {
		t.Fatalf("reader download: %q, %v", got, err)
	}
	if err := c.Upload("/new.txt", []byte("x")); err == nil {
		t.Error("reader could upload")
	}
	if err := c.Upload("/keep.txt", []byte("changed")); err == nil {
		t.Error("reader could overwrite")
	}
	if err := c.Mkdir("/d"); err == nil {
		t.Error("reader could mkdir")
	}
	if err := c.Remove("/keep.txt"); err == nil {
		t.Error("reader could delete")
	}
	if err := c.Rename("/keep.txt", "/moved.txt"); err == nil {
		t.Error("reader could rename")
	}
	if err := c.Rmdir("/dir"); err == nil {
		t.Error("reader could rmdir")
	}
	mustDisk(t, env, scenarioReader, "keep.txt", orig)
	mustDisk(t, env, scenarioReader, "dir/x", orig)
	mustNotExist(t, env, scenarioReader, "new.txt")
	mustNotExist(t, env, scenarioReader, "d")
	mustNotExist(t, env, scenarioReader, "moved.txt")
}

func scRenameDelete(t *testing.T, env *Env, dial Dialer) {
	c := login(t, dial, scenarioAlice)
	data := []byte("payload")
	if err := c.Mkdir("/in"); err != nil {
		t.Fatal(err)
	}
	if err := c.Upload("/in/a.txt", data); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("/in/a.txt", "/in/b.txt"); err != nil {
		t.Fatalf("rename file: %v", err)
	}
	mustNotExist(t, env, scenarioAlice, "in/a.txt")
	mustDisk(t, env, scenarioAlice, "in/b.txt", data)
	if err := c.Rename("/in", "/out"); err != nil {
		t.Fatalf("rename dir: %v", err)
	}
	mustDisk(t, env, scenarioAlice, "out/b.txt", data)
	if err := c.Rmdir("/out"); err == nil {
		t.Error("rmdir of a non-empty directory succeeded")
	}
	if err := c.Remove("/out/b.txt"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	mustNotExist(t, env, scenarioAlice, "out/b.txt")
	if err := c.Rmdir("/out"); err != nil {
		t.Fatalf("rmdir: %v", err)
	}
	mustNotExist(t, env, scenarioAlice, "out")
	if err := c.Remove("/nothing"); err == nil {
		t.Error("delete of a missing file succeeded")
	}
}

func scListing(t *testing.T, env *Env, dial Dialer) {
	for _, n := range []string{"a.txt", "b c.txt", ".hidden", "sub/x"} {
		env.WriteFile(t, scenarioAlice, "l/"+n, []byte(n))
	}
	// An interrupted upload's partial must never be listed.
	env.WriteFile(t, scenarioAlice, "l/.ferry-upload.0123456789abcdef.part", []byte("half"))
	c := login(t, dial, scenarioAlice)
	got, err := c.List("/l")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{".hidden", "a.txt", "b c.txt", "sub"}
	if !slices.Equal(got, want) {
		t.Fatalf("List(/l) = %q, want %q", got, want)
	}
}

func scTraversal(t *testing.T, env *Env, dial Dialer) {
	secret := []byte("reader's secret")
	env.WriteFile(t, scenarioReader, "secret.txt", secret)
	outside := filepath.Join(env.Root, "outside.txt")
	if err := os.WriteFile(outside, []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := login(t, dial, scenarioAlice)
	for _, p := range []string{"/../reader/secret.txt", "../reader/secret.txt", "/../../outside.txt", "../outside.txt"} {
		if got, err := c.Download(p); err == nil && (bytes.Equal(got, secret) || string(got) == "outside") {
			t.Errorf("download %q escaped the home: %q", p, got)
		}
	}
	_ = c.Upload("/../../escape.txt", []byte("x"))
	if _, err := os.Stat(filepath.Join(env.Root, "escape.txt")); err == nil {
		t.Error("upload escaped the home")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(env.Root), "escape.txt")); err == nil {
		t.Error("upload escaped the home by two levels")
	}
}

func scSymlinkEscape(t *testing.T, env *Env, dial Dialer) {
	outsideDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(outsideDir, "target.txt"), []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outsideDir, env.Home(scenarioAlice, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outsideDir, "target.txt"), env.Home(scenarioAlice, "file-link")); err != nil {
		t.Fatal(err)
	}
	c := login(t, dial, scenarioAlice)
	if got, err := c.Download("/link/target.txt"); err == nil {
		t.Errorf("download through an escaping dir symlink returned %q", got)
	}
	if got, err := c.Download("/file-link"); err == nil {
		t.Errorf("download of an escaping file symlink returned %q", got)
	}
	if names, err := c.List("/link"); err == nil && len(names) > 0 {
		t.Errorf("listing through an escaping symlink returned %q", names)
	}
	_ = c.Upload("/link/planted.txt", []byte("x"))
	if _, err := os.Stat(filepath.Join(outsideDir, "planted.txt")); err == nil {
		t.Error("upload through an escaping symlink wrote outside the home")
	}
}

func scAtomicDisconnect(t *testing.T, env *Env, dial Dialer) {
	c := login(t, dial, scenarioAlice)
	old := []byte("previous complete version")
	if err := c.Upload("/a.bin", old); err != nil {
		t.Fatal(err)
	}
	ic, ok := c.(Interrupter)
	if !ok {
		t.Skip("client cannot interrupt an upload")
	}
	data := randomBytes(t, 2<<20)
	if err := ic.UploadInterrupted("/a.bin", data[:1<<20]); err != nil {
		t.Fatalf("interrupted upload: %v", err)
	}
	// Whatever the server saw, the old complete file is still what the
	// name holds, for every reader.
	c2 := login(t, dial, scenarioAlice)
	got, err := c2.Download("/a.bin")
	if err != nil || !bytes.Equal(got, old) {
		t.Fatalf("after an interrupted upload the file holds %d bytes (err %v), want the previous %d", len(got), err, len(old))
	}
	mustDisk(t, env, scenarioAlice, "a.bin", old)
	names, err := c2.List("/")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"a.bin"}) {
		t.Fatalf("listing after an interrupted upload = %q, want only a.bin", names)
	}
}

func scQuota(t *testing.T, env *Env, dial Dialer) {
	c := login(t, dial, scenarioQuota)
	first := randomBytes(t, 60<<10)
	if err := c.Upload("/first.bin", first); err != nil {
		t.Fatalf("upload within the quota: %v", err)
	}
	if err := c.Upload("/second.bin", randomBytes(t, 60<<10)); err == nil {
		t.Fatal("upload crossing the quota succeeded")
	}
	mustNotExist(t, env, scenarioQuota, "second.bin")
	mustDisk(t, env, scenarioQuota, "first.bin", first)
	// The session is still usable and small files still fit.
	if err := c.Upload("/small.bin", []byte("fits")); err != nil {
		t.Fatalf("small upload after the refusal: %v", err)
	}
}

func scFilters(t *testing.T, env *Env, dial Dialer) {
	env.WriteFile(t, scenarioFiltered, "secret.txt", []byte("hidden"))
	env.WriteFile(t, scenarioFiltered, "plain.txt", []byte("plain"))
	c := login(t, dial, scenarioFiltered)
	if err := c.Upload("/tool.exe", []byte("MZ")); err == nil {
		t.Error("upload of a denied name succeeded")
	}
	mustNotExist(t, env, scenarioFiltered, "tool.exe")
	names, err := c.List("/")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names, "secret.txt") || !slices.Contains(names, "plain.txt") {
		t.Errorf("listing = %q, want plain.txt and no secret.txt", names)
	}
	if got, err := c.Download("/secret.txt"); err == nil {
		t.Errorf("download of a hidden name returned %q", got)
	}
}

func scFolders(t *testing.T, env *Env, dial Dialer) {
	refDir := filepath.Join(env.Root, "folders", "ref")
	if err := os.MkdirAll(refDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(refDir, "manual.txt"), []byte("manual"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := login(t, dial, scenarioMounted)
	data := []byte("into the shared folder")
	if err := c.Upload("/shared/drop.txt", data); err != nil {
		t.Fatalf("upload into a read-write folder: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(env.Root, "folders", "shared", "drop.txt")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("folder holds %q, %v", got, err)
	}
	if got, err := c.Download("/ref/manual.txt"); err != nil || string(got) != "manual" {
		t.Fatalf("download from a read-only folder: %q, %v", got, err)
	}
	if err := c.Upload("/ref/new.txt", []byte("x")); err == nil {
		t.Error("upload into a read-only folder succeeded")
	}
	if _, err := os.Stat(filepath.Join(refDir, "new.txt")); err == nil {
		t.Error("read-only folder was written")
	}
	names, err := c.List("/")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"ref", "shared"}) {
		t.Errorf("root lists %q, want the folders ref and shared", names)
	}
}

func scPreHook(t *testing.T, env *Env, dial Dialer) {
	env.Gate.Set(func(_ context.Context, ev ferry.Event) error {
		if ev.Type == ferry.EventUpload && strings.HasSuffix(ev.Path, ".blocked") {
			return fmt.Errorf("virus scanner refused %s", ev.Path)
		}
		return nil
	})
	c := login(t, dial, scenarioAlice)
	if err := c.Upload("/x.blocked", []byte("payload")); err == nil {
		t.Fatal("upload refused by a pre-hook succeeded")
	}
	mustNotExist(t, env, scenarioAlice, "x.blocked")
	names, _ := c.List("/")
	if len(names) != 0 {
		t.Errorf("home lists %q after a refused upload, want nothing", names)
	}
	if err := c.Upload("/x.ok", []byte("payload")); err != nil {
		t.Fatalf("allowed upload: %v", err)
	}
}
