package adminapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
)

// browser is an HTTP client with cookies that does not follow redirects
// on its own, so tests see them.
type browser struct {
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func (b *browser) get(path string) (int, string) {
	b.e.t.Helper()
	res, err := b.c.Get(b.e.url + path)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if m := csrfRe.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return res.StatusCode, string(body)
}

// post submits a form with the page's CSRF token; it returns the status
// and the redirect target or the body.
func (b *browser) post(path string, form url.Values, headers ...string) (int, string) {
	b.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest("POST", b.e.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if loc := res.Header.Get("Location"); loc != "" {
		return res.StatusCode, loc
	}
	return res.StatusCode, string(body)
}

func (b *browser) signIn(admin string) {
	b.e.t.Helper()
	st, loc := b.post("/admin/login", url.Values{"name": {admin}, "password": {admin}, "next": {"/admin/users"}})
	if st != http.StatusSeeOther || loc != "/admin/users" {
		b.e.t.Fatalf("sign in: %d %s", st, loc)
	}
	b.get("/admin/")
}

func TestWebSignIn(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if st, _ := b.get("/admin/"); st != http.StatusSeeOther {
		t.Fatalf("signed-out dashboard: %d, want a redirect to sign in", st)
	}
	st, body := b.post("/admin/login", url.Values{"name": {rootAdmin}, "password": {"wrong"}})
	if st != http.StatusUnauthorized || !strings.Contains(body, "wrong admin name or password") {
		t.Fatalf("bad password: %d %s", st, body)
	}
	b.signIn(rootAdmin)
	st, body = b.get("/admin/")
	if st != http.StatusOK || !strings.Contains(body, "Live sessions") || !strings.Contains(body, "root (full)") {
		t.Fatalf("dashboard: %d %s", st, body)
	}
	if st, loc := b.post("/admin/logout", nil); st != http.StatusSeeOther || loc != "/admin/login" {
		t.Fatalf("sign out: %d %s", st, loc)
	}
	if st, _ := b.get("/admin/"); st != http.StatusSeeOther {
		t.Errorf("after sign out: %d", st)
	}
}

func TestWebCSRF(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(rootAdmin)
	if st, _ := b.post("/admin/users", url.Values{"name": {"x"}, "csrf": {"0000"}}); st != http.StatusForbidden {
		t.Errorf("wrong form token: %d, want 403", st)
	}
	if st, _ := b.post("/admin/users", url.Values{"name": {"x"}}, "Sec-Fetch-Site: cross-site"); st != http.StatusForbidden {
		t.Errorf("cross-site post: %d, want 403", st)
	}
	if st, _ := b.post("/admin/users", url.Values{"name": {"x"}}, "Origin: https://evil.example"); st != http.StatusForbidden {
		t.Errorf("cross-origin post: %d, want 403", st)
	}
	if _, err := e.st.GetUser(context.Background(), "x"); err == nil {
		t.Error("a forged form created a user")
	}
}

func TestWebUsers(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(umAdmin)
	b.get("/admin/users/new")
	st, body := b.post("/admin/users", url.Values{"name": {"carol"}, "home": {"relative"}})
	if st != http.StatusBadRequest || !strings.Contains(body, `class="field-error" id="home-err"`) {
		t.Fatalf("invalid form: %d %s", st, body)
	}
	st, loc := b.post("/admin/users", url.Values{"name": {"carol"}, "password": {"pw1"},
		"perms": {"/=list,download\n/in=all"}, "public_keys": {testKey}})
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/users/carol") {
		t.Fatalf("create: %d %s", st, loc)
	}
	u, err := e.st.GetUser(context.Background(), "carol")
	if err != nil || len(u.Perms) != 2 || len(u.PublicKeys) != 1 || u.PasswordHash == "" {
		t.Fatalf("stored %+v %v", u, err)
	}
	if _, body := b.get("/admin/users?q=ca"); !strings.Contains(body, `href="/admin/users/carol"`) {
		t.Error("search does not list carol")
	}
	b.get("/admin/users/carol")
	st, _ = b.post("/admin/users/carol", url.Values{"status": {"disabled"}, "perms": {"/=list"}, "description": {"d"}, "public_keys": {""}, "groups": {""}, "home": {""}, "password": {""}})
	if st != http.StatusSeeOther {
		t.Fatalf("edit: %d", st)
	}
	u2, _ := e.st.GetUser(context.Background(), "carol")
	if u2.Status != ferry.StatusDisabled || len(u2.Perms) != 1 || u2.PasswordHash != u.PasswordHash || len(u2.PublicKeys) != 0 {
		t.Errorf("after edit %+v", u2)
	}
	if st, _ := b.post("/admin/users/carol/delete", nil); st != http.StatusSeeOther {
		t.Fatalf("delete: %d", st)
	}
	if _, err := e.st.GetUser(context.Background(), "carol"); err == nil {
		t.Error("user not deleted")
	}
	// A user manager may not touch services.
	b.get("/admin/services")
	if st, _ := b.post("/admin/services", url.Values{"name": {"s"}, "protocol": {"ftp"}, "listen": {"127.0.0.1:0"}}); st != http.StatusForbidden {
		t.Errorf("user-manager adding a service: %d", st)
	}
}

func TestWebServicesSessionsBans(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(rootAdmin)
	b.get("/admin/services")
	st, body := b.post("/admin/services", url.Values{"name": {"f1"}, "protocol": {"ftp"}, "listen": {"nowhere"}, "enabled": {"on"}})
	if st != http.StatusBadRequest || !strings.Contains(body, "listen address") {
		t.Fatalf("bad listen: %d %s", st, body)
	}
	if st, _ := b.post("/admin/services", url.Values{"name": {"f1"}, "protocol": {"ftp"}, "listen": {"127.0.0.1:0"}, "enabled": {"on"}}); st != http.StatusSeeOther {
		t.Fatalf("add service: %d", st)
	}
	tok := e.token(rootAdmin)
	e.waitState(tok, "f1", "running")
	if _, body := b.get("/admin/services"); !strings.Contains(body, `class="state-running">running`) {
		t.Errorf("services page does not show f1 running")
	}
	if st, _ := b.post("/admin/services/f1/stop", nil); st != http.StatusSeeOther {
		t.Fatalf("stop: %d", st)
	}
	e.waitState(tok, "f1", "disabled")
	if st, _ := b.post("/admin/services/f1/remove", nil); st != http.StatusSeeOther {
		t.Fatalf("remove: %d", st)
	}

	kicked := make(chan struct{})
	s, err := e.eng.Engine.Login(context.Background(), core.LoginRequest{Protocol: ferry.FTP, User: "alice", Password: "pw",
		Remote: netip.MustParseAddrPort("192.0.2.1:1000"), Disconnect: func() { close(kicked) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, body := b.get("/admin/sessions"); !strings.Contains(body, `id="session-`+s.ID()+`"`) {
		t.Fatalf("sessions page lacks the session")
	}
	if st, _ := b.post("/admin/sessions/"+s.ID()+"/kick", nil); st != http.StatusSeeOther {
		t.Fatalf("kick: %d", st)
	}
	<-kicked

	b.get("/admin/bans")
	if st, _ := b.post("/admin/bans", url.Values{"network": {"198.51.100.0/24"}, "duration": {"1h"}}); st != http.StatusSeeOther {
		t.Fatalf("ban: %d", st)
	}
	if st, body := b.post("/admin/bans", url.Values{"network": {"nonsense"}}); st != http.StatusBadRequest || !strings.Contains(body, "field-error") {
		t.Fatalf("bad ban: %d", st)
	}
	if _, body := b.get("/admin/bans"); !strings.Contains(body, "198.51.100.0/24") {
		t.Fatal("ban not listed")
	}
	if st, _ := b.post("/admin/bans/lift", url.Values{"network": {"198.51.100.0/24"}}); st != http.StatusSeeOther {
		t.Fatalf("lift: %d", st)
	}
	if bans, _ := e.st.ListBans(context.Background(), time.Now()); len(bans) != 0 {
		t.Errorf("bans left %+v", bans)
	}
}
