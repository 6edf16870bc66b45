package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// httpServer starts ferry with one HTTP service and the user alice.
func httpServer(t *testing.T, opts ...string) (*Server, string) {
	t.Helper()
	s := newServer(t)
	s.AddUser("alice", "alice-pw")
	s.AddService("http", "http", opts...)
	s.Start()
	return s, "http://" + s.Addr("http")
}

func httpRandom(t *testing.T, path string, size int) []byte {
	t.Helper()
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func httpMustEqual(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d expected", path, len(got), len(want))
	}
}

// curlDo runs curl and returns the body and the status code (-w).
func curlDo(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out, err := run(t, "", "curl", append([]string{"-sS", "-u", "alice:alice-pw", "-w", "\n%{http_code}"}, args...)...)
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	i := strings.LastIndex(out, "\n")
	return out[:i], out[i+1:]
}

func TestHTTPLitmus(t *testing.T) {
	requireTool(t, "litmus")
	t.Parallel()
	_, base := httpServer(t)
	cmd := exec.Command("litmus", base+"/dav/", "alice", "alice-pw")
	cmd.Dir = t.TempDir() // litmus writes debug.log and child.log here
	out, err := cmd.CombinedOutput()
	sums := regexp.MustCompile(`summary for .(\w+).: of (\d+) tests run: (\d+) passed, (\d+) failed`).FindAllStringSubmatch(string(out), -1)
	suites := map[string]bool{}
	for _, m := range sums {
		suites[m[1]] = true
		if m[4] != "0" {
			t.Errorf("litmus %s: %s failed of %s", m[1], m[4], m[2])
		}
	}
	for _, s := range []string{"basic", "copymove", "props", "locks", "http"} {
		if !suites[s] {
			t.Errorf("litmus suite %s did not run", s)
		}
	}
	if err != nil || t.Failed() {
		t.Fatalf("litmus: %v\n%s", err, out)
	}
}

func TestHTTPCurlWebDAV(t *testing.T) {
	requireTool(t, "curl")
	t.Parallel()
	s, base := httpServer(t)
	local := t.TempDir()
	data := httpRandom(t, filepath.Join(local, "up.bin"), 3<<20+11)
	dav := base + "/dav"
	if _, code := curlDo(t, "-X", "MKCOL", dav+"/in"); code != "201" {
		t.Fatalf("MKCOL: %s", code)
	}
	if _, code := curlDo(t, "-X", "MKCOL", dav+"/in"); code != "405" {
		t.Errorf("MKCOL existing: %s, want 405", code)
	}
	if _, code := curlDo(t, "-T", filepath.Join(local, "up.bin"), dav+"/in/up.bin"); code != "201" {
		t.Fatalf("PUT: %s", code)
	}
	httpMustEqual(t, s.Home("alice", "in", "up.bin"), data)
	if _, code := curlDo(t, "-T", filepath.Join(local, "up.bin"), dav+"/in/up.bin"); code != "204" {
		t.Errorf("PUT over: %s, want 204", code)
	}
	if _, code := curlDo(t, "-o", filepath.Join(local, "down.bin"), dav+"/in/up.bin"); code != "200" {
		t.Fatalf("GET: %s", code)
	}
	httpMustEqual(t, filepath.Join(local, "down.bin"), data)
	// Resume a download: curl -C continues a partial file with Range.
	if err := os.WriteFile(filepath.Join(local, "part.bin"), data[:1<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, code := curlDo(t, "-C", "-", "-o", filepath.Join(local, "part.bin"), dav+"/in/up.bin"); code != "206" {
		t.Fatalf("GET resume: %s", code)
	}
	httpMustEqual(t, filepath.Join(local, "part.bin"), data)
	if _, code := curlDo(t, "-X", "COPY", "-H", "Destination: "+dav+"/in/copy.bin", dav+"/in/up.bin"); code != "201" {
		t.Errorf("COPY: %s", code)
	}
	if _, code := curlDo(t, "-X", "MOVE", "-H", "Destination: "+dav+"/moved.bin", dav+"/in/copy.bin"); code != "201" {
		t.Errorf("MOVE: %s", code)
	}
	httpMustEqual(t, s.Home("alice", "moved.bin"), data)
	body, code := curlDo(t, "-X", "PROPFIND", "-H", "Depth: 1", dav+"/in/")
	if code != "207" || !strings.Contains(body, "/dav/in/up.bin") {
		t.Errorf("PROPFIND: %s %q", code, body)
	}
	if _, code := curlDo(t, "-X", "PROPFIND", "-H", "Depth: infinity", dav+"/"); code != "403" {
		t.Errorf("PROPFIND infinity: %s, want 403", code)
	}
	if _, code := curlDo(t, "-X", "DELETE", dav+"/in/"); code != "204" {
		t.Errorf("DELETE: %s", code)
	}
	if _, err := os.Stat(s.Home("alice", "in")); err == nil {
		t.Error("in/ still exists after DELETE")
	}
	out, _ := run(t, "", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "alice:wrong", dav+"/")
	if out != "401" {
		t.Errorf("wrong password: %s", out)
	}
}

func TestHTTPCurlAPI(t *testing.T) {
	requireTool(t, "curl")
	t.Parallel()
	s, base := httpServer(t)
	local := t.TempDir()
	data := httpRandom(t, filepath.Join(local, "a.bin"), 1<<20)
	api := base + "/api/v1/fs"
	if _, code := curlDo(t, "-X", "POST", api+"/in?action=mkdir"); code != "201" {
		t.Fatalf("mkdir: %s", code)
	}
	if _, code := curlDo(t, "-T", filepath.Join(local, "a.bin"), api+"/in/a.bin"); code != "201" {
		t.Fatalf("PUT: %s", code)
	}
	if _, code := curlDo(t, "-F", "file=@"+filepath.Join(local, "a.bin")+";filename=b.bin", api+"/in/"); code != "201" {
		t.Fatalf("multipart POST: %s", code)
	}
	httpMustEqual(t, s.Home("alice", "in", "b.bin"), data)
	body, code := curlDo(t, api+"/in/")
	var l struct{ Entries []struct{ Name string } }
	if code != "200" || json.Unmarshal([]byte(body), &l) != nil || len(l.Entries) != 2 {
		t.Fatalf("list: %s %q", code, body)
	}
	body, code = curlDo(t, api+"/nothing")
	if code != "404" || !strings.Contains(body, `"code":"not_found"`) {
		t.Errorf("missing: %s %q", code, body)
	}
	if body, code := curlDo(t, base+"/api/v1/openapi.json"); code != "200" || !strings.Contains(body, `"openapi"`) {
		t.Errorf("openapi.json: %s", code)
	}
}

func TestHTTPRclone(t *testing.T) {
	requireTool(t, "rclone")
	t.Parallel()
	s, base := httpServer(t)
	obscured, err := run(t, "", "rclone", "obscure", "alice-pw")
	if err != nil {
		t.Fatalf("rclone obscure: %v %s", err, obscured)
	}
	env := append(os.Environ(), "RCLONE_CONFIG=/dev/null",
		"RCLONE_CONFIG_FERRY_TYPE=webdav", "RCLONE_CONFIG_FERRY_URL="+base+"/dav/",
		"RCLONE_CONFIG_FERRY_VENDOR=other", "RCLONE_CONFIG_FERRY_USER=alice",
		"RCLONE_CONFIG_FERRY_PASS="+strings.TrimSpace(obscured))
	rclone := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("rclone", args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("rclone %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	src := t.TempDir()
	files := map[string][]byte{}
	for _, n := range []string{"a.bin", "sub/b.bin", "sub/deep/c.bin", "empty.txt"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, n)), 0o755); err != nil {
			t.Fatal(err)
		}
		size := 200_000
		if n == "empty.txt" {
			size = 0
		}
		files[n] = httpRandom(t, filepath.Join(src, n), size)
	}
	rclone("copy", src, "ferry:backup")
	for n, b := range files {
		httpMustEqual(t, s.Home("alice", "backup", n), b)
	}
	rclone("check", src, "ferry:backup")
	if err := os.Remove(filepath.Join(src, "a.bin")); err != nil {
		t.Fatal(err)
	}
	files["new.bin"] = httpRandom(t, filepath.Join(src, "new.bin"), 70_000)
	rclone("sync", src, "ferry:backup")
	rclone("check", src, "ferry:backup")
	if _, err := os.Stat(s.Home("alice", "backup", "a.bin")); err == nil {
		t.Error("sync left a.bin")
	}
	dst := t.TempDir()
	rclone("copy", "ferry:backup", dst)
	httpMustEqual(t, filepath.Join(dst, "new.bin"), files["new.bin"])
}

func TestHTTPCadaver(t *testing.T) {
	requireTool(t, "cadaver")
	t.Parallel()
	s, base := httpServer(t)
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".netrc"), []byte("machine 127.0.0.1\nlogin alice\npassword alice-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := httpRandom(t, filepath.Join(home, "up.bin"), 100_000)
	cmd := exec.Command("cadaver", base+"/dav/")
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdin = strings.NewReader("mkcol docs\ncd docs\nput up.bin\nls\nget up.bin down.bin\nmove up.bin moved.bin\npropset moved.bin color blue\npropget moved.bin color\nquit\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cadaver: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "failed") || !strings.Contains(string(out), "blue") {
		t.Errorf("cadaver output:\n%s", out)
	}
	httpMustEqual(t, filepath.Join(home, "down.bin"), data)
	httpMustEqual(t, s.Home("alice", "docs", "moved.bin"), data)
}

// TestHTTPUserTokenCLI: a token made by `ferry user token add` logs curl
// in by Authorization: Bearer on the API and WebDAV; `list` shows its last
// use; after `del` it is refused.
func TestHTTPUserTokenCLI(t *testing.T) {
	requireTool(t, "curl")
	t.Parallel()
	s, base := httpServer(t, "--option", "auth_cache_ttl=0")
	secret := strings.TrimSpace(s.MustFerry("user", "token", "add", "alice", "ci", "--expires", "30d"))
	if !strings.HasPrefix(secret, "fyu_") {
		t.Fatalf("token add printed %q", secret)
	}
	if r := s.Ferry("user", "token", "add", "alice", "ci"); r.Code == 0 {
		t.Errorf("a second token named ci was accepted")
	}
	bearer := func(args ...string) string {
		out, err := run(t, "", "curl", append([]string{"-sS", "-o", "/dev/null", "-w", "%{http_code}",
			"-H", "Authorization: Bearer " + secret}, args...)...)
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return out
	}
	local := t.TempDir()
	data := httpRandom(t, filepath.Join(local, "t.bin"), 64<<10)
	if code := bearer("-T", filepath.Join(local, "t.bin"), base+"/api/v1/fs/t.bin"); code != "201" {
		t.Fatalf("API PUT with token: %s", code)
	}
	httpMustEqual(t, s.Home("alice", "t.bin"), data)
	if code := bearer("-X", "PROPFIND", "-H", "Depth: 1", base+"/dav/"); code != "207" {
		t.Errorf("WebDAV PROPFIND with token: %s", code)
	}
	list := s.MustFerry("user", "token", "list", "alice")
	if !regexp.MustCompile(`(?m)^ci\s+\S+\s+\S+\s+\d{4}-`).MatchString(list) {
		t.Errorf("token list does not show ci as used:\n%s", list)
	}
	s.MustFerry("user", "token", "del", "alice", "ci")
	if code := bearer(base + "/api/v1/fs/"); code != "401" {
		t.Errorf("revoked token: %s, want 401", code)
	}
}
