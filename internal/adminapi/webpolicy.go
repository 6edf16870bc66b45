package adminapi

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// policyView is what the shared "policy" form template gets: the record's
// policy, the refused submission (nil on a fresh page) and field errors.
type policyView struct {
	P     ferry.Policy
	F     url.Values
	E     map[string]string
	Group bool // the group form (home_template is a group setting)
}

// policyFromForm sets the policy fields the form posts, keeping the ones
// it does not post (an API client's or a newer server's); a field posted
// empty is unset (no limit, inherited). Each field is checked on its own
// so that its error goes next to it in pg.Errors.
func policyFromForm(form url.Values, pol *ferry.Policy, pg *webPage) {
	has := func(field string) bool { return form.Has(field) }
	get := func(field string) string { return strings.TrimSpace(form.Get(field)) }
	i64 := func(field string, dst **int64) {
		if !has(field) {
			return
		}
		v := get(field)
		if v == "" {
			*dst = nil
			return
		}
		n, err := parseBytes(v)
		if err != nil {
			pg.Errors[field] = field + ": a whole number of bytes >= 0 with an optional K, M, G or T (powers of 1024), e.g. 512K or 10G; empty for no limit"
			return
		}
		*dst = &n
	}
	i64("quota_bytes", &pol.QuotaBytes)
	i64("max_file_size", &pol.MaxFileSize)
	i64("bandwidth_up", &pol.BandwidthUp)
	i64("bandwidth_down", &pol.BandwidthDown)
	count := func(field string, set func(n int64, ok bool)) {
		if !has(field) {
			return
		}
		v := get(field)
		if v == "" {
			set(0, false)
			return
		}
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			pg.Errors[field] = field + ": a whole number >= 0, or empty for no limit"
			return
		}
		set(n, true)
	}
	count("quota_files", func(n int64, ok bool) {
		pol.QuotaFiles = nil
		if ok {
			pol.QuotaFiles = &n
		}
	})
	count("max_sessions", func(n int64, ok bool) {
		pol.MaxSessions = nil
		if ok {
			v := int(n)
			pol.MaxSessions = &v
		}
	})
	list := func(field string, dst *[]string) {
		if has(field) {
			*dst = splitComma(form.Get(field))
		}
	}
	list("allow_cidrs", &pol.AllowCIDRs)
	list("deny_cidrs", &pol.DenyCIDRs)
	list("login_methods", &pol.LoginMethods)
	list("deny_patterns", &pol.DenyPatterns)
	list("hide_patterns", &pol.HidePatterns)
	list("allowed_extensions", &pol.AllowedExtensions)
	if has("protocols") {
		pol.Protocols = nil
		for _, p := range splitComma(form.Get("protocols")) {
			pol.Protocols = append(pol.Protocols, ferry.Protocol(p))
		}
	}
	text := func(field string, dst *string) {
		if has(field) {
			*dst = get(field)
		}
	}
	text("hours", &pol.Hours)
	text("dotfiles", &pol.DotFiles)
	text("umask", &pol.Umask)
	text("home_template", &pol.HomeTemplate)
	tri := func(field string, dst **bool) {
		if !has(field) {
			return
		}
		switch get(field) {
		case "yes", "no":
			v := get(field) == "yes"
			*dst = &v
		case "":
			*dst = nil
		default:
			pg.Errors[field] = field + ": accepted values are yes, no or empty (not set)"
		}
	}
	tri("require_tls", &pol.RequireTLS)
	tri("keep_all_files", &pol.KeepAllFiles)
	tri("rename_on_conflict", &pol.RenameOnConflict)
	tri("login_requires_all", &pol.RequireAllMethods)
	if has("mounts") {
		pol.Mounts = nil
		for _, line := range splitLines(form.Get("mounts")) {
			m, err := ferry.ParseMount(line)
			if err != nil {
				pg.Errors["mounts"] = cleanMessage(err)
				continue
			}
			pol.Mounts = append(pol.Mounts, m)
		}
	}
	policyFieldErrors(*pol, pg)
}

// policyFieldErrors validates each form field of pol alone, so that the
// message lands next to the field that is wrong.
func policyFieldErrors(pol ferry.Policy, pg *webPage) {
	fields := map[string]func(p *ferry.Policy){
		"allow_cidrs":        func(p *ferry.Policy) { p.AllowCIDRs = pol.AllowCIDRs },
		"deny_cidrs":         func(p *ferry.Policy) { p.DenyCIDRs = pol.DenyCIDRs },
		"protocols":          func(p *ferry.Policy) { p.Protocols = pol.Protocols },
		"login_methods":      func(p *ferry.Policy) { p.LoginMethods = pol.LoginMethods },
		"login_requires_all": func(p *ferry.Policy) { p.LoginMethods, p.RequireAllMethods = pol.LoginMethods, pol.RequireAllMethods },
		"hours":              func(p *ferry.Policy) { p.Hours = pol.Hours },
		"deny_patterns":      func(p *ferry.Policy) { p.DenyPatterns = pol.DenyPatterns },
		"hide_patterns":      func(p *ferry.Policy) { p.HidePatterns = pol.HidePatterns },
		"dotfiles":           func(p *ferry.Policy) { p.DotFiles = pol.DotFiles },
		"allowed_extensions": func(p *ferry.Policy) { p.AllowedExtensions = pol.AllowedExtensions },
		"umask":              func(p *ferry.Policy) { p.Umask = pol.Umask },
		"home_template":      func(p *ferry.Policy) { p.HomeTemplate = pol.HomeTemplate },
	}
	for field, set := range fields {
		if _, done := pg.Errors[field]; done {
			continue
		}
		var one ferry.Policy
		set(&one)
		if err := one.Validate(); err != nil {
			pg.Errors[field] = cleanMessage(err)
		}
	}
}

// parseExpiry reads the user form's expiry: a UTC date, date and time,
// or RFC 3339; empty is never (the zero time).
func parseExpiry(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("expires_at %q: expected YYYY-MM-DD or YYYY-MM-DD HH:MM (UTC), or empty for never", v)
}

// parseBytes reads a byte count or rate: digits with an optional K, M, G
// or T suffix (powers of 1024; a trailing B or iB is allowed).
func parseBytes(v string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(v))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	shift := 0
	if t != "" {
		if i := strings.IndexByte("KMGT", t[len(t)-1]); i >= 0 {
			shift, t = 10*(i+1), t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q is not a size", v)
	}
	return n << shift, nil
}
