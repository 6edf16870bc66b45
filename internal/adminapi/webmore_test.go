package adminapi_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

func TestWebGroups(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.browser()
	b.signIn(umAdmin)
	if _, body := b.get("/admin/groups"); !strings.Contains(body, `href="/admin/groups/new"`) || !strings.Contains(body, `href="/admin/rules"`) {
		t.Fatalf("groups page: %s", body)
	}
	b.get("/admin/groups/new")
	st, body := b.post("/admin/groups", url.Values{"name": {"ops"}, "quota_bytes": {"lots"}, "hours": {"mon-fri 08:00-18:00"}})
	if st != http.StatusBadRequest || !strings.Contains(body, `id="quota_bytes-err"`) || !strings.Contains(body, `value="lots"`) {
		t.Fatalf("bad quota: %d %s", st, body)
	}
	st, body = b.post("/admin/groups", url.Values{"name": {"ops"}, "perms": {"/=nonsense"}})
	if st != http.StatusBadRequest || !strings.Contains(body, `id="perms-err"`) {
		t.Fatalf("bad perms: %d %s", st, body)
	}
	st, body = b.post("/admin/groups", url.Values{"name": {"ops"}, "mounts": {"nope"}})
	if st != http.StatusBadRequest || !strings.Contains(body, `id="mounts-err"`) {
		t.Fatalf("bad mount: %d %s", st, body)
	}
	st, loc := b.post("/admin/groups", url.Values{"name": {"ops"}, "perms": {"/=list,download"}, "quota_bytes": {"1000"},
		"max_sessions": {"3"}, "protocols": {"sftp, ftp"}, "require_tls": {"yes"}, "description": {"operators"}})
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/groups/ops") {
		t.Fatalf("create: %d %s", st, loc)
	}
	g, err := e.st.GetGroup(ctx, "ops")
	if err != nil || len(g.Perms) != 1 || g.Policy.QuotaBytes == nil || *g.Policy.QuotaBytes != 1000 || *g.Policy.MaxSessions != 3 ||
		len(g.Policy.Protocols) != 2 || g.Policy.RequireTLS == nil || !*g.Policy.RequireTLS {
		t.Fatalf("stored %+v %v", g, err)
	}
	if e.pub.find("/groups/ops", "create") == nil {
		t.Error("no admin_change event")
	}
	// Policy fields the form does not show survive an edit.
	g.Policy.DenyPatterns = []string{"*.exe"}
	if err := e.st.UpdateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	_, body = b.get("/admin/groups/ops")
	if !strings.Contains(body, `value="1000"`) || !strings.Contains(body, `<option value="yes" selected>`) {
		t.Fatalf("edit page does not show the policy: %s", body)
	}
	st, _ = b.post("/admin/groups/ops", url.Values{"perms": {"/=all"}, "quota_bytes": {""}, "max_sessions": {"3"}, "require_tls": {""}, "description": {""}})
	if st != http.StatusSeeOther {
		t.Fatalf("edit: %d", st)
	}
	g, _ = e.st.GetGroup(ctx, "ops")
	if g.Policy.QuotaBytes != nil || g.Policy.RequireTLS != nil || len(g.Policy.DenyPatterns) != 1 || g.Description != "" {
		t.Errorf("after edit %+v", g.Policy)
	}
	if st, _ := b.post("/admin/groups/ops/delete", nil); st != http.StatusSeeOther {
		t.Fatalf("delete: %d", st)
	}
	if _, err := e.st.GetGroup(ctx, "ops"); err == nil {
		t.Error("group not deleted")
	}
	// A read-only admin sees groups but cannot change them.
	v := e.browser()
	v.signIn(viewerAdmin)
	v.get("/admin/groups")
	if st, _ := v.post("/admin/groups", url.Values{"name": {"x"}}); st != http.StatusForbidden {
		t.Errorf("viewer creating a group: %d", st)
	}
}

func TestWebFoldersAndAdmins(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.browser()
	b.signIn(rootAdmin)
	b.get("/admin/folders")
	st, body := b.post("/admin/folders", url.Values{"name": {"shared"}, "path": {"relative/dir"}})
	if st != http.StatusBadRequest || !strings.Contains(body, `id="path-err"`) {
		t.Fatalf("relative folder: %d %s", st, body)
	}
	dir := t.TempDir()
	if st, _ := b.post("/admin/folders", url.Values{"name": {"shared"}, "path": {dir}}); st != http.StatusSeeOther {
		t.Fatalf("add folder: %d", st)
	}
	if _, body := b.get("/admin/folders"); !strings.Contains(body, `id="folder-shared"`) {
		t.Fatal("folder not listed")
	}
	if st, _ := b.post("/admin/folders/shared/delete", nil); st != http.StatusSeeOther {
		t.Fatalf("delete folder: %d", st)
	}
	if _, err := e.st.GetFolder(ctx, "shared"); err == nil {
		t.Error("folder not deleted")
	}

	b.get("/admin/admins")
	st, body = b.post("/admin/admins", url.Values{"name": {"ops"}, "password": {""}, "role": {"read-only"}})
	if st != http.StatusBadRequest || !strings.Contains(body, `id="password-err"`) {
		t.Fatalf("admin without password: %d %s", st, body)
	}
	st, body = b.post("/admin/admins", url.Values{"name": {"ops"}, "password": {"pw"}, "role": {"boss"}})
	if st != http.StatusBadRequest || !strings.Contains(body, `id="role-err"`) {
		t.Fatalf("bad role: %d %s", st, body)
	}
	if st, _ := b.post("/admin/admins", url.Values{"name": {"ops"}, "password": {"pw"}, "role": {"user-manager"}}); st != http.StatusSeeOther {
		t.Fatalf("add admin: %d", st)
	}
	if a, err := e.st.GetAdmin(ctx, "ops"); err != nil || a.Role != ferry.RoleUserManager {
		t.Fatalf("stored admin %+v %v", a, err)
	}
	if _, body := b.get("/admin/admins"); !strings.Contains(body, `id="admin-ops"`) || strings.Contains(body, `action="/admin/admins/root/delete"`) {
		t.Fatal("admins page: ops missing, or a delete button for oneself")
	}
	if st, _ := b.post("/admin/admins/root/delete", nil); st != http.StatusConflict {
		t.Errorf("deleting oneself: %d", st)
	}
	if st, _ := b.post("/admin/admins/ops/delete", nil); st != http.StatusSeeOther {
		t.Fatalf("delete admin: %d", st)
	}
	// A user manager may not add folders or admins.
	u := e.browser()
	u.signIn(umAdmin)
	u.get("/admin/admins")
	if st, _ := u.post("/admin/admins", url.Values{"name": {"x"}, "password": {"x"}}); st != http.StatusForbidden {
		t.Errorf("user manager adding an admin: %d", st)
	}
	if st, _ := u.post("/admin/folders", url.Values{"name": {"x"}, "path": {dir}}); st != http.StatusForbidden {
		t.Errorf("user manager adding a folder: %d", st)
	}
}

var newTokenRe = regexp.MustCompile(`id="new-token" readonly value="(fry_[a-z0-9]+)"`)

func TestWebTokens(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(umAdmin)
	b.get("/admin/tokens")
	st, body := b.post("/admin/tokens", url.Values{"name": {"ci"}, "scope": {"read-only"}, "expires_in": {"soon"}})
	if st != http.StatusBadRequest || !strings.Contains(body, `id="expires_in-err"`) {
		t.Fatalf("bad expiry: %d %s", st, body)
	}
	st, body = b.post("/admin/tokens", url.Values{"name": {"ci"}, "scope": {"read-only"}, "expires_in": {"720h"}})
	m := newTokenRe.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil || !strings.Contains(body, `id="token-ci"`) {
		t.Fatalf("create token: %d %s", st, body)
	}
	e.want(e.do("GET", "/api/v1/status", m[1], nil), http.StatusOK)
	e.wantErr(e.do("POST", "/api/v1/groups", m[1], map[string]any{"name": "g"}), http.StatusForbidden, "forbidden", "")
	if _, body := b.get("/admin/tokens"); strings.Contains(body, m[1]) || !strings.Contains(body, `id="token-ci"`) {
		t.Fatal("the token list shows the secret again, or lacks the token")
	}
	st, body = b.post("/admin/tokens", url.Values{"name": {"ci"}})
	if st != http.StatusBadRequest || !strings.Contains(body, `id="name-err"`) {
		t.Fatalf("duplicate token: %d %s", st, body)
	}
	// A full admin sees everyone's tokens and may revoke them.
	r := e.browser()
	r.signIn(rootAdmin)
	if _, body := r.get("/admin/tokens"); !strings.Contains(body, "<td>um</td><td>ci</td>") {
		t.Fatalf("root does not see um's token: %s", body)
	}
	if st, _ := r.post("/admin/tokens/ci/revoke", nil); st != http.StatusSeeOther {
		t.Fatalf("revoke: %d", st)
	}
	e.wantErr(e.do("GET", "/api/v1/status", m[1], nil), http.StatusUnauthorized, "unauthorized", "")
	if e.pub.find("/tokens/ci", "delete") == nil {
		t.Error("no admin_change event for the revoke")
	}
}

func TestWebRules(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.browser()
	b.signIn(rootAdmin)
	if _, body := b.get("/admin/rules"); !strings.Contains(body, "No event rules.") || !strings.Contains(body, "No dead letters.") {
		t.Fatalf("empty rules page: %s", body)
	}
	cases := []struct {
		form  url.Values
		field string
	}{
		{url.Values{"name": {"r"}, "action": {"exec"}, "command": {"/bin/true"}}, "events"},
		{url.Values{"name": {"r"}, "events": {"upload"}, "action": {"exec"}, "command": {"true"}}, "command"},
		{url.Values{"name": {"r"}, "events": {"upload"}, "action": {"webhook"}, "url": {"nope"}, "secret": {"s3cret"}}, "url"},
		{url.Values{"name": {"r"}, "events": {"upload"}, "action": {"webhook"}, "url": {"http://x"}, "max_attempts": {"many"}}, "max_attempts"},
		{url.Values{"name": {"r"}, "events": {"login"}, "pre_hook": {"on"}, "action": {"exec"}, "command": {"/bin/true"}}, "events"},
		{url.Values{"name": {"r"}, "events": {"upload"}, "protocols": {"gopher"}, "action": {"exec"}, "command": {"/bin/true"}}, "protocols"},
	}
	for _, c := range cases {
		st, body := b.post("/admin/rules", c.form)
		if st != http.StatusBadRequest || !strings.Contains(body, `id="`+c.field+`-err"`) {
			t.Fatalf("%v: %d, want an error at %s: %s", c.form, st, c.field, body)
		}
		if strings.Contains(body, "s3cret") {
			t.Fatal("the refused form echoes the secret")
		}
	}
	if st, _ := b.post("/admin/rules", url.Values{"name": {"run"}, "events": {"upload", "delete"}, "paths": {"/in/**"},
		"action": {"exec"}, "command": {"/usr/bin/logger\n-t\nferry"}, "timeout": {"5s"}}); st != http.StatusSeeOther {
		t.Fatalf("add exec rule: %d", st)
	}
	if st, _ := b.post("/admin/rules", url.Values{"name": {"hook"}, "events": {"upload"}, "action": {"webhook"},
		"url": {"https://hooks.example/in"}, "secret": {"s3cret"}, "max_attempts": {"3"}}); st != http.StatusSeeOther {
		t.Fatalf("add webhook rule: %d", st)
	}
	run, err := e.st.GetRule(ctx, "run")
	if err != nil || len(run.Events) != 2 || len(run.Command) != 3 || run.Timeout != 5*time.Second || run.Paths[0] != "/in/**" {
		t.Fatalf("exec rule %+v %v", run, err)
	}
	hook, err := e.st.GetRule(ctx, "hook")
	if err != nil || hook.Secret != "s3cret" || hook.MaxAttempts != 3 {
		t.Fatalf("webhook rule %+v %v", hook, err)
	}
	id, err := e.st.EnqueueOutbox(ctx, "hook", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.FailedOutbox(ctx, id, 3, time.Time{}, "connection refused", true); err != nil {
		t.Fatal(err)
	}
	_, body := b.get("/admin/rules")
	if !strings.Contains(body, `id="rule-run"`) || !strings.Contains(body, "/usr/bin/logger -t ferry") ||
		!strings.Contains(body, "(signed)") || strings.Contains(body, "s3cret") || !strings.Contains(body, "connection refused") {
		t.Fatalf("rules page: %s", body)
	}
	if st, _ := b.post("/admin/outbox/replay", url.Values{"rule": {"hook"}}); st != http.StatusSeeOther {
		t.Fatalf("replay: %d", st)
	}
	if dead, _ := e.st.ListOutbox(ctx, storeDead()); len(dead) != 0 {
		t.Errorf("dead letters left: %+v", dead)
	}
	if st, _ := b.post("/admin/rules/run/delete", nil); st != http.StatusSeeOther {
		t.Fatalf("delete: %d", st)
	}
	if _, err := e.st.GetRule(ctx, "run"); err == nil {
		t.Error("rule not deleted")
	}
	if e.pub.find("/rules/run", "delete") == nil || e.pub.find("/rules/hook", "create") == nil {
		t.Error("missing admin_change events")
	}
	u := e.browser()
	u.signIn(umAdmin)
	u.get("/admin/rules")
	if st, _ := u.post("/admin/rules/hook/delete", nil); st != http.StatusForbidden {
		t.Errorf("user manager deleting a rule: %d", st)
	}
}

func storeDead() store.OutboxFilter { return store.OutboxFilter{Dead: true} }
