package cli

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrymft/ferry/internal/app"
	"github.com/ferrymft/ferry/internal/ferry"
)

// TestCLIChangesAreAudited: account changes made with the CLI (which
// writes the store directly) land in the audit log as admin_change events
// by the OS user, as the admin API's do; reading commands do not.
func TestCLIChangesAreAudited(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte("audit_log:\n  path: "+logPath+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(stdin string, args ...string) {
		t.Helper()
		ferryIn(t, dir, "not recorded", stdin, args...)
	}
	run("", "init")
	run("pw-Secret-123\n", "user", "add", "bob", "--password-stdin")
	run("", "user", "set", "bob", "--max-sessions", "3")
	run("", "user", "list")
	run("", "user", "show", "bob")
	run("", "group", "add", "staff")
	run("", "user", "del", "bob")

	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev ferry.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if ev.Type != ferry.EventAdminChange || ev.User != app.CLIAdmin() || ev.Detail != ev.User ||
			ev.Protocol != app.ProtocolCLI || ev.Status != "ok" || ev.Time.IsZero() {
			t.Errorf("audit event %+v", ev)
		}
		got = append(got, ev.Target+" "+ev.Path)
	}
	want := []string{"create /users/bob", "update /users/bob", "create /groups/staff", "delete /users/bob"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAuditTarget(t *testing.T) {
	root := newRoot(&env{})
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "add", "bob"}, "create /users/bob"},
		{[]string{"user", "passwd", "bob"}, "password /users/bob"},
		{[]string{"user", "token", "add", "bob", "ci"}, "create /users/bob/tokens/ci"},
		{[]string{"service", "remove", "ftp"}, "delete /services/ftp"},
		{[]string{"ban", "del", "10.0.0.1"}, "delete /bans/10.0.0.1"},
		{[]string{"outbox", "replay", "--dead"}, "replay /outbox"},
		{[]string{"user", "list"}, ""},
		{[]string{"copy"}, ""},
	} {
		c, rest, err := root.Find(tt.args)
		if err != nil {
			t.Fatal(err)
		}
		var args []string
		for _, a := range rest {
			if !strings.HasPrefix(a, "-") {
				args = append(args, a)
			}
		}
		action, path, ok := auditTarget(c, args)
		got := ""
		if ok {
			got = action + " " + path
		}
		if got != tt.want {
			t.Errorf("%v: %q, want %q", tt.args, got, tt.want)
		}
	}
}

// TestCLIChangeQueuedForWebhooks: a rule with a webhook on admin_change
// gets CLI changes in the outbox, for the running server to deliver.
func TestCLIChangeQueuedForWebhooks(t *testing.T) {
	dir := t.TempDir()
	run := func(stdin string, args ...string) string {
		t.Helper()
		return ferryIn(t, dir, "", stdin, args...)
	}
	run("", "init")
	run("", "rule", "add", "audit-hook", "--on", "admin_change", "--webhook", "http://127.0.0.1:9/hook")
	run("", "group", "add", "staff")
	out := run("", "outbox", "list", "--json")
	if !strings.Contains(out, "/groups/staff") {
		t.Errorf("outbox after a CLI change:\n%s", out)
	}
	if !strings.Contains(out, "/rules/audit-hook") {
		t.Errorf("the rule's own creation is not queued:\n%s", out)
	}
}
