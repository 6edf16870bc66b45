package httpd

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

var secretField = regexp.MustCompile(`id="new-token" class="secret" value="(fyu_[a-z0-9]+)"`)

// TestWebTokensAndBearer: a token made on the Tokens page (CSRF checked)
// logs the API and WebDAV in as its user by Authorization: Bearer; a
// revoked or wrong token gets 401 with a Bearer challenge on the API.
func TestWebTokensAndBearer(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"), ferrytest.User("bob", "pw"))
	base := startServer(t, env, func(o *Options) { o.AuthCacheTTL = -1 })
	b := newBrowser(t, base)
	csrf := b.login("alice", "pw")
	resp, body := b.get("/tokens")
	wantStatus(t, "tokens page", resp, body, http.StatusOK)
	if !strings.Contains(body, "You have no tokens.") || !strings.Contains(body, `aria-current="page">API tokens`) {
		t.Errorf("empty tokens page: %q", body)
	}
	resp, body = b.post("/tokens", url.Values{"name": {"ci"}, "expires": {"90"}})
	wantStatus(t, "create without CSRF", resp, body, http.StatusForbidden)
	resp, body = b.post("/tokens", url.Values{"csrf": {csrf}, "name": {"ci"}, "expires": {"90"}})
	wantStatus(t, "create", resp, body, http.StatusCreated)
	m := secretField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no secret on the page: %q", body)
	}
	secret := m[1]
	if !strings.Contains(body, "<td>ci</td>") {
		t.Errorf("new token not listed: %q", body)
	}
	resp, body = b.post("/tokens", url.Values{"csrf": {csrf}, "name": {"ci"}, "expires": {"0"}})
	wantStatus(t, "duplicate", resp, body, http.StatusConflict)
	if !strings.Contains(body, "You already have a token named") {
		t.Errorf("duplicate name not explained: %q", body)
	}
	resp, body = b.post("/tokens", url.Values{"csrf": {csrf}, "name": {"a b"}, "expires": {"0"}})
	wantStatus(t, "bad name", resp, body, http.StatusBadRequest)

	bearer := "Authorization"
	resp, body = do(t, "PUT", base+"/api/v1/fs/by-token.txt", "", "", strings.NewReader("hello"), bearer, "Bearer "+secret)
	wantStatus(t, "API PUT with token", resp, body, http.StatusCreated)
	if got, err := readHome(env, "alice", "by-token.txt"); err != nil || string(got) != "hello" {
		t.Errorf("uploaded by token: %q, %v", got, err)
	}
	resp, body = do(t, "GET", base+"/dav/by-token.txt", "", "", nil, bearer, "bearer "+secret)
	wantStatus(t, "WebDAV GET with token", resp, body, http.StatusOK)
	resp, body = do(t, "GET", base+"/api/v1/fs/", "", "", nil, bearer, "Bearer fyu_wrong")
	wantStatus(t, "wrong token", resp, body, http.StatusUnauthorized)
	if ch := resp.Header.Values("WWW-Authenticate"); len(ch) != 2 || !strings.HasPrefix(ch[1], "Bearer ") {
		t.Errorf("API challenges %q, want Basic and Bearer", ch)
	}
	// Bob cannot revoke alice's token; alice can, and then it is refused.
	bb := newBrowser(t, base)
	bobCSRF := bb.login("bob", "pw")
	resp, body = bb.post("/tokens/delete", url.Values{"csrf": {bobCSRF}, "name": {"ci"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tokens?e=not_found" {
		t.Errorf("bob revoking alice's token: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = b.post("/tokens/delete", url.Values{"csrf": {csrf}, "name": {"ci"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tokens?ok=revoked" {
		t.Fatalf("revoke: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = do(t, "GET", base+"/api/v1/fs/by-token.txt", "", "", nil, bearer, "Bearer "+secret)
	wantStatus(t, "revoked token", resp, body, http.StatusUnauthorized)
	resp, body = b.get("/tokens?ok=revoked")
	if !strings.Contains(body, "Token revoked.") || !strings.Contains(body, "You have no tokens.") {
		t.Errorf("tokens page after revoking: %q", body)
	}
}

// TestWebChangePassword: the password page needs the CSRF token and the
// current password, checks the repetition and the policy, and explains
// every refusal in words; afterwards only the new password signs in.
func TestWebChangePassword(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngineWith(t, func(o *core.Options) { o.PasswordPolicy = auth.PasswordPolicy{MinLength: 10} },
		ferrytest.User("alice", "old-password"))
	base := startServer(t, env, func(o *Options) { o.AuthCacheTTL = -1 })
	b := newBrowser(t, base)
	csrf := b.login("alice", "old-password")
	resp, body := b.get("/password")
	wantStatus(t, "password page", resp, body, http.StatusOK)
	for _, label := range []string{`<label for="old">`, `<label for="new">`, `<label for="repeat">`} {
		if !strings.Contains(body, label) {
			t.Errorf("password page lacks %s", label)
		}
	}
	form := func(old, pw, again string) url.Values {
		return url.Values{"csrf": {csrf}, "old": {old}, "new": {pw}, "repeat": {again}}
	}
	resp, body = b.post("/password", url.Values{"old": {"old-password"}, "new": {"new-password-1"}, "repeat": {"new-password-1"}})
	wantStatus(t, "no CSRF", resp, body, http.StatusForbidden)
	for _, tt := range []struct {
		what   string
		form   url.Values
		status int
		words  string
	}{
		{"wrong current", form("nope", "new-password-1", "new-password-1"), http.StatusForbidden, "Your current password is not right."},
		{"repetition differs", form("old-password", "new-password-1", "new-password-2"), http.StatusBadRequest, "differ"},
		{"too short", form("old-password", "short", "short"), http.StatusBadRequest, "The new password was not accepted: Password has 5 characters, at least 10 are required."},
		{"empty", form("", "", ""), http.StatusBadRequest, "Enter your current password"},
	} {
		resp, body = b.post("/password", tt.form)
		wantStatus(t, tt.what, resp, body, tt.status)
		if !strings.Contains(body, tt.words) {
			t.Errorf("%s: page does not say %q: %q", tt.what, tt.words, body)
		}
	}
	resp, body = b.post("/password", form("old-password", "new-password-1", "new-password-1"))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/password?ok=password" {
		t.Fatalf("change: %d %q %q", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	resp, body = b.get("/password?ok=password")
	if !strings.Contains(body, "Your password has been changed.") {
		t.Errorf("no confirmation: %q", body)
	}
	resp, body = do(t, "GET", base+"/api/v1/fs/", "alice", "old-password", nil)
	wantStatus(t, "old password", resp, body, http.StatusUnauthorized)
	resp, body = do(t, "GET", base+"/api/v1/fs/", "alice", "new-password-1", nil)
	wantStatus(t, "new password", resp, body, http.StatusOK)
}

// TestWebAccountChangesEndCachedSessions: with the credential cache on, a
// token revoked and a password changed on the web client's pages stop
// working at once, not when the cache entry expires.
func TestWebAccountChangesEndCachedSessions(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "old-password"))
	now := newClock()
	base := startServer(t, env, func(o *Options) { o.Now = now.Now; o.AuthCacheTTL = time.Hour })
	b := newBrowser(t, base)
	csrf := b.login("alice", "old-password")
	resp, body := b.post("/tokens", url.Values{"csrf": {csrf}, "name": {"ci"}, "expires": {"0"}})
	wantStatus(t, "create token", resp, body, http.StatusCreated)
	m := secretField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no secret on the page: %q", body)
	}
	bearer := "Bearer " + m[1]
	for range 2 { // the second request is served by the cached session
		resp, body = do(t, "GET", base+"/api/v1/fs/", "", "", nil, "Authorization", bearer)
		wantStatus(t, "API with the token", resp, body, http.StatusOK)
		resp, body = do(t, "PROPFIND", base+"/dav/", "alice", "old-password", nil, "Depth", "0")
		wantStatus(t, "WebDAV with the password", resp, body, http.StatusMultiStatus)
	}
	resp, _ = b.post("/tokens/delete", url.Values{"csrf": {csrf}, "name": {"ci"}})
	if resp.Header.Get("Location") != "/tokens?ok=revoked" {
		t.Fatalf("revoke: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = do(t, "GET", base+"/api/v1/fs/", "", "", nil, "Authorization", bearer)
	wantStatus(t, "API with the revoked token", resp, body, http.StatusUnauthorized)
	resp, body = do(t, "PROPFIND", base+"/dav/", "alice", "old-password", nil, "Depth", "0")
	wantStatus(t, "WebDAV with the password after revoking a token", resp, body, http.StatusMultiStatus)

	resp, body = b.post("/password", url.Values{"csrf": {csrf}, "old": {"old-password"}, "new": {"new-password-1"}, "repeat": {"new-password-1"}})
	if resp.Header.Get("Location") != "/password?ok=password" {
		t.Fatalf("change password: %d %q", resp.StatusCode, body)
	}
	resp, body = do(t, "PROPFIND", base+"/dav/", "alice", "old-password", nil, "Depth", "0")
	wantStatus(t, "WebDAV with the old password", resp, body, http.StatusUnauthorized)
	resp, body = do(t, "PROPFIND", base+"/dav/", "alice", "new-password-1", nil, "Depth", "0")
	wantStatus(t, "WebDAV with the new password", resp, body, http.StatusMultiStatus)
}
