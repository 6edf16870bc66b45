package adminapi_test

import (
	"net/http"
	"testing"
)

// A group's home_template is set through the API, and a user created in
// that group without a home keeps an empty home (resolved at login).
func TestGroupHomeTemplateAPI(t *testing.T) {
	e := newEnv(t)
	tok := e.token(umAdmin)
	e.want(e.do("POST", "/api/v1/groups", tok, map[string]any{"name": "staff",
		"policy": map[string]any{"home_template": "/srv/ferry/${group}/${user}"}}), http.StatusCreated)
	u := e.want(e.do("POST", "/api/v1/users", tok, map[string]any{"name": "p1", "groups": []string{"staff"}, "password": "s3cret"}), http.StatusCreated).obj(t)
	if u["home"] != nil && u["home"] != "" {
		t.Errorf("home %v, want none (from the group's template)", u["home"])
	}
	e.wantErr(e.do("POST", "/api/v1/groups", tok, map[string]any{"name": "bad",
		"policy": map[string]any{"home_template": "relative/${user}"}}), http.StatusBadRequest, "invalid", "policy")
}
