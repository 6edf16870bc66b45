package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// httpStatus sends one request with the given Authorization header (none
// when auth is "") and returns the status code.
func httpStatus(t *testing.T, method, url, auth string, hdr ...string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func basicAuth(user, pw string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	req.SetBasicAuth(user, pw)
	return req.Header.Get("Authorization")
}

// TestHTTPBrowserAccount drives the web client's account pages in headless
// Chromium: change one's own password (the new one works over WebDAV, the
// old one no longer), create an API token (it opens the file API) and
// revoke it (it no longer does); forged POSTs — same-origin without the
// CSRF token, cross-origin with it — change nothing; and "..", encoded or
// not, in a files URL does not leave the home.
func TestHTTPBrowserAccount(t *testing.T) {
	requireTool(t, "chromium")
	t.Parallel()
	s := newServer(t)
	s.AddService("web", "http")
	s.AddUser("alice", "alice-pw-1", "--perm", "/=all")
	s.AddUser("bob", "bob-pw-1", "--perm", "/=all")
	writeFile(t, s.Home("alice", "mine.txt"), []byte("alice's\n"))
	writeFile(t, s.Home("bob", "bobs-secret.txt"), []byte("bob's\n"))
	s.Start()
	base := "http://" + s.Addr("web")
	tab := browser(t)

	step(t, tab, "open", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("#user")))
	if st := navStep(t, tab, "sign in",
		chromedp.SendKeys(chromedp.CSS("#user"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), "alice-pw-1"),
		chromedp.Click(chromedp.CSS(`form.login button[type=submit]`)),
	); st != 200 {
		t.Fatalf("sign in: status %d", st)
	}
	step(t, tab, "listing", chromedp.WaitVisible(chromedp.CSS("table.files")))

	// Change password: a wrong current password and a mistyped repetition
	// are refused in words; then the change is made.
	navStep(t, tab, "password page", chromedp.Click(chromedp.CSS(`nav.menu a[href="/password"]`)))
	step(t, tab, "password form", chromedp.WaitVisible(chromedp.CSS("#old")))
	if cur := get(t, tab, "current nav", chromedp.AttributeValue(chromedp.CSS(`nav.menu a[href="/password"]`), "aria-current")); cur.Value != "page" {
		t.Errorf("password nav link aria-current %+v", cur)
	}
	fill := func(old, pw, again string) int64 {
		return navStep(t, tab, "change password",
			chromedp.SendKeys(chromedp.CSS("#old"), old),
			chromedp.SendKeys(chromedp.CSS("#new"), pw),
			chromedp.SendKeys(chromedp.CSS("#repeat"), again),
			chromedp.Click(chromedp.CSS(`form[action="/password"] button[type=submit]`)))
	}
	if st := fill("not-my-password", "alice-pw-2-long", "alice-pw-2-long"); st != http.StatusForbidden {
		t.Errorf("wrong current password: status %d, want 403", st)
	}
	if msg := text(t, tab, "p.msg.err"); msg != "Your current password is not right." {
		t.Errorf("wrong current password message %q", msg)
	}
	if st := fill("alice-pw-1", "alice-pw-2-long", "alice-pw-2-typo"); st != http.StatusBadRequest {
		t.Errorf("mistyped repetition: status %d, want 400", st)
	}
	if msg := text(t, tab, "p.msg.err"); msg != "The new password and its repetition differ." {
		t.Errorf("mistyped repetition message %q", msg)
	}
	if st := fill("alice-pw-1", "alice-pw-2-long", "alice-pw-2-long"); st != http.StatusOK {
		t.Fatalf("change password: status %d", st)
	}
	if msg := text(t, tab, "p.msg.ok"); msg != "Your password has been changed." {
		t.Errorf("password changed message %q; error %q", msg, texts(t, tab, "p.msg.err"))
	}
	shot(t, tab, "password-changed")
	if st := httpStatus(t, "GET", base+"/dav/mine.txt", basicAuth("alice", "alice-pw-1")); st != http.StatusUnauthorized {
		t.Errorf("WebDAV with the old password: %d, want 401", st)
	}
	if st := httpStatus(t, "GET", base+"/dav/mine.txt", basicAuth("alice", "alice-pw-2-long")); st != http.StatusOK {
		t.Errorf("WebDAV with the new password: %d, want 200", st)
	}

	// Create an API token, use it, revoke it.
	navStep(t, tab, "tokens page", chromedp.Click(chromedp.CSS(`nav.menu a[href="/tokens"]`)))
	step(t, tab, "token form", chromedp.WaitVisible(chromedp.CSS("#token-name")))
	if st := navStep(t, tab, "create token",
		chromedp.SendKeys(chromedp.CSS("#token-name"), "browser-ci"),
		chromedp.Click(chromedp.CSS(`form[action="/tokens"] button[type=submit]`)),
	); st != http.StatusCreated {
		t.Fatalf("create token: status %d; error %q", st, texts(t, tab, "p.msg.err"))
	}
	secret := get(t, tab, "new token", chromedp.Value(chromedp.CSS("#new-token")))
	if secret == "" {
		t.Fatal("no token shown after creating one")
	}
	if rows := texts(t, tab, "table.files tbody td:first-child"); len(rows) != 1 || rows[0] != "browser-ci" {
		t.Errorf("token table %q", rows)
	}
	shot(t, tab, "token-created")
	bearer := "Bearer " + secret
	if st := httpStatus(t, "GET", base+"/api/v1/fs/mine.txt", bearer); st != http.StatusOK {
		t.Errorf("file API with the new token: %d, want 200", st)
	}
	if out := s.MustFerry("user", "token", "list", "alice"); !strings.Contains(out, "browser-ci") {
		t.Errorf("ferry user token list does not show the token:\n%s", out)
	}
	if st := navStep(t, tab, "revoke token",
		chromedp.Click(chromedp.CSS(`button[aria-label="Revoke token browser-ci"]`))); st != http.StatusOK {
		t.Fatalf("revoke: status %d", st)
	}
	if msg := text(t, tab, "p.msg.ok"); msg != "Token revoked." {
		t.Errorf("revoke message %q", msg)
	}
	if rows := texts(t, tab, "table.files tbody td:first-child"); len(rows) != 1 || rows[0] != "You have no tokens." {
		t.Errorf("token table after revoking %q", rows)
	}
	if st := httpStatus(t, "GET", base+"/api/v1/fs/mine.txt", bearer); st != http.StatusUnauthorized {
		t.Errorf("file API with the revoked token: %d, want 401", st)
	}

	// A same-origin POST without the CSRF token is refused.
	navStep(t, tab, "files", chromedp.Navigate(base+"/files/"))
	csrf := get(t, tab, "csrf token", chromedp.Value(chromedp.CSS(`form[action="/mkdir"] input[name=csrf]`)))
	status := get(t, tab, "forged same-origin POST", chromedp.Evaluate[int](
		`fetch('/mkdir', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
			body: 'dir=%2F&name=forged-same-origin'}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if status != http.StatusForbidden {
		t.Errorf("same-origin POST without the CSRF token: %d, want 403", status)
	}
	// A page of another origin posting the form, even with the token, is
	// refused too: the browser says where the request comes from.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>evil</title><form method="post" action="%s/mkdir">
<input type="hidden" name="csrf" value="%s"><input type="hidden" name="dir" value="/">
<input type="hidden" name="name" value="forged-cross-origin"><button id="go" type="submit">Win a prize</button></form>`, base, csrf)
	}))
	t.Cleanup(evil.Close)
	step(t, tab, "evil page", chromedp.Navigate(evil.URL), chromedp.WaitVisible(chromedp.CSS("#go")))
	if st := navStep(t, tab, "forged cross-origin POST", chromedp.Click(chromedp.CSS("#go"))); st != http.StatusForbidden {
		t.Errorf("cross-origin POST: status %d, want 403", st)
	}
	shot(t, tab, "csrf-refused")
	for _, name := range []string{"forged-same-origin", "forged-cross-origin"} {
		if _, err := os.Stat(s.Home("alice", name)); !os.IsNotExist(err) {
			t.Errorf("forged POST made %s: %v", name, err)
		}
	}

	// ".." in a files URL, plain or encoded, does not reach bob's home.
	for _, p := range []string{"/files/..%2fbob/", "/files/%2e%2e/bob/", "/files/%2e%2e%2f%2e%2e%2f", "/files/%252e%252e/bob/"} {
		navStep(t, tab, "traversal "+p, chromedp.Navigate(base+p))
		html := get(t, tab, "page of "+p, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		if strings.Contains(html, "bobs-secret.txt") {
			t.Errorf("%s shows bob's files", p)
		}
	}

	// Sign out; the new password signs in, the old one does not.
	navStep(t, tab, "files", chromedp.Navigate(base+"/files/"))
	navStep(t, tab, "sign out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)))
	step(t, tab, "sign-in form", chromedp.WaitVisible(chromedp.CSS("#password")))
	if st := navStep(t, tab, "old password",
		chromedp.SendKeys(chromedp.CSS("#user"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), "alice-pw-1"),
		chromedp.Click(chromedp.CSS(`form.login button[type=submit]`)),
	); st != http.StatusUnauthorized {
		t.Errorf("sign in with the old password: status %d, want 401", st)
	}
	step(t, tab, "clear", chromedp.Clear(chromedp.CSS("#user")), chromedp.Clear(chromedp.CSS("#password")))
	if st := navStep(t, tab, "new password",
		chromedp.SendKeys(chromedp.CSS("#user"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), "alice-pw-2-long"),
		chromedp.Click(chromedp.CSS(`form.login button[type=submit]`)),
	); st != http.StatusOK {
		t.Fatalf("sign in with the new password: status %d", st)
	}
	if who := text(t, tab, "header .who"); who != "Signed in as alice" {
		t.Errorf("header says %q", who)
	}
}
