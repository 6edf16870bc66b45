package app

import (
	"path/filepath"
	"testing"

	"github.com/ferrymft/ferry/internal/config"
	"github.com/ferrymft/ferry/internal/ferry"
)

// TestResolvedUsers: the event hooks see a user without a home of its own
// with the home its group's template gives.
func TestResolvedUsers(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{}
	if err := cfg.ApplyDefaults(dir); err != nil {
		t.Fatal(err)
	}
	a, _, err := Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := t.Context()
	tmpl := filepath.Join(dir, "homes") + "/${group}/${user}"
	if err := a.store.CreateGroup(ctx, &ferry.Group{Name: "staff", Policy: ferry.Policy{HomeTemplate: tmpl}}); err != nil {
		t.Fatal(err)
	}
	if err := a.store.CreateUser(ctx, &ferry.User{Name: "bob", Status: ferry.StatusActive, Groups: []string{"staff"}}); err != nil {
		t.Fatal(err)
	}
	u, err := resolvedUsers{a}.GetUser(ctx, "bob")
	if err != nil || u.Home != filepath.Join(dir, "homes", "staff", "bob") {
		t.Fatalf("GetUser = %+v, %v", u, err)
	}
}
