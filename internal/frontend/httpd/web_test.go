package httpd

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ferrymft/ferry/internal/ferrytest"
)

func readHome(env *ferrytest.Env, user, rel string) ([]byte, error) {
	return os.ReadFile(env.Home(user, rel))
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) send(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) get(p string) (*http.Response, string) {
	req, _ := http.NewRequest("GET", b.base+p, nil)
	return b.send(req)
}

func (b *browser) post(p string, form url.Values, hdr ...string) (*http.Response, string) {
	req, _ := http.NewRequest("POST", b.base+p, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.send(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) login(user, pw string) string {
	b.t.Helper()
	resp, body := b.post("/login", url.Values{"user": {user}, "password": {pw}})
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login: %d %q", resp.StatusCode, body)
	}
	resp, body = b.get("/files/")
	wantStatus(b.t, "files page", resp, body, http.StatusOK)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no CSRF token in the page: %q", body)
	}
	return m[1]
}

func TestWebLoginAndCookie(t *testing.T) {
	t.Parallel()
	_, base := davEnv(t)
	b := newBrowser(t, base)
	resp, _ := b.get("/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("/ without a session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := b.get("/login")
	wantStatus(t, "login page", resp, body, http.StatusOK)
	if !strings.Contains(body, `<label for="user">`) || !strings.Contains(body, `<label for="password">`) {
		t.Error("login form without labels")
	}
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(body) || regexp.MustCompile(` on[a-z]+=`).MatchString(body) {
		t.Error("inline script in the page")
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("security headers: CSP %q, nosniff %q", csp, resp.Header.Get("X-Content-Type-Options"))
	}
	resp, body = b.post("/login", url.Values{"user": {"alice"}, "password": {"wrong"}})
	wantStatus(t, "wrong password", resp, body, http.StatusUnauthorized)
	if !strings.Contains(body, "Wrong user name or password.") {
		t.Errorf("wrong password page %q", body)
	}
	resp, body = b.post("/login", url.Values{"user": {"alice"}, "password": {"pw"}})
	wantStatus(t, "login", resp, body, http.StatusSeeOther)
	var c *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == "ferry" {
			c = x
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Fatalf("session cookie %+v", c)
	}
	if cookieName(true) != "__Host-ferry" {
		t.Errorf("TLS cookie name %q", cookieName(true))
	}
}

func TestWebCSRF(t *testing.T) {
	t.Parallel()
	env, base := davEnv(t)
	b := newBrowser(t, base)
	token := b.login("alice", "pw")
	resp, body := b.post("/mkdir", url.Values{"dir": {"/"}, "name": {"nocsrf"}})
	wantStatus(t, "POST without token", resp, body, http.StatusForbidden)
	resp, body = b.post("/mkdir", url.Values{"dir": {"/"}, "name": {"badcsrf"}, "csrf": {"x" + token}})
	wantStatus(t, "POST with a wrong token", resp, body, http.StatusForbidden)
	resp, body = b.post("/mkdir", url.Values{"dir": {"/"}, "name": {"forged"}, "csrf": {token}},
		"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site")
	wantStatus(t, "cross-origin POST with a token", resp, body, http.StatusForbidden)
	for _, n := range []string{"nocsrf", "badcsrf", "forged"} {
		if _, err := os.Stat(env.Home("alice", n)); err == nil {
			t.Errorf("%s was created", n)
		}
	}
	resp, body = b.post("/mkdir", url.Values{"dir": {"/"}, "name": {"real"}, "csrf": {token}}, "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "ok=created") {
		t.Fatalf("mkdir: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The upload's token must come first in the multipart body.
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	w, _ := mw.CreateFormFile("file", "u.txt")
	w.Write([]byte("u"))
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/upload/", &mp)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, body = b.send(req)
	wantStatus(t, "upload without token", resp, body, http.StatusForbidden)
	if _, err := os.Stat(env.Home("alice", "u.txt")); err == nil {
		t.Error("upload without token stored a file")
	}
}

func TestWebBrowseUploadRenameDelete(t *testing.T) {
	t.Parallel()
	env, base := davEnv(t)
	env.WriteFile(t, "alice", "docs/old.txt", []byte("old"))
	b := newBrowser(t, base)
	token := b.login("alice", "pw")

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("csrf", token)
	big := bytes.Repeat([]byte("0123456789"), 300_000)
	for _, n := range []string{"a b.txt", "big.bin"} {
		w, _ := mw.CreateFormFile("file", n)
		if n == "big.bin" {
			w.Write(big)
		} else {
			w.Write([]byte("ab"))
		}
	}
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/upload/docs/", &mp)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, body := b.send(req)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "ok=uploaded") {
		t.Fatalf("upload: %d %q %q", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	got, _ := readHome(env, "alice", "docs/big.bin")
	if !bytes.Equal(got, big) {
		t.Fatalf("big.bin on disk: %d bytes, want %d", len(got), len(big))
	}
	resp, body = b.get("/files/docs/?sort=size&order=desc")
	wantStatus(t, "listing", resp, body, http.StatusOK)
	for _, want := range []string{"a b.txt", "big.bin", "old.txt", "2.9 MiB", `aria-current="page">docs<`, `href="/files/"`} {
		if !strings.Contains(body, want) {
			t.Errorf("listing lacks %q", want)
		}
	}
	if strings.Index(body, "big.bin") > strings.Index(body, "old.txt") {
		t.Error("sort by size descending does not put big.bin first")
	}
	resp, body = b.get("/files/docs/a%20b.txt")
	if resp.StatusCode != http.StatusOK || body != "ab" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("download: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Disposition"))
	}
	resp, body = b.get("/rename?path=/docs/old.txt")
	wantStatus(t, "rename form", resp, body, http.StatusOK)
	resp, _ = b.post("/rename", url.Values{"path": {"/docs/old.txt"}, "name": {"new.txt"}, "csrf": {token}})
	if !strings.Contains(resp.Header.Get("Location"), "ok=renamed") {
		t.Errorf("rename: %q", resp.Header.Get("Location"))
	}
	mustFile(t, env, "alice", "docs/new.txt", "old")
	resp, _ = b.post("/rename", url.Values{"path": {"/docs/new.txt"}, "name": {"../escape"}, "csrf": {token}})
	if !strings.Contains(resp.Header.Get("Location"), "e=invalid") {
		t.Errorf("rename to ../escape: %q", resp.Header.Get("Location"))
	}
	resp, body = b.get("/delete?path=/docs")
	if !strings.Contains(body, "everything in it") {
		t.Errorf("delete confirmation %q", body)
	}
	resp, _ = b.post("/delete", url.Values{"path": {"/docs"}, "csrf": {token}})
	if !strings.Contains(resp.Header.Get("Location"), "ok=deleted") {
		t.Errorf("delete: %q", resp.Header.Get("Location"))
	}
	if _, err := os.Stat(env.Home("alice", "docs")); err == nil {
		t.Error("docs still exists")
	}
	resp, body = b.get("/files/nope/")
	wantStatus(t, "missing folder", resp, body, http.StatusNotFound)
	if !strings.Contains(body, "does not exist") {
		t.Errorf("missing folder page %q", body)
	}
	resp, _ = b.post("/logout", url.Values{"csrf": {token}})
	wantStatus(t, "logout", resp, "", http.StatusSeeOther)
	resp, _ = b.get("/files/")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("after logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestWebTraversalRefused: the web client's pages and forms stay in the
// home whatever the encoding of "..": plain, %2e%2e, double-encoded.
func TestWebTraversalRefused(t *testing.T) {
	t.Parallel()
	env, base := davEnv(t)
	env.WriteFile(t, "bob", "secret.txt", []byte("bob's secret"))
	env.WriteFile(t, "alice", "mine.txt", []byte("alice's file"))
	b := newBrowser(t, base)
	token := b.login("alice", "pw")
	u, _ := url.Parse(base)
	var cookies []string
	for _, c := range b.c.Jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	for _, p := range []string{"/files/../bob/secret.txt", "/files/%2e%2e/bob/secret.txt", "/files/%2e%2e%2fbob%2fsecret.txt",
		"/files/%252e%252e/bob/secret.txt", "/files/..%252fbob/secret.txt", "/files/../../bob/", "/files/%2e%2e/%2e%2e/"} {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nConnection: close\r\n\r\n", p, u.Host, strings.Join(cookies, "; "))
		raw, _ := io.ReadAll(conn)
		conn.Close()
		if strings.Contains(string(raw), "bob's secret") || strings.Contains(string(raw), ">secret.txt<") {
			t.Errorf("GET %s escaped the home: %q", p, raw)
		}
	}
	for _, f := range []struct {
		action string
		form   url.Values
	}{
		{"/rename", url.Values{"path": {"/../bob/secret.txt"}, "name": {"stolen.txt"}}},
		{"/rename", url.Values{"path": {"/mine.txt"}, "name": {"../../bob/planted.txt"}}},
		{"/delete", url.Values{"path": {"/../bob/secret.txt"}}},
		{"/delete", url.Values{"path": {"/%2e%2e/bob/secret.txt"}}},
		{"/mkdir", url.Values{"dir": {"/../bob"}, "name": {"planted"}}},
		{"/mkdir", url.Values{"dir": {"/"}, "name": {"../bob-planted"}}},
	} {
		f.form.Set("csrf", token)
		b.post(f.action, f.form)
	}
	if got, err := readHome(env, "bob", "secret.txt"); err != nil || string(got) != "bob's secret" {
		t.Errorf("bob's file after the forms: %q %v", got, err)
	}
	for _, name := range []string{"stolen.txt", "planted.txt", "planted"} {
		if _, err := os.Stat(env.Home("bob", name)); err == nil {
			t.Errorf("%s appeared in bob's home", name)
		}
	}
	if _, err := os.Stat(env.Home("alice", "../bob-planted")); err == nil {
		t.Errorf("a folder was made beside alice's home")
	}
	// An upload to a traversing path lands nowhere outside the home.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", token)
	fw, _ := mw.CreateFormFile("file", "x.txt")
	fw.Write([]byte("planted"))
	mw.Close()
	for _, p := range []string{"/upload/..%2fbob/", "/upload/%2e%2e/bob/", "/upload/%252e%252e/bob/"} {
		req, _ := http.NewRequest("POST", base+p, bytes.NewReader(buf.Bytes()))
		req.URL.RawPath = p
		req.Header.Set("Content-Type", mw.FormDataContentType())
		b.send(req)
		if _, err := os.Stat(env.Home("bob", "x.txt")); err == nil {
			t.Fatalf("upload to %s planted a file in bob's home", p)
		}
	}
}
