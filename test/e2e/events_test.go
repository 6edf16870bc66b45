package e2e

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// hookReceiver is a webhook endpoint on 127.0.0.1: it refuses requests
// while down (or for the next `failing` ones) and records the paths it
// accepted, in order, checking every signature.
type hookReceiver struct {
	t       *testing.T
	secret  string
	mu      sync.Mutex
	down    bool
	failing int
	got     []string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m := hmac.New(sha256.New, []byte(h.secret))
	m.Write(body)
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); r.Header.Get("X-Ferry-Signature-256") != want {
		h.t.Errorf("signature %q, want %q", r.Header.Get("X-Ferry-Signature-256"), want)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down || h.failing > 0 {
		if h.failing > 0 {
			h.failing--
		}
		http.Error(w, "down", http.StatusBadGateway)
		return
	}
	var p struct {
		Path string `json:"virtual_path"`
	}
	json.Unmarshal(body, &p)
	h.got = append(h.got, p.Path)
}

func (h *hookReceiver) set(down bool, failing int) {
	h.mu.Lock()
	h.down, h.failing = down, failing
	h.mu.Unlock()
}

func (h *hookReceiver) paths() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("hook output: %v", err)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		env[k] = v
	}
	return env
}

// TestEventsEndToEnd: exec hooks see FTP (curl), SFTP (OpenSSH) and
// WebDAV (curl) uploads; a pre-hook refuses an upload; a webhook that is down, then
// flaky, gets every upload in order across a kill -9 and restart; the
// transfer logs record the uploads.
func TestEventsEndToEnd(t *testing.T) {
	requireTool(t, "curl", "sftp", "sshpass")
	t.Parallel()
	recv := &hookReceiver{t: t, secret: "e2e-secret"}
	hook := httptest.NewServer(recv)
	t.Cleanup(hook.Close)

	s := newServer(t)
	s.AddUser("alice", "alice-pw")
	s.AddService("ftp", "ftp")
	s.AddService("ssh", "sftp")
	s.AddService("web", "http")
	logs := filepath.Join(s.Dir, "logs")
	// Plain FTP uploads splice and carry no digest unless asked for.
	yaml := "uploads:\n  checksum: sha256\n" +
		"transfer_logs:\n" +
		"  - {format: xferlog, path: " + filepath.Join(logs, "xferlog") + "}\n" +
		"  - {format: json, path: " + filepath.Join(logs, "events.jsonl") + ", rotate: {max_size: 10M, daily: true, keep: 3}}\n"
	if err := os.WriteFile(filepath.Join(s.Dir, "ferry.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	tools := t.TempDir()
	out := t.TempDir()
	env := writeScript(t, tools, "env.sh", `env | grep '^FERRY_' > "$1/$FERRY_PROTOCOL-$(basename "$FERRY_VIRTUAL_PATH").env"`+"\n")
	refuse := writeScript(t, tools, "scan.sh", "echo \"executables are not accepted\"\nexit 1\n")
	secretFile := filepath.Join(tools, "secret")
	os.WriteFile(secretFile, []byte(recv.secret+"\n"), 0o600)
	s.MustFerry("rule", "add", "env", "--on", "upload", "--status", "ok", "--exec", env, out)
	s.MustFerry("rule", "add", "scan", "--on", "upload", "--path", "*.exe", "--pre-hook", "--exec", refuse)
	s.MustFerry("rule", "add", "notify", "--on", "upload", "--webhook", hook.URL+"/ferry", "--secret-file", secretFile)
	if list := s.MustFerry("rule", "list"); !strings.Contains(list, "pre-hook(fail-closed) exec "+refuse) {
		t.Errorf("rule list:\n%s", list)
	}
	recv.set(true, 0)
	s.Start()

	local := t.TempDir()
	for _, n := range []string{"a.txt", "b.txt", "c.txt", "d.txt", "evil.exe"} {
		os.WriteFile(filepath.Join(local, n), []byte("content of "+n), 0o644)
	}
	ftp := "ftp://" + s.Addr("ftp") + "/"
	curl := func(args ...string) (string, error) {
		return run(t, "", "curl", append([]string{"-sS", "--user", "alice:alice-pw"}, args...)...)
	}
	if o, err := curl("-T", filepath.Join(local, "a.txt"), ftp+"a.txt"); err != nil {
		t.Fatalf("curl upload: %v\n%s", err, o)
	}
	host, port, _ := net.SplitHostPort(s.Addr("ssh"))
	batch := filepath.Join(local, "batch")
	os.WriteFile(batch, []byte("put "+filepath.Join(local, "b.txt")+" b.txt\n"), 0o644)
	if o, err := run(t, "", "sshpass", append([]string{"-p", "alice-pw", "sftp"}, sshOpts(port, "-b", batch, "alice@"+host)...)...); err != nil {
		t.Fatalf("sftp upload: %v\n%s", err, o)
	}

	if o, err := curl("-f", "-T", filepath.Join(local, "d.txt"), "http://"+s.Addr("web")+"/dav/d.txt"); err != nil {
		t.Fatalf("WebDAV upload: %v\n%s", err, o)
	}

	// The pre-hook refuses the .exe: curl fails, nothing is left.
	if o, err := curl("-T", filepath.Join(local, "evil.exe"), ftp+"evil.exe"); err == nil {
		t.Errorf("upload of evil.exe succeeded: %s", o)
	}
	if _, err := os.Stat(s.Home("alice", "evil.exe")); err == nil {
		t.Error("the refused upload left evil.exe")
	}
	if ents, _ := os.ReadDir(s.Home("alice")); len(ents) != 3 {
		t.Errorf("home holds %d entries, want a.txt, b.txt and d.txt only", len(ents))
	}

	// Exec hooks ran for both protocols with the event's environment.
	WaitFor(t, "exec hooks", func() bool {
		_, e1 := os.Stat(filepath.Join(out, "ftp-a.txt.env"))
		_, e2 := os.Stat(filepath.Join(out, "sftp-b.txt.env"))
		_, e3 := os.Stat(filepath.Join(out, "webdav-d.txt.env"))
		return e1 == nil && e2 == nil && e3 == nil
	})
	for proto, name := range map[string]string{"ftp": "a.txt", "sftp": "b.txt", "webdav": "d.txt"} {
		e := readEnv(t, filepath.Join(out, proto+"-"+name+".env"))
		want := map[string]string{"FERRY_EVENT": "upload", "FERRY_USER": "alice", "FERRY_PROTOCOL": proto,
			"FERRY_VIRTUAL_PATH": "/" + name, "FERRY_PATH": s.Home("alice", name), "FERRY_SIZE": "16", "FERRY_STATUS": "ok"}
		for k, v := range want {
			if e[k] != v {
				t.Errorf("%s upload: %s = %q, want %q", proto, k, e[k], v)
			}
		}
		sum := sha256.Sum256([]byte("content of " + name))
		if e["FERRY_SHA256"] != hex.EncodeToString(sum[:]) {
			t.Errorf("%s upload: FERRY_SHA256 = %q, want the content's digest", proto, e["FERRY_SHA256"])
		}
		if !strings.HasPrefix(e["FERRY_REMOTE_ADDR"], "127.0.0.1:") || e["FERRY_SESSION"] == "" || e["FERRY_TIME"] == "" {
			t.Errorf("%s upload: remote %q session %q time %q", proto, e["FERRY_REMOTE_ADDR"], e["FERRY_SESSION"], e["FERRY_TIME"])
		}
	}

	// The webhook is down: the events wait in the outbox. Kill -9 and
	// start again; the endpoint then fails twice more and recovers.
	WaitFor(t, "three pending deliveries", func() bool {
		return strings.Count(s.MustFerry("outbox", "list"), "notify") == 3
	})
	s.cmd.Process.Kill()
	WaitFor(t, "the server to die", func() bool { return s.Ferry("status").Code != 0 })
	s2 := &Server{t: t, Dir: s.Dir, out: &syncBuffer{}}
	s2.Start()
	if o, err := curl("-T", filepath.Join(local, "c.txt"), "ftp://"+s2.Addr("ftp")+"/c.txt"); err != nil {
		t.Fatalf("curl upload after restart: %v\n%s", err, o)
	}
	recv.set(false, 2)
	WaitFor(t, "every webhook delivery", func() bool { return len(recv.paths()) >= 4 })
	if got := strings.Join(recv.paths(), " "); got != "/a.txt /b.txt /d.txt /c.txt" {
		t.Errorf("webhook received %q, want every upload once, in order", got)
	}

	// The transfer logs have one line per upload.
	WaitFor(t, "the xferlog", func() bool {
		b, _ := os.ReadFile(filepath.Join(logs, "xferlog"))
		return strings.Count(string(b), "\n") >= 4
	})
	b, _ := os.ReadFile(filepath.Join(logs, "xferlog"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, name := range []string{"/a.txt", "/b.txt", "/d.txt", "/c.txt"} {
		f := strings.Fields(lines[i])
		if len(f) != 18 || f[8] != name || f[7] != "16" || f[11] != "i" || f[13] != "alice" || f[17] != "c" {
			t.Errorf("xferlog line %d: %q", i, lines[i])
		}
	}
	jb, _ := os.ReadFile(filepath.Join(logs, "events.jsonl"))
	if !strings.Contains(string(jb), `"type":"login"`) || !strings.Contains(string(jb), `"path":"/c.txt"`) {
		t.Errorf("json log:\n%s", jb)
	}
}
