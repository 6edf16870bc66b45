package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser tests drive Debian's chromium headless through chromedp
// against the web client (`/` of an http service) and the web admin
// (`/admin/` of the admin service). They assert DOM states and bytes on
// disk, never durations; each step waits for an element or a navigation.

// browser starts a headless Chromium for the test, with a fresh profile,
// and returns its first tab. The whole test shares one deadline.
func browser(t *testing.T) context.Context {
	t.Helper()
	requireTool(t, "chromium")
	exe, _ := exec.LookPath("chromium")
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	var out syncBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(&out),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel) // runs before the profile directory is removed
	tab, tcancel := chromedp.NewContext(actx)
	t.Cleanup(tcancel)
	if err := chromedp.Do(tab); err != nil { // starts the browser
		t.Fatalf("start chromium: %v\n%s", err, out.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			shot(t, tab, "failure")
			if s := out.String(); s != "" {
				t.Logf("chromium output:\n%s", s)
			}
		}
	})
	return tab
}

// newTab opens a tab in a separate browser context (its own cookies) of the
// same browser.
func newTab(t *testing.T, parent context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	return tab
}

// step runs actions that return nothing and fails the test on error.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		shot(t, ctx, "error")
		t.Fatalf("%s: %v", what, err)
	}
}

// navStep runs actions that cause one page load (a form post, a link) and
// returns the HTTP status of the document that loaded.
func navStep(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) int64 {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		shot(t, ctx, "error")
		t.Fatalf("%s: %v", what, err)
	}
	return resp.Status
}

// get runs one action with a value and fails the test on error.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		shot(t, ctx, "error")
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// text is the visible text of the first element matching a CSS selector,
// once it is visible.
func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	step(t, ctx, "wait for "+css, chromedp.WaitVisible(chromedp.CSS(css)))
	return strings.TrimSpace(get(t, ctx, "text of "+css, chromedp.Text(chromedp.CSS(css))))
}

// texts is the trimmed text content of every element matching a CSS
// selector, in document order.
func texts(t *testing.T, ctx context.Context, css string) []string {
	t.Helper()
	return get(t, ctx, "texts of "+css, chromedp.Evaluate[[]string](
		fmt.Sprintf(`Array.from(document.querySelectorAll(%q), e => e.textContent.trim())`, css)))
}

// location is the current URL of the tab.
func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	return get(t, ctx, "location", chromedp.Location())
}

var shotName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// shot saves a PNG of the whole page under the test's temporary directory,
// and copies it to $FERRY_ARTIFACTS when that is set. Best effort: a
// screenshot that fails only logs.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if ctx.Err() != nil {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	file := shotName.ReplaceAllString(t.Name()+"-"+name, "_") + ".png"
	if err := os.WriteFile(filepath.Join(t.TempDir(), file), png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
	if dir := os.Getenv("FERRY_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			err = os.WriteFile(filepath.Join(dir, file), png, 0o644)
		}
		if err != nil {
			t.Logf("screenshot %s: %v", name, err)
		}
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserWebClient signs in to the web client as a user made with the
// CLI, sees the files of the home, uploads, creates a folder, renames,
// deletes and signs out — in headless Chromium.
func TestBrowserWebClient(t *testing.T) {
	requireTool(t, "chromium")
	t.Parallel()
	s := newServer(t)
	s.AddService("web", "http")
	s.AddUser("alice", "alice-pw", "--perm", "/=all")
	readme := []byte("Read me first.\n")
	writeFile(t, s.Home("alice", "readme.txt"), readme)
	writeFile(t, s.Home("alice", "docs", "a.txt"), []byte("a\n"))
	s.Start()
	base := "http://" + s.Addr("web")
	tab := browser(t)

	// The home page sends a stranger to the sign-in form.
	step(t, tab, "open", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#user")))
	if h := text(t, tab, "h1"); h != "Sign in" {
		t.Fatalf("first page heading %q", h)
	}

	// A wrong password is refused in words, and the name is kept.
	if st := navStep(t, tab, "wrong password",
		chromedp.SendKeys(chromedp.CSS("#user"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), "not-the-password"),
		chromedp.Click(chromedp.CSS(`form.login button[type=submit]`)),
	); st != 401 {
		t.Errorf("wrong password: status %d, want 401", st)
	}
	if msg := text(t, tab, "p.msg.err"); msg != "Wrong user name or password." {
		t.Errorf("wrong password message %q", msg)
	}
	shot(t, tab, "wrong-password")
	if v := get(t, tab, "user field", chromedp.Value(chromedp.CSS("#user"))); v != "alice" {
		t.Errorf("user field after a failed sign-in: %q", v)
	}

	// Sign in with the keyboard only: type the name, Tab to the password,
	// type it, Enter.
	step(t, tab, "clear", chromedp.Clear(chromedp.CSS("#user")), chromedp.Focus(chromedp.CSS("#user")))
	step(t, tab, "type name", chromedp.KeyEvent("alice"), chromedp.KeyEvent("\t"))
	if id := get(t, tab, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); id != "password" {
		t.Fatalf("Tab from the user name focused %q, want the password field", id)
	}
	if st := navStep(t, tab, "sign in", chromedp.KeyEvent("alice-pw"), chromedp.KeyEvent("\r")); st != 200 {
		t.Fatalf("sign in: status %d", st)
	}
	if loc := location(t, tab); !strings.HasSuffix(loc, "/files/") {
		t.Fatalf("after sign-in at %s, want /files/", loc)
	}
	if who := text(t, tab, "header .who"); who != "Signed in as alice" {
		t.Errorf("header says %q", who)
	}

	// The listing shows what is on disk: folders first, sizes in bytes.
	step(t, tab, "listing", chromedp.WaitVisible(chromedp.CSS("table.files")))
	names := texts(t, tab, "table.files tbody td:first-child a")
	if !slices.Equal(names, []string{"📁 docs/", "readme.txt"}) {
		t.Errorf("listing %q", names)
	}
	if title := get(t, tab, "size", chromedp.AttributeValue(chromedp.CSS(`table.files tbody tr:nth-child(2) td.num span`), "title")); title.Value != fmt.Sprintf("%d bytes", len(readme)) {
		t.Errorf("readme size title %+v", title)
	}
	shot(t, tab, "listing")

	// Download through the signed-in page gives the bytes on disk.
	got := get(t, tab, "download", chromedp.Evaluate[string](
		`fetch(document.querySelector('a[href$="/readme.txt"]').href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if got != string(readme) {
		t.Errorf("download %q, want %q", got, readme)
	}

	// Upload two files at once through the file input.
	bin := make([]byte, 300<<10)
	rand.Read(bin)
	up := t.TempDir()
	writeFile(t, filepath.Join(up, "blob.bin"), bin)
	writeFile(t, filepath.Join(up, "hello world.txt"), []byte("hello from chromium\n"))
	if st := navStep(t, tab, "upload",
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{filepath.Join(up, "blob.bin"), filepath.Join(up, "hello world.txt")}),
		chromedp.Click(chromedp.CSS(`#upload button[type=submit]`)),
	); st != 200 {
		t.Fatalf("upload: page status %d", st)
	}
	if msg := text(t, tab, "p.msg.ok"); msg != "Upload complete." {
		t.Errorf("upload message %q; error %q", msg, texts(t, tab, "p.msg.err"))
	}
	if b, err := os.ReadFile(s.Home("alice", "blob.bin")); err != nil || !bytes.Equal(b, bin) {
		t.Errorf("uploaded blob.bin: %d bytes, %v (want %d identical bytes)", len(b), err, len(bin))
	}
	if b, err := os.ReadFile(s.Home("alice", "hello world.txt")); err != nil || string(b) != "hello from chromium\n" {
		t.Errorf("uploaded hello world.txt: %q %v", b, err)
	}
	names = texts(t, tab, "table.files tbody td:first-child a")
	if !slices.Equal(names, []string{"📁 docs/", "blob.bin", "hello world.txt", "readme.txt"}) {
		t.Errorf("listing after upload %q", names)
	}
	shot(t, tab, "uploaded")

	// Create a folder.
	if st := navStep(t, tab, "mkdir",
		chromedp.SendKeys(chromedp.CSS("#newdir"), "inbox"),
		chromedp.Click(chromedp.CSS(`form[action="/mkdir"] button[type=submit]`)),
	); st != 200 {
		t.Fatalf("mkdir: status %d", st)
	}
	if msg := text(t, tab, "p.msg.ok"); msg != "Folder created." {
		t.Errorf("mkdir message %q", msg)
	}
	if fi, err := os.Stat(s.Home("alice", "inbox")); err != nil || !fi.IsDir() {
		t.Errorf("inbox on disk: %v", err)
	}
	step(t, tab, "inbox listed", chromedp.WaitVisible(chromedp.CSS(`a.dir[href="/files/inbox/"]`)))

	// Rename readme.txt to README.md.
	step(t, tab, "rename page", chromedp.Click(chromedp.CSS(`a[aria-label="Rename readme.txt"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/rename"] #name`)))
	if h := text(t, tab, "h1"); h != "Rename readme.txt" {
		t.Errorf("rename heading %q", h)
	}
	if st := navStep(t, tab, "rename",
		chromedp.Clear(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "README.md"),
		chromedp.Click(chromedp.CSS(`form[action="/rename"] button[type=submit]`)),
	); st != 200 {
		t.Fatalf("rename: status %d", st)
	}
	if msg := text(t, tab, "p.msg.ok"); msg != "Renamed." {
		t.Errorf("rename message %q", msg)
	}
	if _, err := os.Stat(s.Home("alice", "readme.txt")); !os.IsNotExist(err) {
		t.Errorf("readme.txt still there after rename: %v", err)
	}
	if b, err := os.ReadFile(s.Home("alice", "README.md")); err != nil || !bytes.Equal(b, readme) {
		t.Errorf("README.md: %q %v", b, err)
	}

	// Delete a file, with the confirmation page.
	step(t, tab, "delete page", chromedp.Click(chromedp.CSS(`a[aria-label="Delete hello world.txt"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/delete"] button.danger`)))
	if h := text(t, tab, "h1"); h != "Delete hello world.txt?" {
		t.Errorf("delete heading %q", h)
	}
	shot(t, tab, "confirm-delete")
	if _, err := os.Stat(s.Home("alice", "hello world.txt")); err != nil {
		t.Errorf("the confirmation page deleted already: %v", err)
	}
	if st := navStep(t, tab, "delete", chromedp.Click(chromedp.CSS(`form[action="/delete"] button.danger`))); st != 200 {
		t.Fatalf("delete: status %d", st)
	}
	if msg := text(t, tab, "p.msg.ok"); msg != "Deleted." {
		t.Errorf("delete message %q", msg)
	}
	if _, err := os.Stat(s.Home("alice", "hello world.txt")); !os.IsNotExist(err) {
		t.Errorf("hello world.txt after delete: %v", err)
	}

	// A folder goes with its contents, after saying so.
	step(t, tab, "delete folder page", chromedp.Click(chromedp.CSS(`a[aria-label="Delete docs"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/delete"] button.danger`)))
	if p := text(t, tab, `form[action="/delete"] p`); !strings.Contains(p, "everything in it will be deleted") {
		t.Errorf("folder confirmation %q", p)
	}
	navStep(t, tab, "delete folder", chromedp.Click(chromedp.CSS(`form[action="/delete"] button.danger`)))
	if _, err := os.Stat(s.Home("alice", "docs")); !os.IsNotExist(err) {
		t.Errorf("docs after delete: %v", err)
	}
	names = texts(t, tab, "table.files tbody td:first-child a")
	if !slices.Equal(names, []string{"📁 inbox/", "blob.bin", "README.md"}) {
		t.Errorf("listing at the end %q", names)
	}

	// Sorting by size marks the column for assistive technology.
	navStep(t, tab, "sort", chromedp.Click(chromedp.CSS(`th:nth-child(2) a`)))
	if sort := get(t, tab, "aria-sort", chromedp.AttributeValue(chromedp.CSS(`th:nth-child(2)`), "aria-sort")); sort.Value != "ascending" {
		t.Errorf("aria-sort after sorting by size: %+v", sort)
	}
	shot(t, tab, "sorted")

	// Sign out returns to the sign-in page, and the files are closed.
	if st := navStep(t, tab, "sign out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`))); st != 200 {
		t.Fatalf("sign out: status %d", st)
	}
	step(t, tab, "sign-in form", chromedp.WaitVisible(chromedp.CSS("#password")))
	if msg := text(t, tab, "p.msg.ok"); msg != "You are signed out." {
		t.Errorf("sign-out message %q", msg)
	}
	navStep(t, tab, "files after sign-out", chromedp.Navigate(base+"/files/"))
	if loc := location(t, tab); !strings.Contains(loc, "/login") {
		t.Errorf("files after sign-out shown at %s, want the sign-in page", loc)
	}
	shot(t, tab, "signed-out")
}

// TestBrowserWebAdmin signs in to the web admin, sees the services on the
// dashboard, creates a user whose web-client session it then kicks, stops a
// service and adds a ban that `ferry ban list` shows.
func TestBrowserWebAdmin(t *testing.T) {
	requireTool(t, "chromium")
	t.Parallel()
	s := newServer(t)
	s.AddService("admin", "admin")
	s.AddService("web", "http")
	s.AddService("ftp1", "ftp")
	s.Start()
	admin := "http://" + s.Addr("admin")
	web := "http://" + s.Addr("web")
	ftpAddr := s.Addr("ftp1")
	tab := browser(t)

	// Sign in with the keyboard.
	step(t, tab, "open", chromedp.Navigate(admin+"/admin/"), chromedp.WaitVisible(chromedp.CSS("#name")))
	step(t, tab, "focus", chromedp.Focus(chromedp.CSS("#name")))
	if st := navStep(t, tab, "sign in",
		chromedp.SendKeys(chromedp.CSS("#name"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), AdminPassword+"\n"),
	); st != 200 {
		t.Fatalf("admin sign-in: status %d", st)
	}
	if h := text(t, tab, "main h1"); h != "Dashboard" {
		t.Fatalf("after sign-in the page is %q; error %q", h, texts(t, tab, "#page-error"))
	}
	rows := texts(t, tab, "main table:first-of-type tbody tr")
	for _, name := range []string{"admin", "web", "ftp1"} {
		if !slices.ContainsFunc(rows, func(r string) bool { return strings.HasPrefix(r, name) && strings.Contains(r, "running") }) {
			t.Errorf("dashboard does not show %s running: %q", name, rows)
		}
	}
	shot(t, tab, "dashboard")

	// A new user through the form; a bad home is refused next to its field.
	step(t, tab, "users", chromedp.Navigate(admin+"/admin/users"), chromedp.WaitVisible(chromedp.CSS("#new-user")))
	navStep(t, tab, "new user page", chromedp.Click(chromedp.CSS("#new-user")))
	if st := navStep(t, tab, "bad user",
		chromedp.SendKeys(chromedp.CSS("#name"), "partner"),
		chromedp.SendKeys(chromedp.CSS("#password"), "partner-pw"),
		chromedp.SendKeys(chromedp.CSS("#home"), "in"),
		chromedp.SendKeys(chromedp.CSS("#perms"), "/=all"),
		chromedp.Click(chromedp.CSS("#save-user")),
	); st != 400 {
		t.Errorf("user with a relative home: status %d, want 400", st)
	}
	if e := text(t, tab, "#home-err"); !strings.Contains(e, "absolute") {
		t.Errorf("home error %q", e)
	}
	shot(t, tab, "user-form-error")
	step(t, tab, "fix home", chromedp.Clear(chromedp.CSS("#home")))
	// The password field is not refilled after a refused form.
	step(t, tab, "password", chromedp.Clear(chromedp.CSS("#password")), chromedp.SendKeys(chromedp.CSS("#password"), "partner-pw"))
	if st := navStep(t, tab, "save user", chromedp.Click(chromedp.CSS("#save-user"))); st != 200 {
		t.Fatalf("save user: status %d; errors %q", st, texts(t, tab, ".field-error, #page-error"))
	}
	if out := s.MustFerry("user", "show", "partner"); !strings.Contains(out, "perm:") || !strings.Contains(out, "/=list,download,upload") {
		t.Errorf("ferry user show partner:\n%s", out)
	}

	// The policy settings are in the same form: a bad network is refused
	// next to its field, the rest of what was typed stays.
	step(t, tab, "edit user", chromedp.Navigate(admin+"/admin/users/partner"), chromedp.WaitVisible(chromedp.CSS("#dotfiles")))
	if st := navStep(t, tab, "bad policy",
		chromedp.SendKeys(chromedp.CSS("#allow_cidrs"), "not-a-network"),
		chromedp.SendKeys(chromedp.CSS("#quota_bytes"), "1000000"),
		chromedp.SetValue(chromedp.CSS("#dotfiles"), "hide"),
		chromedp.SendKeys(chromedp.CSS("#deny_patterns"), "*.exe"),
		chromedp.Click(chromedp.CSS("#save-user")),
	); st != 400 {
		t.Errorf("user with a bad network: status %d, want 400", st)
	}
	if e := text(t, tab, "#allow_cidrs-err"); !strings.Contains(e, "not-a-network") {
		t.Errorf("allow_cidrs error %q", e)
	}
	shot(t, tab, "user-policy-error")
	step(t, tab, "fix network", chromedp.Clear(chromedp.CSS("#allow_cidrs")), chromedp.SendKeys(chromedp.CSS("#allow_cidrs"), "127.0.0.0/8"))
	if st := navStep(t, tab, "save policy", chromedp.Click(chromedp.CSS("#save-user"))); st != 200 {
		t.Fatalf("save policy: status %d; errors %q", st, texts(t, tab, ".field-error, #page-error"))
	}
	out := s.MustFerry("user", "show", "partner")
	for _, want := range []string{"127.0.0.0/8", "1000000", "dotfiles:", "hide", "*.exe"} {
		if !strings.Contains(out, want) {
			t.Errorf("ferry user show partner lacks %q:\n%s", want, out)
		}
	}

	// The new user signs in to the web client in a browser of their own.
	user := newTab(t, tab)
	step(t, user, "web client", chromedp.Navigate(web+"/login"), chromedp.WaitVisible(chromedp.CSS("#user")))
	navStep(t, user, "user sign in",
		chromedp.SendKeys(chromedp.CSS("#user"), "partner"),
		chromedp.SendKeys(chromedp.CSS("#password"), "partner-pw\n"))
	if who := text(t, user, "header .who"); who != "Signed in as partner" {
		t.Fatalf("partner's page header %q", who)
	}

	// The session is listed, and Kick ends it.
	step(t, tab, "sessions", chromedp.Navigate(admin+"/admin/sessions"), chromedp.WaitVisible(chromedp.CSS("main table")))
	rowID := get(t, tab, "partner's session", chromedp.Evaluate[string](
		`(Array.from(document.querySelectorAll('tr[id^="session-"]')).find(r => r.cells[1].textContent === "partner" && r.cells[2].textContent === "http") || {id: ""}).id`))
	if rowID == "" {
		t.Fatalf("no http session of partner on the sessions page: %q", texts(t, tab, "main tbody tr"))
	}
	shot(t, tab, "sessions")
	row := fmt.Sprintf(`tr[id=%q]`, rowID)
	navStep(t, tab, "kick", chromedp.Click(chromedp.CSS(row+" button.danger")))
	step(t, tab, "session gone", chromedp.WaitVisible(chromedp.CSS("p.flash")), chromedp.WaitNotPresent(chromedp.CSS(row)))
	if f := text(t, tab, "p.flash"); !strings.Contains(f, "disconnected") {
		t.Errorf("kick flash %q", f)
	}
	// The kicked browser is signed out.
	navStep(t, user, "reload after kick", chromedp.Reload())
	step(t, user, "sign-in again", chromedp.WaitVisible(chromedp.CSS("#password")))
	if loc := location(t, user); !strings.Contains(loc, "/login") {
		t.Errorf("kicked user's page is %s, want the sign-in page", loc)
	}

	// Stop the FTP service from the services page.
	step(t, tab, "services", chromedp.Navigate(admin+"/admin/services"), chromedp.WaitVisible(chromedp.CSS("#service-ftp1 td.state-running")))
	navStep(t, tab, "stop", chromedp.Click(chromedp.CSS(`#service-ftp1 form[action$="/stop"] button`)))
	state := text(t, tab, "#service-ftp1 td:nth-child(4)")
	if state != "disabled" && state != "stopped" {
		t.Errorf("ftp1 after Stop shows %q", state)
	}
	step(t, tab, "start button", chromedp.WaitVisible(chromedp.CSS(`#service-ftp1 form[action$="/start"] button`)))
	shot(t, tab, "service-stopped")
	WaitFor(t, "ftp1 closed", func() bool {
		c, err := net.Dial("tcp", ftpAddr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	// Start brings it back, on a new port.
	navStep(t, tab, "start", chromedp.Click(chromedp.CSS(`#service-ftp1 form[action$="/start"] button`)))
	if state := text(t, tab, "#service-ftp1 td:nth-child(4)"); state != "running" {
		t.Errorf("ftp1 after Start shows %q", state)
	}
	if addr := text(t, tab, "#service-ftp1 td:nth-child(5)"); addr == "" {
		t.Errorf("ftp1 after Start has no address")
	} else if c, err := net.Dial("tcp", addr); err != nil {
		t.Errorf("ftp1 after Start: %v", err)
	} else {
		c.Close()
	}

	// A ban from the bans page is in force for the CLI too.
	step(t, tab, "bans", chromedp.Navigate(admin+"/admin/bans"), chromedp.WaitVisible(chromedp.CSS("#network")))
	navStep(t, tab, "ban",
		chromedp.SendKeys(chromedp.CSS("#network"), "192.0.2.0/24"),
		chromedp.SendKeys(chromedp.CSS("#reason"), "browser test"),
		chromedp.SendKeys(chromedp.CSS("#duration"), "2h"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/bans"] button[type=submit]`)))
	if f := text(t, tab, "p.flash"); f != "192.0.2.0/24 banned" {
		t.Errorf("ban flash %q; errors %q", f, texts(t, tab, ".field-error"))
	}
	if rows := texts(t, tab, "main tbody tr"); !slices.ContainsFunc(rows, func(r string) bool { return strings.Contains(r, "192.0.2.0/24") && strings.Contains(r, "browser test") }) {
		t.Errorf("bans page rows %q", rows)
	}
	shot(t, tab, "bans")
	if out := s.MustFerry("ban", "list"); !regexp.MustCompile(`(?m)^192\.0\.2\.0/24\s+\S.*browser test$`).MatchString(out) {
		t.Errorf("ferry ban list:\n%s", out)
	}

	// Sign out.
	navStep(t, tab, "sign out", chromedp.Click(chromedp.CSS(`form[action="/admin/logout"] button`)))
	step(t, tab, "signed out", chromedp.WaitVisible(chromedp.CSS("#signin")))
}
