package hooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/events"
	"github.com/ferrymft/ferry/internal/events/hooks"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/storage/local"
)

// ruleList is a RuleSource over a fixed list.
type ruleList []*ferry.Rule

func (l ruleList) ListRules(context.Context, ferry.ListOptions) ([]*ferry.Rule, error) { return l, nil }

// rig is an engine whose events go through a bus to a Dispatcher that is
// also the engine's gate.
type rig struct {
	env *ferrytest.Env
	eng *core.Engine
	bus *events.Bus
	d   *hooks.Dispatcher
}

func newRig(t *testing.T, rules ...*ferry.Rule) *rig {
	t.Helper()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.Perm("/=list,download,upload,overwrite,delete,mkdir")))
	u, _ := env.Users.GetUser(t.Context(), "alice")
	u.Groups = []string{"partners"}
	env.Users.Put(u)
	d, err := hooks.New(hooks.Options{Rules: ruleList(rules), Users: env.Users, Node: "node1", Logger: ferrytest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	bus := events.New(events.Options{Logger: ferrytest.Logger(t)})
	bus.Subscribe(context.Background(), "exec", 64, d.HandleExec)
	eng, err := core.New(core.Options{Users: env.Users, Storage: local.NewOpener(local.OpenerOptions{}),
		Events: bus, Gate: d, Logger: ferrytest.Logger(t), CreateHome: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Shutdown(); bus.Close() })
	return &rig{env: env, eng: eng, bus: bus, d: d}
}

func (r *rig) login(t *testing.T) *core.Session {
	t.Helper()
	s, err := r.eng.Login(t.Context(), core.LoginRequest{Protocol: ferry.SFTP, User: "alice", Password: "pw",
		Remote: netip.MustParseAddrPort("192.0.2.10:40000"), Service: "sftp"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func upload(s *core.Session, p, data string) error {
	up, err := s.OpenWrite(context.Background(), p, core.WriteOptions{})
	if err != nil {
		return err
	}
	if _, err := io.Copy(up, strings.NewReader(data)); err != nil {
		up.Abort(err)
		return err
	}
	return up.Commit()
}

// script writes an executable shell script into a temporary directory.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecReceivesEnvironmentAndJSON(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	sh := script(t, `env | grep '^FERRY_' | sort > "$1/env"; cat > "$1/stdin"; echo "hook saw $FERRY_VIRTUAL_PATH"`)
	r := newRig(t, &ferry.Rule{Name: "on-upload", Events: []ferry.EventType{ferry.EventUpload},
		Groups: []string{"partners"}, Paths: []string{"/in/**"}, Status: "ok",
		Action: ferry.ActionExec, Command: []string{sh, out}})
	s := r.login(t)
	if err := s.Mkdir(t.Context(), "/in"); err != nil {
		t.Fatal(err)
	}
	if err := upload(s, "/other.txt", "not matched"); err != nil {
		t.Fatal(err)
	}
	if err := upload(s, "/in/report.csv", "hello world"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	r.bus.Close() // drains the handlers, which start the commands
	r.d.Wait()

	b, err := os.ReadFile(filepath.Join(out, "env"))
	if err != nil {
		t.Fatalf("the hook did not run: %v", err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(l, "=")
		env[k] = v
	}
	want := map[string]string{
		"FERRY_EVENT": "upload", "FERRY_RULE": "on-upload", "FERRY_USER": "alice", "FERRY_PROTOCOL": "sftp",
		"FERRY_SERVICE": "sftp", "FERRY_VIRTUAL_PATH": "/in/report.csv", "FERRY_PATH": r.env.Home("alice", "in", "report.csv"),
		"FERRY_SIZE": "11", "FERRY_STATUS": "ok", "FERRY_REMOTE_ADDR": "192.0.2.10:40000", "FERRY_NODE": "node1",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"FERRY_SESSION", "FERRY_TIME"} {
		if env[k] == "" {
			t.Errorf("%s is empty", k)
		}
	}
	var p events.Payload
	b, _ = os.ReadFile(filepath.Join(out, "stdin"))
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("stdin is not the JSON payload: %v: %s", err, b)
	}
	if p.Event != ferry.EventUpload || p.Path != "/in/report.csv" || p.Size != 11 || p.User != "alice" || p.Session != env["FERRY_SESSION"] {
		t.Errorf("payload = %+v", p)
	}
}

func TestPreHookRefusesUpload(t *testing.T) {
	t.Parallel()
	refuse := script(t, `read -r line; echo "virus found in $FERRY_VIRTUAL_PATH"; exit 3`)
	r := newRig(t, &ferry.Rule{Name: "scan", Events: []ferry.EventType{ferry.EventUpload}, Paths: []string{"*.exe"},
		PreHook: true, Action: ferry.ActionExec, Command: []string{refuse}})
	s := r.login(t)
	err := upload(s, "/setup.exe", "MZ")
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "virus found in /setup.exe") {
		t.Fatalf("upload = %v, want a permission error with the hook's message", err)
	}
	ents, _ := os.ReadDir(r.env.Home("alice"))
	if len(ents) != 0 {
		t.Errorf("a refused upload left %v", ents)
	}
	if err := upload(s, "/notes.txt", "fine"); err != nil {
		t.Errorf("an upload the rule does not match: %v", err)
	}
}

func TestPreHookFailurePolicy(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "no-such-hook")
	for _, tt := range []struct {
		name     string
		failOpen bool
	}{{"fail-closed refuses", false}, {"fail-open allows", true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, &ferry.Rule{Name: "gate", Events: []ferry.EventType{ferry.EventUpload, ferry.EventDelete},
				PreHook: true, FailOpen: tt.failOpen, Action: ferry.ActionExec, Command: []string{missing}})
			err := upload(r.login(t), "/a.txt", "x")
			if tt.failOpen && err != nil {
				t.Errorf("fail-open upload: %v", err)
			}
			if !tt.failOpen && (!errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "pre-hook gate is unavailable")) {
				t.Errorf("fail-closed upload = %v", err)
			}
		})
	}
}

func TestWebhookPreHook(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var p events.Payload
		_ = json.NewDecoder(req.Body).Decode(&p)
		if strings.HasPrefix(p.Path, "/locked/") {
			http.Error(w, "folder is locked until 18:00", http.StatusForbidden)
		}
	}))
	t.Cleanup(srv.Close)
	r := newRig(t, &ferry.Rule{Name: "lock", Events: ferry.PreHookEvents, PreHook: true,
		Action: ferry.ActionWebhook, URL: srv.URL})
	s := r.login(t)
	r.env.WriteFile(t, "alice", "locked/a.txt", []byte("a"))
	err := s.Remove(t.Context(), "/locked/a.txt")
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "folder is locked until 18:00") {
		t.Errorf("delete = %v, want a refusal with the reply's text", err)
	}
	if _, err := os.Stat(r.env.Home("alice", "locked", "a.txt")); err != nil {
		t.Errorf("the refused delete removed the file: %v", err)
	}
	if err := upload(s, "/open.txt", "x"); err != nil {
		t.Errorf("allowed upload: %v", err)
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	ev := ferry.Event{Type: ferry.EventUpload, User: "alice", Protocol: ferry.FTP, Path: "/in/a.csv", Size: 100, Status: "ok"}
	for _, tt := range []struct {
		name string
		r    ferry.Rule
		want bool
	}{
		{"type only", ferry.Rule{Events: []ferry.EventType{ferry.EventUpload}}, true},
		{"other type", ferry.Rule{Events: []ferry.EventType{ferry.EventDownload}}, false},
		{"user", ferry.Rule{Events: []ferry.EventType{ferry.EventUpload}, Users: []string{"bob", "alice"}}, true},
		{"other user", ferry.Rule{Events: []ferry.EventType{ferry.EventUpload}, Users: []string{"bob"}}, false},
		{"group", ferry.Rule{Events: []ferry.EventType{ferry.EventUpload}, Groups: []string{"ops"}}, true},
		{"other group", ferry.Rule{Events: []ferry.EventType{ferry.EventUpload}, Groups: []string{"x"}}, false},
		{"protocol", ferry.Rule{Events: []ferry.EventType{ferry.EventUpload}, Protocols: []ferry.Protocol{ferry.SFTP}}, false},
		{"base-name glob", ferry.Rule{Events: []ferry.EventType{ferry.EventUpload}, Paths: []string{"*.csv"}}, true},
		{"full glob", ferry.Rule{Events: []ferry.EventType{ferry.EventUpload}, Paths: []string{"/out/*"}}, false},
		{"subtree", ferry.Rule{Events: []ferry.EventType{ferry.EventUpload}, Paths: []string{"/in/**"}}, true},
		{"size in range", ferry.Rule{Events: []ferry.EventType{ferry.EventUpload}, MinSize: 100, MaxSize: 100}, true},
		{"too small", ferry.Rule{Events: []ferry.EventType{ferry.EventUpload}, MinSize: 101}, false},
		{"failed only", ferry.Rule{Events: []ferry.EventType{ferry.EventUpload}, Status: "failed"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := events.Match(&tt.r, ev, []string{"ops"}); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
	if !slices.Contains(ferry.PreHookEvents, ferry.EventDelete) {
		t.Error("delete is a pre-hook event")
	}
}

func TestRefusalCarriesTheReason(t *testing.T) {
	t.Parallel()
	refuse := script(t, `echo "closed for the weekend"; exit 1`)
	r := newRig(t, &ferry.Rule{Name: "hours", Events: []ferry.EventType{ferry.EventDownload}, PreHook: true,
		Action: ferry.ActionExec, Command: []string{refuse}})
	r.env.WriteFile(t, "alice", "a.txt", []byte("a"))
	_, err := r.login(t).OpenRead(t.Context(), "/a.txt", 0)
	var ref *ferry.Refusal
	if !errors.As(err, &ref) || ref.Rule != "hours" || ref.Reason != "closed for the weekend" || !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("download = %v, want a *ferry.Refusal from rule hours", err)
	}
}
