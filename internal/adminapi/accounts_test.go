package adminapi_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/ferry"
)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINFGoEQt4KzOV7xBVFWothBaBkM2yV4j/9SbGCu2cvsB test@example"

func TestUsersCRUD(t *testing.T) {
	e := newEnv(t)
	tok := e.token(rootAdmin)

	r := e.want(e.do("POST", "/api/v1/users", tok, map[string]any{
		"name": "bob", "password": "s3cret", "public_keys": []string{testKey},
		"perms":  []map[string]any{{"path": "/", "perms": "list,download"}, {"path": "/in", "perms": []string{"upload"}}},
		"policy": map[string]any{"max_sessions": 2},
	}), http.StatusCreated)
	if r.header.Get("ETag") != `"1"` || r.header.Get("Location") != "/api/v1/users/bob" {
		t.Errorf("ETag %q Location %q", r.header.Get("ETag"), r.header.Get("Location"))
	}
	u := r.obj(t)
	if u["home"] != filepath.Join(e.home, "bob") || u["status"] != "active" || u["password_hash"] != nil {
		t.Errorf("created user %v", u)
	}
	stored, err := e.st.GetUser(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := auth.VerifyPassword(stored.PasswordHash, "s3cret"); !ok {
		t.Error("the password was not stored")
	}
	if e.pub.find("/users/bob", "create") == nil || e.pub.find("/users/bob", "create").Detail != rootAdmin {
		t.Error("no admin_change event naming the admin")
	}

	e.wantErr(e.do("POST", "/api/v1/users", tok, map[string]any{"name": "bob"}), http.StatusConflict, "exists", "name")
	e.want(e.do("GET", "/api/v1/users/bob", tok, nil), http.StatusOK)
	e.wantErr(e.do("GET", "/api/v1/users/nobody", tok, nil), http.StatusNotFound, "not_found", "")

	// PATCH merges; If-Match guards.
	r = e.want(e.do("PATCH", "/api/v1/users/bob", tok, map[string]any{"description": "partner"}, `If-Match: "1"`), http.StatusOK)
	if r.header.Get("ETag") != `"2"` {
		t.Errorf("ETag after PATCH = %q", r.header.Get("ETag"))
	}
	if u := r.obj(t); u["description"] != "partner" || len(u["public_keys"].([]any)) != 1 {
		t.Errorf("PATCH result %v", u)
	}
	e.wantErr(e.do("PATCH", "/api/v1/users/bob", tok, map[string]any{"description": "x"}, `If-Match: "1"`), http.StatusPreconditionFailed, "precondition_failed", "version")
	e.wantErr(e.do("PUT", "/api/v1/users/bob", tok, map[string]any{"name": "bob", "version": 1}), http.StatusConflict, "conflict", "version")
	e.wantErr(e.do("DELETE", "/api/v1/users/bob", tok, nil, `If-Match: "7"`), http.StatusPreconditionFailed, "precondition_failed", "version")

	// PUT replaces: the keys go, the password stays.
	r = e.want(e.do("PUT", "/api/v1/users/bob", tok, map[string]any{"name": "bob", "status": "disabled"}, `If-Match: "2"`), http.StatusOK)
	if u := r.obj(t); u["public_keys"] != nil || u["status"] != "disabled" || u["description"] != nil {
		t.Errorf("PUT result %v", u)
	}
	stored, _ = e.st.GetUser(context.Background(), "bob")
	if stored.PasswordHash == "" {
		t.Error("PUT without password dropped the password")
	}
	e.wantErr(e.do("PUT", "/api/v1/users/bob", tok, map[string]any{"name": "robert"}), http.StatusBadRequest, "invalid", "name")

	e.want(e.do("POST", "/api/v1/users/bob/password", tok, map[string]any{"password": "new"}), http.StatusNoContent)
	stored, _ = e.st.GetUser(context.Background(), "bob")
	if ok, _ := auth.VerifyPassword(stored.PasswordHash, "new"); !ok {
		t.Error("password endpoint did not change the password")
	}
	e.wantErr(e.do("POST", "/api/v1/users/bob/password", tok, map[string]any{}), http.StatusBadRequest, "invalid", "password")
	e.wantErr(e.do("POST", "/api/v1/users/nobody/password", tok, map[string]any{"password": "x"}), http.StatusNotFound, "not_found", "")

	e.want(e.do("DELETE", "/api/v1/users/bob", tok, nil, `If-Match: "4"`), http.StatusNoContent)
	e.wantErr(e.do("DELETE", "/api/v1/users/bob", tok, nil), http.StatusNotFound, "not_found", "")
	if e.pub.find("/users/bob", "delete") == nil {
		t.Error("no delete event")
	}
}

func TestUserValidation(t *testing.T) {
	e := newEnv(t)
	tok := e.token(rootAdmin)
	for _, tt := range []struct {
		name  string
		body  any
		code  string
		field string
	}{
		{"bad name", map[string]any{"name": "a b"}, "invalid", "name"},
		{"relative home", map[string]any{"name": "x", "home": "rel/dir"}, "invalid", "home"},
		{"bad status", map[string]any{"name": "x", "status": "gone"}, "invalid", "status"},
		{"bad upload mode", map[string]any{"name": "x", "upload_mode": "fast"}, "invalid", "upload_mode"},
		{"bad perm", map[string]any{"name": "x", "perms": []map[string]any{{"path": "/", "perms": "fly"}}}, "invalid", "perms"},
		{"relative perm path", map[string]any{"name": "x", "perms": []map[string]any{{"path": "in", "perms": "list"}}}, "invalid", "perms"},
		{"bad key", map[string]any{"name": "x", "public_keys": []string{"ssh-rsa nope"}}, "invalid", "public_keys[0]"},
		{"unknown group", map[string]any{"name": "x", "groups": []string{"ghosts"}}, "invalid", "groups[0]"},
		{"bad policy", map[string]any{"name": "x", "policy": map[string]any{"dotfiles": "sometimes"}}, "invalid", "policy"},
		{"empty password", map[string]any{"name": "x", "password": ""}, "invalid", "password"},
		{"unknown field", map[string]any{"name": "x", "colour": "red"}, "invalid", "colour"},
		{"wrong type", map[string]any{"name": "x", "home": 7}, "invalid", "home"},
		{"not json", "{", "bad_request", ""},
		{"not an object", "[1]", "bad_request", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.wantErr(e.do("POST", "/api/v1/users", tok, tt.body), http.StatusBadRequest, tt.code, tt.field)
		})
	}
}

func TestListPaging(t *testing.T) {
	e := newEnv(t)
	tok := e.token(rootAdmin)
	for i := range 5 {
		e.want(e.do("POST", "/api/v1/users", tok, map[string]any{"name": fmt.Sprintf("u%d", i)}), http.StatusCreated)
	}
	e.want(e.do("POST", "/api/v1/users", tok, map[string]any{"name": "zed"}), http.StatusCreated)
	var p struct {
		Items      []ferry.User `json:"items"`
		Offset     int          `json:"offset"`
		Limit      int          `json:"limit"`
		NextOffset *int         `json:"next_offset"`
	}
	e.want(e.do("GET", "/api/v1/users?prefix=u&limit=2&offset=2", tok, nil), http.StatusOK).json(t, &p)
	if len(p.Items) != 2 || p.Items[0].Name != "u2" || p.NextOffset == nil || *p.NextOffset != 4 {
		t.Fatalf("page %+v", p)
	}
	p.NextOffset = nil
	e.want(e.do("GET", "/api/v1/users?prefix=u&limit=2&offset=4", tok, nil), http.StatusOK).json(t, &p)
	if len(p.Items) != 1 || p.NextOffset != nil {
		t.Fatalf("last page %+v", p)
	}
	e.wantErr(e.do("GET", "/api/v1/users?limit=0", tok, nil), http.StatusBadRequest, "invalid", "limit")
	e.wantErr(e.do("GET", "/api/v1/users?offset=-1", tok, nil), http.StatusBadRequest, "invalid", "offset")
}

func TestGroups(t *testing.T) {
	e := newEnv(t)
	tok := e.token(umAdmin)
	e.want(e.do("POST", "/api/v1/groups", tok, map[string]any{"name": "partners", "perms": []map[string]any{{"path": "/", "perms": "list"}}}), http.StatusCreated)
	e.want(e.do("POST", "/api/v1/users", tok, map[string]any{"name": "p1", "groups": []string{"partners"}}), http.StatusCreated)
	e.want(e.do("PATCH", "/api/v1/groups/partners", tok, map[string]any{"description": "d"}, `If-Match: "1"`), http.StatusOK)
	e.wantErr(e.do("POST", "/api/v1/groups", tok, map[string]any{"name": "partners"}), http.StatusConflict, "exists", "name")
	e.wantErr(e.do("POST", "/api/v1/groups", tok, map[string]any{"name": "g", "perms": []map[string]any{{"path": "x", "perms": "list"}}}), http.StatusBadRequest, "invalid", "perms")
	var p struct{ Items []ferry.Group }
	e.want(e.do("GET", "/api/v1/groups", tok, nil), http.StatusOK).json(t, &p)
	if len(p.Items) != 1 || p.Items[0].Description != "d" {
		t.Errorf("groups %+v", p.Items)
	}
	e.want(e.do("DELETE", "/api/v1/groups/partners", tok, nil), http.StatusNoContent)
}

func TestAdmins(t *testing.T) {
	e := newEnv(t)
	tok := e.token(rootAdmin)
	e.wantErr(e.do("POST", "/api/v1/admins", tok, map[string]any{"name": "ops"}), http.StatusBadRequest, "invalid", "password")
	e.wantErr(e.do("POST", "/api/v1/admins", tok, map[string]any{"name": "ops", "password": "ops", "role": "god"}), http.StatusBadRequest, "invalid", "role")
	r := e.want(e.do("POST", "/api/v1/admins", tok, map[string]any{"name": "ops", "password": "ops", "role": "read-only"}), http.StatusCreated)
	if r.obj(t)["password"] != nil {
		t.Error("admin answer shows a password")
	}
	opsTok := e.token("ops")
	e.want(e.do("GET", "/api/v1/status", opsTok, nil), http.StatusOK)
	// Every admin may change their own password, not another's.
	e.want(e.do("POST", "/api/v1/admins/ops/password", opsTok, map[string]any{"password": "ops"}), http.StatusNoContent)
	e.wantErr(e.do("POST", "/api/v1/admins/root/password", opsTok, map[string]any{"password": "x"}), http.StatusForbidden, "forbidden", "")
	e.wantErr(e.do("DELETE", "/api/v1/admins/root", tok, nil), http.StatusConflict, "conflict", "name")
	e.wantErr(e.do("PATCH", "/api/v1/admins/root", tok, map[string]any{"role": "read-only"}), http.StatusConflict, "conflict", "role")
	// Disabling an admin stops their tokens at once; deleting revokes them.
	e.want(e.do("PATCH", "/api/v1/admins/ops", tok, map[string]any{"status": "disabled"}), http.StatusOK)
	e.wantErr(e.do("GET", "/api/v1/status", opsTok, nil), http.StatusUnauthorized, "unauthorized", "")
	e.want(e.do("DELETE", "/api/v1/admins/ops", tok, nil), http.StatusNoContent)
	if ts, _ := e.st.ListTokens(context.Background(), "ops", ""); len(ts) != 0 {
		t.Errorf("%d tokens of a deleted admin remain", len(ts))
	}
}

func TestFoldersAndMounts(t *testing.T) {
	e := newEnv(t)
	root, um := e.token(rootAdmin), e.token(umAdmin)
	e.wantErr(e.do("POST", "/api/v1/folders", root, map[string]any{"name": "common", "path": "relative"}), http.StatusBadRequest, "invalid", "path")
	e.wantErr(e.do("POST", "/api/v1/folders", um, map[string]any{"name": "common", "path": "/srv/common"}), http.StatusForbidden, "forbidden", "")
	e.want(e.do("POST", "/api/v1/folders", root, map[string]any{"name": "common", "path": "/srv/common"}), http.StatusCreated)
	e.want(e.do("POST", "/api/v1/users", um, map[string]any{"name": "m1",
		"policy": map[string]any{"mounts": []map[string]any{{"path": "/common", "folder": "common", "read_only": true}}, "umask": "027"}}), http.StatusCreated)
	var u ferry.User
	e.want(e.do("GET", "/api/v1/users/m1", um, nil), http.StatusOK).json(t, &u)
	if len(u.Policy.Mounts) != 1 || !u.Policy.Mounts[0].ReadOnly || u.Policy.Umask != "027" {
		t.Errorf("policy after round trip = %+v", u.Policy)
	}
	e.wantErr(e.do("POST", "/api/v1/users", um, map[string]any{"name": "m2",
		"policy": map[string]any{"mounts": []map[string]any{{"path": "/", "folder": "common"}}}}), http.StatusBadRequest, "invalid", "policy")
	var p struct{ Items []ferry.Folder }
	e.want(e.do("GET", "/api/v1/folders", um, nil), http.StatusOK).json(t, &p)
	if len(p.Items) != 1 || p.Items[0].Path != "/srv/common" {
		t.Errorf("folders = %+v", p.Items)
	}
	e.want(e.do("DELETE", "/api/v1/folders/common", root, nil), http.StatusNoContent)
}
