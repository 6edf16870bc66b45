package adminapi_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// userPolicyForm is every policy setting of a user, valid.
func userPolicyForm() url.Values {
	return url.Values{
		"name": {"dave"}, "password": {"pw-dave"}, "perms": {"/=all"}, "expires_at": {"2031-05-04 12:30"},
		"quota_bytes": {"1000000"}, "quota_files": {"50"}, "max_sessions": {"2"}, "max_file_size": {"4096"},
		"bandwidth_up": {"512K"}, "bandwidth_down": {"200000"},
		"allow_cidrs": {"10.0.0.0/8, 192.0.2.7"}, "deny_cidrs": {"10.9.0.0/16"},
		"protocols": {"sftp, ftp"}, "login_methods": {"password, publickey"}, "login_requires_all": {"yes"},
		"hours": {"mon-fri 08:00-18:00"}, "require_tls": {"yes"},
		"keep_all_files": {"yes"}, "rename_on_conflict": {"no"},
		"deny_patterns": {"*.exe\n/in/*.tmp"}, "hide_patterns": {"*.bak"}, "dotfiles": {"protect"},
		"allowed_extensions": {".csv, .xml"}, "umask": {"027"}, "mounts": {"/shared=pub:ro"},
	}
}

func TestWebUserPolicy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.st.CreateFolder(ctx, &ferry.Folder{Name: "pub", Path: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn(umAdmin)
	if st, body := b.get("/admin/users/new"); st != http.StatusOK || !strings.Contains(body, `id="dotfiles"`) || !strings.Contains(body, `id="expires_at"`) {
		t.Fatalf("new user page: %d %s", st, body)
	}

	// Each bad value is refused with its message next to its field, and
	// the form keeps what was typed.
	bad := userPolicyForm()
	wrong := map[string]string{
		"quota_bytes": "-1", "max_sessions": "many", "allow_cidrs": "nonsense", "deny_cidrs": "10.0.0.0/99",
		"protocols": "gopher", "login_methods": "carrier-pigeon", "hours": "whenever", "keep_all_files": "maybe",
		"deny_patterns": "/in/[", "hide_patterns": "a/b", "dotfiles": "sometimes", "allowed_extensions": "*.csv",
		"umask": "999", "mounts": "nowhere", "expires_at": "tomorrow",
	}
	for k, v := range wrong {
		bad.Set(k, v)
	}
	st, body := b.post("/admin/users", bad)
	if st != http.StatusBadRequest {
		t.Fatalf("bad form: %d", st)
	}
	for field := range wrong {
		if !strings.Contains(body, `class="field-error" id="`+field+`-err"`) {
			t.Errorf("no error next to %s", field)
		}
	}
	if !strings.Contains(body, `value="nonsense"`) || !strings.Contains(body, `value="dave"`) {
		t.Error("the refused form lost what was typed")
	}
	if _, err := e.st.GetUser(ctx, "dave"); err == nil {
		t.Fatal("a refused form created the user")
	}

	// The valid form stores every setting.
	st, loc := b.post("/admin/users", userPolicyForm())
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/users/dave") {
		t.Fatalf("create: %d %s", st, loc)
	}
	u, err := e.st.GetUser(ctx, "dave")
	if err != nil {
		t.Fatal(err)
	}
	p := u.Policy
	checks := map[string]bool{
		"expires_at":         u.ExpiresAt.Equal(time.Date(2031, 5, 4, 12, 30, 0, 0, time.UTC)),
		"quota_bytes":        p.QuotaBytes != nil && *p.QuotaBytes == 1000000,
		"quota_files":        p.QuotaFiles != nil && *p.QuotaFiles == 50,
		"max_sessions":       p.MaxSessions != nil && *p.MaxSessions == 2,
		"max_file_size":      p.MaxFileSize != nil && *p.MaxFileSize == 4096,
		"bandwidth":          p.BandwidthUp != nil && *p.BandwidthUp == 512<<10 && p.BandwidthDown != nil && *p.BandwidthDown == 200000,
		"cidrs":              slices.Equal(p.AllowCIDRs, []string{"10.0.0.0/8", "192.0.2.7"}) && slices.Equal(p.DenyCIDRs, []string{"10.9.0.0/16"}),
		"protocols":          slices.Equal(p.Protocols, []ferry.Protocol{ferry.SFTP, ferry.FTP}),
		"login_methods":      slices.Equal(p.LoginMethods, []string{"password", "publickey"}) && ferry.Bool(p.RequireAllMethods),
		"hours":              p.Hours == "mon-fri 08:00-18:00",
		"require_tls":        ferry.Bool(p.RequireTLS),
		"keep_all_files":     ferry.Bool(p.KeepAllFiles),
		"rename_on_conflict": p.RenameOnConflict != nil && !*p.RenameOnConflict,
		"patterns":           slices.Equal(p.DenyPatterns, []string{"*.exe", "/in/*.tmp"}) && slices.Equal(p.HidePatterns, []string{"*.bak"}),
		"dotfiles":           p.DotFiles == ferry.DotFilesProtect,
		"allowed_extensions": slices.Equal(p.AllowedExtensions, []string{".csv", ".xml"}),
		"umask":              p.Umask == "027",
		"mounts":             len(p.Mounts) == 1 && p.Mounts[0] == ferry.Mount{Path: "/shared", Folder: "pub", ReadOnly: true},
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("stored %s wrong: %+v (expires %v)", what, p, u.ExpiresAt)
		}
	}

	// The edit page shows them; clearing fields unsets them.
	_, body = b.get("/admin/users/dave")
	for _, want := range []string{`value="2031-05-04 12:30"`, `value="10.0.0.0/8, 192.0.2.7"`, `<option value="protect" selected>`,
		`value="password, publickey"`, "/in/*.tmp", `value="027"`, "/shared=pub:ro"} {
		if !strings.Contains(body, want) {
			t.Errorf("edit page lacks %s", want)
		}
	}
	edit := userPolicyForm()
	edit.Del("name")
	edit.Set("password", "")
	for _, k := range []string{"expires_at", "keep_all_files", "deny_patterns", "quota_bytes", "login_methods", "login_requires_all", "dotfiles", "mounts"} {
		edit.Set(k, "")
	}
	if st, loc := b.post("/admin/users/dave", edit); st != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", st, loc)
	}
	u2, _ := e.st.GetUser(ctx, "dave")
	p = u2.Policy
	if !u2.ExpiresAt.IsZero() || p.KeepAllFiles != nil || p.DenyPatterns != nil || p.QuotaBytes != nil || p.LoginMethods != nil ||
		p.DotFiles != "" || p.Mounts != nil || p.Umask != "027" || u2.PasswordHash != u.PasswordHash {
		t.Errorf("after clearing: expires %v %+v", u2.ExpiresAt, p)
	}
}

func TestWebGroupPolicy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.browser()
	b.signIn(umAdmin)
	b.get("/admin/groups/new")
	form := userPolicyForm()
	form.Del("password")
	form.Del("expires_at")
	form.Del("mounts")
	form.Set("name", "partners")
	form.Set("home_template", "relative/${user}")
	st, body := b.post("/admin/groups", form)
	if st != http.StatusBadRequest || !strings.Contains(body, `id="home_template-err"`) {
		t.Fatalf("bad home template: %d %s", st, body)
	}
	form.Set("home_template", "/srv/ferry/${group}/${user}")
	if st, loc := b.post("/admin/groups", form); st != http.StatusSeeOther {
		t.Fatalf("create: %d %s", st, loc)
	}
	g, err := e.st.GetGroup(ctx, "partners")
	if err != nil {
		t.Fatal(err)
	}
	p := g.Policy
	if !ferry.Bool(p.KeepAllFiles) || p.DotFiles != ferry.DotFilesProtect || len(p.LoginMethods) != 2 || len(p.HidePatterns) != 1 ||
		p.HomeTemplate != "/srv/ferry/${group}/${user}" || p.Umask != "027" || len(p.AllowedExtensions) != 2 || *p.QuotaFiles != 50 {
		t.Errorf("stored group policy %+v", p)
	}
	if _, body := b.get("/admin/groups/partners"); !strings.Contains(body, `value="/srv/ferry/${group}/${user}"`) {
		t.Error("edit page does not show the home template")
	}
}
