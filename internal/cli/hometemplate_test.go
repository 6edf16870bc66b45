package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestGroupHomeTemplateCLI(t *testing.T) {
	dir := t.TempDir()
	homes := t.TempDir()
	run := func(stdin string, args ...string) string {
		t.Helper()
		return ferryIn(t, dir, "", stdin, args...)
	}
	run("", "init")
	run("", "group", "add", "staff")
	run("", "group", "set", "staff", "--home-template", homes+"/${group}/${user}")
	if out := run("pw-Secret-123\n", "user", "add", "bob", "--group", "staff", "--password-stdin"); !strings.Contains(out, homes+"/staff/bob") {
		t.Errorf("user add: %q, want the home from the group's template", out)
	}
	out := run("", "user", "show", "--effective", "bob")
	if !strings.Contains(out, homes+"/staff/bob") || !strings.Contains(out, "group staff home template") {
		t.Errorf("user show --effective:\n%s", out)
	}
	if !strings.Contains(run("", "group", "show", "staff"), homes+"/${group}/${user}") {
		t.Errorf("group show does not show the home template")
	}
	// The user's own home wins; --home '' gives it back to the template.
	run("", "user", "set", "bob", "--home", homes+"/own")
	if out := run("", "user", "show", "--effective", "bob"); !strings.Contains(out, homes+"/own") {
		t.Errorf("own home:\n%s", out)
	}
	run("", "user", "set", "bob", "--home", "")
	if out := run("", "user", "show", "--effective", "bob"); !strings.Contains(out, homes+"/staff/bob") {
		t.Errorf("home cleared:\n%s", out)
	}
	// A bad template is refused.
	var errb bytes.Buffer
	if code := Main(t.Context(), []string{"--data-dir", dir, "group", "set", "staff", "--home-template", "relative/${user}"},
		strings.NewReader(""), &bytes.Buffer{}, &errb, func(string) string { return "" }); code == 0 || !strings.Contains(errb.String(), "home_template") {
		t.Errorf("relative template: exit %d, %s", code, errb.String())
	}
}
