package core_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

// A user without a home of its own gets the one of its first group's
// home template that is set (then the default group's); its own home wins.
func TestGroupHomeTemplate(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t)
	root := t.TempDir()
	env.Users.PutGroup(&ferry.Group{Name: "plain"})
	env.Users.PutGroup(&ferry.Group{Name: "staff", Policy: ferry.Policy{HomeTemplate: root + "/${group}/${user}"}})
	env.Users.PutGroup(&ferry.Group{Name: ferry.DefaultGroup, Policy: ferry.Policy{HomeTemplate: root + "/default/${user}"}})
	add := func(name, home string, groups ...string) {
		u := env.AddUser(t, ferrytest.User(name, "pw", ferrytest.Perm("/=all")))
		u.Home, u.Groups = home, groups
		env.Users.Put(u)
	}
	add("bob", "", "plain", "staff") // ${group} is the first group: plain
	add("carol", "")
	add("dave", filepath.Join(root, "own"), "staff")

	for _, tt := range []struct{ user, want string }{
		{"bob", filepath.Join(root, "plain", "bob")},
		{"carol", filepath.Join(root, "default", "carol")},
		{"dave", filepath.Join(root, "own")},
	} {
		s, err := env.Engine.Login(t.Context(), core.LoginRequest{Protocol: ferry.SFTP, User: tt.user, Password: "pw",
			Remote: netip.MustParseAddrPort("127.0.0.1:1")})
		if err != nil {
			t.Fatalf("%s: %v", tt.user, err)
		}
		up, err := s.OpenWrite(t.Context(), "/x.txt", core.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		up.Write([]byte("x"))
		if err := up.Commit(); err != nil {
			t.Fatal(err)
		}
		if u := s.User(); u.Home != tt.want {
			t.Errorf("%s: Session.User().Home = %q, want %q", tt.user, u.Home, tt.want)
		}
		s.Close()
		if _, err := os.Stat(filepath.Join(tt.want, "x.txt")); err != nil {
			t.Errorf("%s: upload not in the home: %v", tt.user, err)
		}
	}

	// Without any template, a user without a home cannot log in.
	env.Users.PutGroup(&ferry.Group{Name: ferry.DefaultGroup})
	add("erin", "")
	_, err := env.Engine.Login(t.Context(), core.LoginRequest{Protocol: ferry.SFTP, User: "erin", Password: "pw",
		Remote: netip.MustParseAddrPort("127.0.0.1:1")})
	if !errors.Is(err, ferry.ErrAuth) {
		t.Errorf("login without a home: %v, want ErrAuth", err)
	}
}

func TestHomeTemplateValidation(t *testing.T) {
	t.Parallel()
	for tmpl, ok := range map[string]bool{
		"/srv/ferry/${user}":          true,
		"/srv/${group}/${user}/files": true,
		"srv/${user}":                 false,
		"/srv/ferry":                  false,
		"/srv/${user}/../x":           false,
		"/srv/${HOME}/${user}":        false,
	} {
		p := ferry.Policy{HomeTemplate: tmpl}
		if err := p.Validate(); (err == nil) != ok {
			t.Errorf("Validate(home_template %q) = %v", tmpl, err)
		}
	}
}
