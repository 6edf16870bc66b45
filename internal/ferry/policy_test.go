package ferry

import (
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func TestMerge(t *testing.T) {
	t.Parallel()
	user := Policy{QuotaBytes: ptr(int64(10)), DenyPatterns: []string{"*.exe"}}
	group := Policy{QuotaBytes: ptr(int64(99)), QuotaFiles: ptr(int64(5)), Protocols: []Protocol{SFTP},
		DenyPatterns: []string{"*.bat", "*.exe"}, Hours: "mon 09:00-10:00"}
	def := Policy{QuotaFiles: ptr(int64(1000)), Protocols: []Protocol{FTP}, MaxSessions: ptr(2), DotFiles: DotFilesHide}
	got := Merge(user, group, def)
	if Int64(got.QuotaBytes) != 10 {
		t.Errorf("user value must win: quota_bytes = %d", Int64(got.QuotaBytes))
	}
	if Int64(got.QuotaFiles) != 5 {
		t.Errorf("first group wins over default: quota_files = %d", Int64(got.QuotaFiles))
	}
	if *got.MaxSessions != 2 || got.DotFiles != DotFilesHide || got.Hours != "mon 09:00-10:00" {
		t.Errorf("fallbacks not applied: %+v", got)
	}
	if len(got.Protocols) != 1 || got.Protocols[0] != SFTP {
		t.Errorf("protocols = %v, want the group's [sftp]", got.Protocols)
	}
	if strings.Join(got.DenyPatterns, " ") != "*.exe *.bat" {
		t.Errorf("deny patterns add up: %v", got.DenyPatterns)
	}
	if user.DenyPatterns[0] != "*.exe" || len(user.DenyPatterns) != 1 {
		t.Errorf("Merge changed its input: %v", user.DenyPatterns)
	}
}

func TestHours(t *testing.T) {
	t.Parallel()
	at := func(day time.Weekday, hh, mm int) time.Time {
		// 2026-11-22 is a Sunday.
		return time.Date(2026, 11, 22+int(day), hh, mm, 0, 0, time.Local)
	}
	for _, tt := range []struct {
		rule string
		at   time.Time
		want bool
	}{
		{"", at(time.Sunday, 3, 0), true},
		{"mon-fri 08:00-18:00", at(time.Monday, 8, 0), true},
		{"mon-fri 08:00-18:00", at(time.Friday, 17, 59), true},
		{"mon-fri 08:00-18:00", at(time.Friday, 18, 0), false},
		{"mon-fri 08:00-18:00", at(time.Saturday, 12, 0), false},
		{"mon-fri 08:00-18:00, sat 09:00-12:00", at(time.Saturday, 11, 0), true},
		{"fri-mon 00:00-24:00", at(time.Sunday, 12, 0), true},
		{"fri-mon 00:00-24:00", at(time.Wednesday, 12, 0), false},
		{"mon 22:00-06:00", at(time.Monday, 23, 0), true},
		{"mon 22:00-06:00", at(time.Tuesday, 5, 59), true},
		{"mon 22:00-06:00", at(time.Tuesday, 6, 0), false},
		{"sat+sun 10:00-11:00", at(time.Sunday, 10, 30), true},
		{"* 10:00-11:00", at(time.Wednesday, 10, 30), true},
	} {
		h, err := ParseHours(tt.rule)
		if err != nil {
			t.Fatalf("ParseHours(%q): %v", tt.rule, err)
		}
		if got := h.Allows(tt.at); got != tt.want {
			t.Errorf("%q at %s = %v, want %v", tt.rule, tt.at.Format("Mon 15:04"), got, tt.want)
		}
	}
	for _, bad := range []string{"weekdays 8-6", "mon 25:00-26:00", "mon 08:00", "mon 08:00-08:00", "xyz 01:00-02:00"} {
		if _, err := ParseHours(bad); err == nil || !strings.Contains(err.Error(), "example: mon-fri") {
			t.Errorf("ParseHours(%q) = %v, want an error with an example", bad, err)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		p    Policy
		want string
	}{
		{Policy{QuotaBytes: ptr(int64(-1))}, "quota_bytes -1"},
		{Policy{AllowCIDRs: []string{"10.0.0.0/33"}}, `CIDR "10.0.0.0/33"`},
		{Policy{Protocols: []Protocol{"gopher"}}, `protocol "gopher"`},
		{Policy{LoginMethods: []string{"magic"}}, `login method "magic"`},
		{Policy{DenyPatterns: []string{"a/b"}}, `name pattern "a/b"`},
		{Policy{DenyPatterns: []string{"/in/"}}, `name pattern "/in/"`},
		{Policy{HidePatterns: []string{"/in/../x/*"}}, `name pattern "/in/../x/*"`},
		{Policy{DenyPatterns: []string{"[x"}}, `name pattern "[x"`},
		{Policy{DotFiles: "show"}, `dotfiles "show"`},
		{Policy{Hours: "always"}, `hours "always"`},
		{Policy{AllowedExtensions: []string{"*.csv"}}, `allowed extension "*.csv"`},
	} {
		if err := tt.p.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.p, err, tt.want)
		}
	}
	ok := Policy{AllowCIDRs: []string{"192.0.2.1", "2001:db8::/48"}, Protocols: []Protocol{FTP}, DotFiles: DotFilesHide,
		Hours: "mon-fri 08:00-18:00", DenyPatterns: []string{"*.exe", ".*"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid policy: %v", err)
	}
}

func FuzzParseHours(f *testing.F) {
	f.Add("mon-fri 08:00-18:00, sat 09:00-12:00")
	f.Add("sun-sat 23:59-00:01")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHours(s)
		if err == nil {
			h.Allows(time.Now()) // must not panic
		}
	})
}

func TestRequireAllMethodsMergeAndValidate(t *testing.T) {
	yes, no := true, false
	got := Merge(Policy{}, Policy{RequireAllMethods: &yes}, Policy{RequireAllMethods: &no})
	if !Bool(got.RequireAllMethods) {
		t.Errorf("merged login_requires_all = %v, want the first group's true", got.RequireAllMethods)
	}
	if got := Merge(Policy{RequireAllMethods: &no}, Policy{RequireAllMethods: &yes}); Bool(got.RequireAllMethods) {
		t.Error("the user's own false must win")
	}
	p := Policy{RequireAllMethods: &yes, LoginMethods: []string{"password"}}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "login_requires_all") {
		t.Errorf("one method with login_requires_all: %v", err)
	}
	p.LoginMethods = []string{"publickey", "password"}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
}
