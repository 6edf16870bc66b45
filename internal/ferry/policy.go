package ferry

import (
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Policy holds the settings a user has and a group gives. A nil pointer or
// an empty list is "not set here": the user's own value wins, then each of
// its groups in order, then the group named DefaultGroup. Deny lists (deny
// CIDRs, deny and hide patterns) are the exception: they add up.
type Policy struct {
	QuotaBytes    *int64 `json:"quota_bytes,omitempty"` // 0: unlimited
	QuotaFiles    *int64 `json:"quota_files,omitempty"`
	MaxSessions   *int   `json:"max_sessions,omitempty"`   // per user; 0: unlimited
	MaxFileSize   *int64 `json:"max_file_size,omitempty"`  // per upload, bytes
	BandwidthUp   *int64 `json:"bandwidth_up,omitempty"`   // bytes/s, shared by the user's sessions
	BandwidthDown *int64 `json:"bandwidth_down,omitempty"` // bytes/s

	AllowCIDRs   []string   `json:"allow_cidrs,omitempty"`
	DenyCIDRs    []string   `json:"deny_cidrs,omitempty"`
	Protocols    []Protocol `json:"protocols,omitempty"`
	LoginMethods []string   `json:"login_methods,omitempty"`
	Hours        string     `json:"hours,omitempty"` // "mon-fri 08:00-18:00"
	RequireTLS   *bool      `json:"require_tls,omitempty"`

	KeepAllFiles      *bool    `json:"keep_all_files,omitempty"`
	DenyPatterns      []string `json:"deny_patterns,omitempty"`
	HidePatterns      []string `json:"hide_patterns,omitempty"`
	DotFiles          string   `json:"dotfiles,omitempty"` // allow, protect, hide
	AllowedExtensions []string `json:"allowed_extensions,omitempty"`

	// Mounts place virtual folders in the tree; a group's mount applies
	// unless the user mounts something at the same path.
	Mounts []Mount `json:"mounts,omitempty"`
	// RenameOnConflict uploads "a.txt" as "a.1.txt" when "a.txt" exists.
	RenameOnConflict *bool `json:"rename_on_conflict,omitempty"`
	// Anonymous accepts any password (FTP anonymous logins); give such an
	// account read-only rights.
	Anonymous *bool `json:"anonymous,omitempty"`
	// Umask is removed from the mode of new files (0666) and directories
	// (0777), in octal like "027"; empty: none beyond the process's.
	Umask string `json:"umask,omitempty"`
	// RequireAllMethods makes every login method of LoginMethods that the
	// server checks (password, publickey) required in one login, like SSH's
	// "publickey,password"; protocols with a single step refuse the account.
	RequireAllMethods *bool `json:"login_requires_all,omitempty"`
	// HomeTemplate is the home of a user that has none of its own, e.g.
	// /srv/ferry/${user} or /srv/ferry/${group}/${user} (${group} is the
	// user's first group); set on a group, it gives its members a home.
	HomeTemplate string `json:"home_template,omitempty"`
}

// ExpandHome fills a home template for user, whose first group is group.
func ExpandHome(tmpl, user, group string) string {
	return path.Clean(strings.NewReplacer("${user}", user, "${group}", group).Replace(tmpl))
}

func validHomeTemplate(t string) error {
	rest := strings.NewReplacer("${user}", "", "${group}", "").Replace(t)
	if !strings.HasPrefix(t, "/") || !strings.Contains(t, "${user}") || strings.Contains(rest, "$") ||
		slices.Contains(strings.Split(t, "/"), "..") {
		return fmt.Errorf("%w: home_template %q: expected an absolute path with ${user} (and optionally ${group}), like /srv/ferry/${user}", ErrInvalid, t)
	}
	return nil
}

// ParseUmask parses an octal umask ("" is 0).
func ParseUmask(s string) (fs.FileMode, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o777 {
		return 0, fmt.Errorf("%w: umask %q: expected octal digits like 022 or 027", ErrInvalid, s)
	}
	return fs.FileMode(v), nil
}

// Mount places the virtual folder Folder at the virtual path Path.
type Mount struct {
	Path     string `json:"path"`
	Folder   string `json:"folder"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// ParseMount parses "VPATH=FOLDER[:ro]".
func ParseMount(s string) (Mount, error) {
	p, f, ok := strings.Cut(s, "=")
	m := Mount{Path: p, Folder: f}
	if name, ro := strings.CutSuffix(f, ":ro"); ro {
		m.Folder, m.ReadOnly = name, true
	} else if name, rw := strings.CutSuffix(f, ":rw"); rw {
		m.Folder = name
	}
	if !ok || !strings.HasPrefix(p, "/") || p == "/" || ValidateName("folder", m.Folder) != nil {
		return Mount{}, fmt.Errorf("%w: mount %q: expected /VPATH=FOLDER or /VPATH=FOLDER:ro (not at /)", ErrInvalid, s)
	}
	return m, nil
}

// Folder is a directory defined once and mounted into many users' trees.
type Folder struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Path        string `json:"path"` // absolute directory on the server
	Description string `json:"description,omitempty"`
	// QuotaBytes and QuotaFiles limit what the folder holds, whoever
	// writes it (0: unlimited).
	QuotaBytes int64     `json:"quota_bytes,omitempty"`
	QuotaFiles int64     `json:"quota_files,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	Version    int64     `json:"version"`
}

// Validate checks a folder record.
func (f *Folder) Validate() error {
	if err := ValidateName("folder", f.Name); err != nil {
		return err
	}
	if !strings.HasPrefix(f.Path, "/") {
		return fmt.Errorf("%w: folder %q: path %q must be an absolute directory", ErrInvalid, f.Name, f.Path)
	}
	if f.QuotaBytes < 0 || f.QuotaFiles < 0 {
		return fmt.Errorf("%w: folder %q: quota_bytes and quota_files must be 0 (unlimited) or more", ErrInvalid, f.Name)
	}
	return nil
}

// DefaultGroup is the group every user is in, after its own groups.
const DefaultGroup = "default"

// Login methods a policy may allow.
const (
	MethodPassword  = "password"
	MethodPublicKey = "publickey"
	MethodTLSCert   = "tls-cert"
	MethodToken     = "token" // a user API token (HTTP Bearer)
)

// Dot-file handling.
const (
	DotFilesAllow   = "allow"
	DotFilesProtect = "protect" // no write, delete or rename of dot names
	DotFilesHide    = "hide"    // protect, and no read; hidden from listings
)

// Merge returns the effective policy: p's values, then each fallback's in
// order for what is still unset. Deny lists add up.
func Merge(p Policy, fallbacks ...Policy) Policy {
	out := p
	out.Mounts = slices.Clone(p.Mounts)
	for _, f := range fallbacks {
		out.QuotaBytes = orPtr(out.QuotaBytes, f.QuotaBytes)
		out.QuotaFiles = orPtr(out.QuotaFiles, f.QuotaFiles)
		out.MaxSessions = orPtr(out.MaxSessions, f.MaxSessions)
		out.MaxFileSize = orPtr(out.MaxFileSize, f.MaxFileSize)
		out.BandwidthUp = orPtr(out.BandwidthUp, f.BandwidthUp)
		out.BandwidthDown = orPtr(out.BandwidthDown, f.BandwidthDown)
		out.RequireTLS = orPtr(out.RequireTLS, f.RequireTLS)
		out.KeepAllFiles = orPtr(out.KeepAllFiles, f.KeepAllFiles)
		out.AllowCIDRs = orList(out.AllowCIDRs, f.AllowCIDRs)
		out.Protocols = orList(out.Protocols, f.Protocols)
		out.LoginMethods = orList(out.LoginMethods, f.LoginMethods)
		out.RequireAllMethods = orPtr(out.RequireAllMethods, f.RequireAllMethods)
		out.AllowedExtensions = orList(out.AllowedExtensions, f.AllowedExtensions)
		if out.Hours == "" {
			out.Hours = f.Hours
		}
		if out.DotFiles == "" {
			out.DotFiles = f.DotFiles
		}
		if out.Umask == "" {
			out.Umask = f.Umask
		}
		if out.HomeTemplate == "" {
			out.HomeTemplate = f.HomeTemplate
		}
		out.RenameOnConflict = orPtr(out.RenameOnConflict, f.RenameOnConflict)
		out.Anonymous = orPtr(out.Anonymous, f.Anonymous)
		for _, m := range f.Mounts {
			if !slices.ContainsFunc(out.Mounts, func(x Mount) bool { return x.Path == m.Path }) {
				out.Mounts = append(out.Mounts, m)
			}
		}
		out.DenyCIDRs = union(out.DenyCIDRs, f.DenyCIDRs)
		out.DenyPatterns = union(out.DenyPatterns, f.DenyPatterns)
		out.HidePatterns = union(out.HidePatterns, f.HidePatterns)
	}
	return out
}

func orPtr[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

func orList[T any](a, b []T) []T {
	if len(a) > 0 {
		return a
	}
	return b
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Int64 returns *p, or 0 when unset.
func Int64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// Bool returns *p, or false when unset.
func Bool(p *bool) bool { return p != nil && *p }

// Validate checks every set field and names the wrong one.
func (p *Policy) Validate() error {
	for name, v := range map[string]*int64{"quota_bytes": p.QuotaBytes, "quota_files": p.QuotaFiles,
		"max_file_size": p.MaxFileSize, "bandwidth_up": p.BandwidthUp, "bandwidth_down": p.BandwidthDown} {
		if v != nil && *v < 0 {
			return fmt.Errorf("%w: %s %d: must be 0 (unlimited) or more", ErrInvalid, name, *v)
		}
	}
	if p.MaxSessions != nil && *p.MaxSessions < 0 {
		return fmt.Errorf("%w: max_sessions %d: must be 0 (unlimited) or more", ErrInvalid, *p.MaxSessions)
	}
	for _, c := range append(slices.Clone(p.AllowCIDRs), p.DenyCIDRs...) {
		if _, err := ParseCIDR(c); err != nil {
			return err
		}
	}
	for _, pr := range p.Protocols {
		switch pr {
		case FTP, SFTP, SCP, WebDAV, HTTP:
		default:
			return fmt.Errorf("%w: protocol %q: accepted values are ftp, sftp, scp, webdav, http", ErrInvalid, pr)
		}
	}
	for _, m := range p.LoginMethods {
		switch m {
		case MethodPassword, MethodPublicKey, MethodTLSCert, MethodToken:
		default:
			return fmt.Errorf("%w: login method %q: accepted values are password, publickey, tls-cert, token", ErrInvalid, m)
		}
	}
	if Bool(p.RequireAllMethods) && len(p.LoginMethods) == 1 {
		return fmt.Errorf("%w: login_requires_all: needs at least two login_methods (e.g. publickey,password), not only %q", ErrInvalid, p.LoginMethods[0])
	}
	if _, err := ParseHours(p.Hours); err != nil {
		return err
	}
	for _, pat := range append(slices.Clone(p.DenyPatterns), p.HidePatterns...) {
		glob := pat
		if i := strings.LastIndexByte(pat, '/'); i >= 0 {
			scope := pat[:i]
			if !strings.HasPrefix(pat, "/") || path.Clean("/"+scope) != "/"+strings.TrimPrefix(scope, "/") && scope != "" {
				return fmt.Errorf("%w: name pattern %q: expected GLOB (everywhere) or /DIR/GLOB (in DIR and below), like *.exe or /in/*.tmp", ErrInvalid, pat)
			}
			glob = pat[i+1:]
		}
		if _, err := path.Match(glob, ""); err != nil || glob == "" {
			return fmt.Errorf("%w: name pattern %q: expected GLOB (everywhere) or /DIR/GLOB (in DIR and below), like *.exe or /in/*.tmp", ErrInvalid, pat)
		}
	}
	switch p.DotFiles {
	case "", DotFilesAllow, DotFilesProtect, DotFilesHide:
	default:
		return fmt.Errorf("%w: dotfiles %q: accepted values are allow, protect, hide", ErrInvalid, p.DotFiles)
	}
	if _, err := ParseUmask(p.Umask); err != nil {
		return err
	}
	if p.HomeTemplate != "" {
		if err := validHomeTemplate(p.HomeTemplate); err != nil {
			return err
		}
	}
	for _, m := range p.Mounts {
		if _, err := ParseMount(m.Path + "=" + m.Folder); err != nil {
			return err
		}
	}
	for _, e := range p.AllowedExtensions {
		if e == "" || strings.ContainsAny(e, "/*?[") {
			return fmt.Errorf("%w: allowed extension %q: expected a suffix like .csv", ErrInvalid, e)
		}
	}
	return nil
}

// ParseCIDR accepts a CIDR or a bare address (a single host).
func ParseCIDR(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%w: CIDR %q: expected an address or network like 192.0.2.0/24 or 2001:db8::/32", ErrInvalid, s)
}

// Window is one time window of an hours rule.
type Window struct {
	Days       [7]bool // indexed by time.Weekday
	From, Till int     // minutes since midnight; Till > From, or Till < From across midnight
}

// Hours is a parsed hours rule; empty means always.
type Hours []Window

var dayNames = map[string]time.Weekday{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

// ParseHours parses "mon-fri 08:00-18:00, sat 09:00-12:00". Each window is
// days (a day, a range, or a comma-free list joined with '+') and a time
// range in the server's local time; "*" means every day.
func ParseHours(s string) (Hours, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	bad := func(part, why string) error {
		return fmt.Errorf("%w: hours %q: %q %s (example: mon-fri 08:00-18:00, sat 09:00-12:00)", ErrInvalid, s, part, why)
	}
	var hs Hours
	for _, part := range strings.Split(s, ",") {
		fields := strings.Fields(part)
		if len(fields) != 2 {
			return nil, bad(strings.TrimSpace(part), "must be DAYS HH:MM-HH:MM")
		}
		var w Window
		for _, d := range strings.Split(strings.ToLower(fields[0]), "+") {
			if d == "*" {
				w.Days = [7]bool{true, true, true, true, true, true, true}
				continue
			}
			from, to, isRange := strings.Cut(d, "-")
			a, ok1 := dayNames[from]
			b, ok2 := dayNames[to]
			if !isRange {
				b, ok2 = a, ok1
			}
			if !ok1 || !ok2 {
				return nil, bad(d, "is not a day or day range (mon tue wed thu fri sat sun)")
			}
			for i := a; ; i = (i + 1) % 7 {
				w.Days[i] = true
				if i == b {
					break
				}
			}
		}
		from, till, ok := strings.Cut(fields[1], "-")
		f, err1 := parseClock(from)
		t, err2 := parseClock(till)
		if !ok || err1 != nil || err2 != nil || f == t {
			return nil, bad(fields[1], "is not a time range HH:MM-HH:MM")
		}
		w.From, w.Till = f, t
		hs = append(hs, w)
	}
	return hs, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("bad clock %q", s)
	}
	return hh*60 + mm, nil
}

// Allows reports whether t falls in one of the windows (always when empty).
func (hs Hours) Allows(t time.Time) bool {
	if len(hs) == 0 {
		return true
	}
	mins := t.Hour()*60 + t.Minute()
	for _, w := range hs {
		if w.From < w.Till {
			if w.Days[t.Weekday()] && mins >= w.From && mins < w.Till {
				return true
			}
			continue
		}
		// Across midnight: the evening part on the listed day, the morning
		// part on the day after.
		yesterday := (t.Weekday() + 6) % 7
		if w.Days[t.Weekday()] && mins >= w.From || w.Days[yesterday] && mins < w.Till {
			return true
		}
	}
	return false
}
