package adminapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestTokenExchange(t *testing.T) {
	e := newEnv(t)
	e.wantErr(e.do("POST", "/api/v1/auth/token", "", nil), http.StatusUnauthorized, "unauthorized", "")
	req, _ := http.NewRequest("POST", e.url+"/api/v1/auth/token", nil)
	req.SetBasicAuth(rootAdmin, "wrong")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d", res.StatusCode)
	}
	req.SetBasicAuth("ghost", "ghost")
	if res, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown admin: status %d", res.StatusCode)
	}

	tok := e.token(rootAdmin)
	e.want(e.do("GET", "/api/v1/status", tok, nil), http.StatusOK)
	e.wantErr(e.do("GET", "/api/v1/status", "", nil), http.StatusUnauthorized, "unauthorized", "")
	e.wantErr(e.do("GET", "/api/v1/status", "fry_forged", nil), http.StatusUnauthorized, "unauthorized", "")
	e.wantErr(e.do("GET", "/api/v1/status", "not-ours", nil), http.StatusUnauthorized, "unauthorized", "")
	// Signing out revokes the token.
	e.want(e.do("DELETE", "/api/v1/auth/token", tok, nil), http.StatusNoContent)
	e.wantErr(e.do("GET", "/api/v1/status", tok, nil), http.StatusUnauthorized, "unauthorized", "")
}

func TestExpiredToken(t *testing.T) {
	e := newEnv(t)
	tok := e.token(rootAdmin)
	// Age every session token past its expiry.
	ts, err := e.st.ListTokens(context.Background(), rootAdmin, "session")
	if err != nil || len(ts) != 1 {
		t.Fatalf("tokens %v %v", ts, err)
	}
	old := *ts[0]
	if err := e.st.DeleteToken(context.Background(), old.Name); err != nil {
		t.Fatal(err)
	}
	old.ExpiresAt = time.Now().Add(-time.Minute)
	if err := e.st.CreateToken(context.Background(), &old); err != nil {
		t.Fatal(err)
	}
	e.wantErr(e.do("GET", "/api/v1/status", tok, nil), http.StatusUnauthorized, "unauthorized", "")
}

func TestAPITokens(t *testing.T) {
	e := newEnv(t)
	tok := e.token(rootAdmin)
	var ro struct{ Token, Name, Scope string }
	e.want(e.do("POST", "/api/v1/tokens", tok, map[string]any{"name": "monitor", "scope": "read-only", "expires_in": "720h"}), http.StatusCreated).json(t, &ro)
	if ro.Token == "" || ro.Scope != "read-only" {
		t.Fatalf("created %+v", ro)
	}
	stored, err := e.st.ListTokens(context.Background(), rootAdmin, "api")
	if err != nil || len(stored) != 1 || stored[0].Hash == ro.Token {
		t.Fatalf("stored tokens %+v (the secret must not be stored)", stored)
	}
	e.wantErr(e.do("POST", "/api/v1/tokens", tok, map[string]any{"name": "monitor"}), http.StatusConflict, "exists", "name")
	e.wantErr(e.do("POST", "/api/v1/tokens", tok, map[string]any{"name": "x", "scope": "admin"}), http.StatusBadRequest, "invalid", "scope")
	e.wantErr(e.do("POST", "/api/v1/tokens", tok, map[string]any{"name": "session-x"}), http.StatusBadRequest, "invalid", "name")
	e.wantErr(e.do("POST", "/api/v1/tokens", tok, map[string]any{"name": "x", "expires_in": "soon"}), http.StatusBadRequest, "invalid", "expires_in")

	// A read-only token reads but changes nothing, not even tokens.
	e.want(e.do("GET", "/api/v1/users", ro.Token, nil), http.StatusOK)
	e.wantErr(e.do("POST", "/api/v1/users", ro.Token, map[string]any{"name": "x"}), http.StatusForbidden, "forbidden", "")
	e.wantErr(e.do("POST", "/api/v1/tokens", ro.Token, map[string]any{"name": "y"}), http.StatusForbidden, "forbidden", "")

	var full struct{ Token string }
	e.want(e.do("POST", "/api/v1/tokens", tok, map[string]any{"name": "deploy"}), http.StatusCreated).json(t, &full)
	e.want(e.do("POST", "/api/v1/users", full.Token, map[string]any{"name": "x"}), http.StatusCreated)

	var list struct {
		Items []struct{ Name, Scope string }
	}
	e.want(e.do("GET", "/api/v1/tokens", tok, nil), http.StatusOK).json(t, &list)
	if len(list.Items) != 2 {
		t.Errorf("token list %+v", list.Items)
	}
	// Others' tokens: hidden from non-full admins, visible to full ones.
	umTok := e.token(umAdmin)
	e.wantErr(e.do("DELETE", "/api/v1/tokens/deploy", umTok, nil), http.StatusNotFound, "not_found", "")
	e.wantErr(e.do("GET", "/api/v1/tokens?admin=root", umTok, nil), http.StatusForbidden, "forbidden", "")
	e.want(e.do("DELETE", "/api/v1/tokens/deploy", tok, nil), http.StatusNoContent)
	e.wantErr(e.do("GET", "/api/v1/users", full.Token, nil), http.StatusUnauthorized, "unauthorized", "")
	if e.pub.find("/tokens/deploy", "delete") == nil {
		t.Error("no event for the revocation")
	}
}

// TestRoles checks what each role may change.
func TestRoles(t *testing.T) {
	e := newEnv(t)
	root, viewer, um := e.token(rootAdmin), e.token(viewerAdmin), e.token(umAdmin)
	e.want(e.do("POST", "/api/v1/users", root, map[string]any{"name": "alice"}), http.StatusCreated)
	for _, tt := range []struct {
		method, path string
		body         any
		allowed      map[string]bool // by token
	}{
		{"GET", "/api/v1/users", nil, map[string]bool{root: true, viewer: true, um: true}},
		{"GET", "/api/v1/services", nil, map[string]bool{root: true, viewer: true, um: true}},
		{"GET", "/api/v1/admins", nil, map[string]bool{root: true, viewer: true, um: true}},
		{"PATCH", "/api/v1/users/alice", map[string]any{"description": "x"}, map[string]bool{root: true, um: true}},
		{"POST", "/api/v1/groups", map[string]any{"name": "g"}, map[string]bool{root: true, um: true}},
		{"POST", "/api/v1/admins", map[string]any{"name": "a2", "password": "a2"}, map[string]bool{root: true}},
		{"POST", "/api/v1/services", map[string]any{"name": "s1", "protocol": "ftp", "listen": "127.0.0.1:0", "enabled": false}, map[string]bool{root: true}},
		{"POST", "/api/v1/bans", map[string]any{"network": "192.0.2.1"}, map[string]bool{root: true}},
		{"DELETE", "/api/v1/sessions?user=nobody", nil, map[string]bool{root: true, um: true}},
	} {
		for _, who := range []string{viewer, um, root} {
			r := e.do(tt.method, tt.path, who, tt.body)
			if tt.allowed[who] {
				if r.status >= 300 {
					t.Errorf("%s %s by %s: status %d %s", tt.method, tt.path, name(who, root, viewer), r.status, r.body)
				}
			} else {
				if r.status != http.StatusForbidden {
					t.Errorf("%s %s by %s: status %d, want 403", tt.method, tt.path, name(who, root, viewer), r.status)
				}
			}
			// Make creations repeatable across roles.
			if r.status == http.StatusCreated {
				if p := tt.path; p == "/api/v1/groups" || p == "/api/v1/admins" || p == "/api/v1/services" {
					var v struct{ Name string }
					r.json(t, &v)
					e.want(e.do("DELETE", p+"/"+v.Name, root, nil), http.StatusNoContent)
				}
			}
		}
	}
}

func name(tok, root, viewer string) string {
	switch tok {
	case root:
		return "full"
	case viewer:
		return "read-only"
	}
	return "user-manager"
}
