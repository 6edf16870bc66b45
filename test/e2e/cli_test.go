package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFoundationWalkthrough follows the README: init, add a user from
// stdin, add a service, serve, and ask who is connected.
func TestFoundationWalkthrough(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	home := filepath.Join(filepath.Dir(s.Dir), "alice")
	r := s.FerryIn("pw\n", "user", "add", "alice", "--home", home, "--password-stdin")
	if r.Code != 0 || !strings.Contains(r.Stdout, "user alice added") {
		t.Fatalf("user add: %+v", r)
	}
	if fi, err := os.Stat(home); err != nil || !fi.IsDir() {
		t.Fatalf("home not created: %v", err)
	}
	var users []struct {
		Name, Home, Status string
	}
	if err := json.Unmarshal([]byte(s.MustFerry("user", "list", "--json")), &users); err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].Name != "alice" || users[0].Home != home || users[0].Status != "active" {
		t.Fatalf("user list = %+v", users)
	}
	if out := s.MustFerry("user", "show", "alice", "--json"); strings.Contains(out, "argon2") || strings.Contains(out, "pw") && strings.Contains(out, "password_hash") {
		t.Fatalf("user show leaks the hash: %s", out)
	}

	if r := s.Ferry("who"); r.Code != 1 || !strings.Contains(r.Stderr, "no ferry server is running") {
		t.Fatalf("who without a server: %+v", r)
	}
	s.Start()
	r = s.Ferry("who")
	if r.Code != 0 || strings.Count(strings.TrimSpace(r.Stdout), "\n") != 0 {
		t.Fatalf("who on an idle server: %+v", r)
	}
	if r := s.Ferry("who", "--json"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "[]" {
		t.Fatalf("who --json: %+v", r)
	}
	if r := s.Ferry("kick", "nosuchsession"); r.Code != 1 || !strings.Contains(r.Stderr, `no session "nosuchsession"`) {
		t.Fatalf("kick unknown: %+v", r)
	}
	if r := s.Ferry("reload"); r.Code != 0 {
		t.Fatalf("reload: %+v", r)
	}
	if !strings.Contains(s.Output(), "Ferry ") || !strings.Contains(s.Output(), "Stop with Ctrl-C") {
		t.Errorf("serve did not print what it serves:\n%s", s.Output())
	}
	// A second server on the same data directory refuses to start.
	if r := s.Ferry("serve"); r.Code == 0 || !strings.Contains(r.Stderr, "another ferry server is running") {
		t.Errorf("second serve: %+v", r)
	}
}

func TestBadInputExitCodes(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.AddUser("alice", "pw")
	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"unknown command", "", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", "", []string{"user", "list", "--colour"}, 2, "unknown flag: --colour"},
		{"duplicate user", "pw\n", []string{"user", "add", "alice", "--password-stdin"}, 2, `user "alice": already exists`},
		{"bad user name", "pw\n", []string{"user", "add", "a/b", "--password-stdin"}, 2, `character '/' not allowed`},
		{"bad permission", "pw\n", []string{"user", "add", "bob", "--password-stdin", "--perm", "/in=fly"}, 2, `permission "fly"`},
		{"password never from a pipe without the flag", "pw\n", []string{"user", "add", "carol"}, 2, "use --password-stdin"},
		{"missing key file", "", []string{"user", "add", "dave", "--public-key", "/nonexistent.pub"}, 2, "--public-key"},
		{"bad port", "", []string{"service", "add", "x", "--protocol", "ftp", "--listen", ":99999"}, 2, `port "99999" must be a number from 0 to 65535`},
		{"bad protocol", "", []string{"service", "add", "x", "--protocol", "gopher", "--listen", ":2121"}, 2, `protocol "gopher": accepted values are ftp, sftp, http, admin, ftp-proxy`},
		{"missing listen", "", []string{"service", "add", "x", "--protocol", "ftp"}, 2, "--listen is required"},
		{"unknown user", "", []string{"user", "show", "nobody"}, 2, "not found"},
		{"bad expiry", "", []string{"user", "set", "alice", "--expires", "tomorrow"}, 2, "--expires"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := s.FerryIn(tt.stdin, tt.args...)
			if r.Code != tt.code || !strings.Contains(r.Stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d containing %q", r.Code, r.Stderr, tt.code, tt.want)
			}
			if n := strings.Count(strings.TrimSpace(r.Stderr), "\n"); n != 0 {
				t.Errorf("stderr has %d lines, want one: %q", n+1, r.Stderr)
			}
		})
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("log:\n  format: json\n"), 0o644)
	os.WriteFile(bad, []byte("log:\n  format: json\n  colour: red\n"), 0o644)
	if r := s.Ferry("config", "check", good); r.Code != 0 || !strings.Contains(r.Stdout, "ok") {
		t.Errorf("good config: %+v", r)
	}
	if r := s.Ferry("config", "check", bad); r.Code != 2 || !strings.Contains(r.Stderr, "line 3: field colour not found") {
		t.Errorf("bad config: %+v", r)
	}
	if r := s.Ferry("user", "list", "--config", bad); r.Code != 2 {
		t.Errorf("command with a bad config: %+v", r)
	}
	if r := s.Ferry("config", "check", filepath.Join(dir, "missing.yaml")); r.Code != 2 || !strings.Contains(r.Stderr, "does not exist") {
		t.Errorf("missing config: %+v", r)
	}
}

func TestAnyCommandInitialisesAMissingDataDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "fresh")
	s := &Server{t: t, Dir: dir, out: &syncBuffer{}}
	r := s.Ferry("service", "list", "--json")
	if r.Code != 0 || !strings.Contains(r.Stderr, "Initialized Ferry data directory") {
		t.Fatalf("first command: %+v", r)
	}
	for _, name := range []string{"ferry.db", "hostkeys/ssh_host_ed25519_key", "hostkeys/ssh_host_ecdsa_key", "hostkeys/ssh_host_rsa_key", "tls/cert.pem", "tls/key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s missing: %v", name, err)
		}
	}
	var svcs []struct {
		Name, Protocol, Listen string
	}
	if err := json.Unmarshal([]byte(r.Stdout), &svcs); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range svcs {
		got[s.Name] = s.Protocol + " " + s.Listen
	}
	want := map[string]string{"ftp": "ftp :2121", "sftp": "sftp :2022", "http": "http :8080", "admin": "admin 127.0.0.1:8081"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("default service %s = %q, want %q", k, got[k], v)
		}
	}
	if r := s.Ferry("init"); r.Code != 1 || !strings.Contains(r.Stderr, "already initialized") {
		t.Errorf("second init: %+v", r)
	}
}
