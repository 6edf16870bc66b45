package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ferrymft/ferry/internal/ferry"
)

// policyFlags are the account-policy settings shared by `user add|set` and
// `group add|set`. Each flag that is given changes the policy; "" (or
// "inherit" for booleans) clears a value so it is inherited again.
type policyFlags struct {
	quotaBytes, quotaFiles, maxSessions, maxFileSize string
	bwUp, bwDown                                     string
	allowCIDRs, denyCIDRs                            []string
	clearCIDRs                                       bool
	protocols, methods, hours, dotfiles              string
	requireTLS, keepAll                              string
	denyPatterns, hidePatterns, extensions           []string
	mounts                                           []string
	renameOnConflict, anonymous, umask               string
	requireAll                                       string
	homeTemplate                                     string
}

func (f *policyFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.quotaBytes, "quota-bytes", "", "quota in bytes, suffixes K M G T (0: unlimited; '' inherits)")
	fs.StringVar(&f.quotaFiles, "quota-files", "", "quota in files (0: unlimited)")
	fs.StringVar(&f.maxSessions, "max-sessions", "", "maximum simultaneous sessions (0: unlimited)")
	fs.StringVar(&f.maxFileSize, "max-file-size", "", "largest upload, bytes with suffixes K M G T (0: unlimited)")
	fs.StringVar(&f.bwUp, "bandwidth-up", "", "upload rate limit in bytes/s, e.g. 512K or 10M (0: unlimited)")
	fs.StringVar(&f.bwDown, "bandwidth-down", "", "download rate limit in bytes/s (0: unlimited)")
	fs.StringArrayVar(&f.allowCIDRs, "allow-cidr", nil, "allowed source network (repeatable)")
	fs.StringArrayVar(&f.denyCIDRs, "deny-cidr", nil, "denied source network (repeatable)")
	fs.BoolVar(&f.clearCIDRs, "clear-cidrs", false, "remove every allowed and denied network first")
	fs.StringVar(&f.protocols, "protocols", "", "allowed protocols: ftp,sftp,scp,webdav,http ('' inherits)")
	fs.StringVar(&f.methods, "login-methods", "", "allowed login methods: password,publickey,tls-cert")
	fs.StringVar(&f.requireAll, "login-requires-all", "", "every method of --login-methods is needed in one login (SSH publickey,password): true, false or inherit")
	fs.StringVar(&f.hours, "hours", "", "login hours, e.g. 'mon-fri 08:00-18:00, sat 09:00-12:00' (server time)")
	fs.StringVar(&f.requireTLS, "require-tls", "", "FTP logins must use TLS: true, false or inherit")
	fs.StringVar(&f.keepAll, "keep-all-files", "", "no delete and no overwrite: true, false or inherit")
	fs.StringArrayVar(&f.denyPatterns, "deny-pattern", nil, "refuse names matching GLOB, e.g. '*.exe' (repeatable; '' clears)")
	fs.StringArrayVar(&f.hidePatterns, "hide-pattern", nil, "hide names matching GLOB (repeatable; '' clears)")
	fs.StringVar(&f.dotfiles, "dotfiles", "", "dot-files: allow, protect (no write/delete/rename) or hide")
	fs.StringArrayVar(&f.extensions, "allow-extension", nil, "uploads must end in one of these, e.g. .csv (repeatable; '' clears)")
	fs.StringArrayVar(&f.mounts, "mount", nil, "mount a virtual folder: VPATH=FOLDER or VPATH=FOLDER:ro (repeatable; '' clears)")
	fs.StringVar(&f.renameOnConflict, "rename-on-conflict", "", "upload a.txt as a.1.txt when a.txt exists: true, false or inherit")
	fs.StringVar(&f.anonymous, "anonymous", "", "accept any password (FTP anonymous): true, false or inherit")
	fs.StringVar(&f.umask, "umask", "", "octal umask for new files and folders, e.g. 027 ('' inherits)")
	fs.StringVar(&f.homeTemplate, "home-template", "", "home of members without one of their own, e.g. '/srv/ferry/${user}' (${group}: the user's first group; '' inherits)")
}

// ParseSize parses a byte count with an optional K, M, G or T suffix
// (powers of 1024).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("%w: size %q: expected a number with an optional K, M, G or T suffix", ferry.ErrInvalid, s)
	}
	return v * mult, nil
}

func (f *policyFlags) apply(fs *pflag.FlagSet, p *ferry.Policy) error {
	sizes := []struct {
		flag string
		val  string
		dst  **int64
	}{
		{"quota-bytes", f.quotaBytes, &p.QuotaBytes}, {"quota-files", f.quotaFiles, &p.QuotaFiles},
		{"max-file-size", f.maxFileSize, &p.MaxFileSize}, {"bandwidth-up", f.bwUp, &p.BandwidthUp},
		{"bandwidth-down", f.bwDown, &p.BandwidthDown},
	}
	for _, sz := range sizes {
		if !fs.Changed(sz.flag) {
			continue
		}
		if sz.val == "" {
			*sz.dst = nil
			continue
		}
		v, err := ParseSize(sz.val)
		if err != nil {
			return fmt.Errorf("--%s: %w", sz.flag, err)
		}
		*sz.dst = &v
	}
	if fs.Changed("max-sessions") {
		if f.maxSessions == "" {
			p.MaxSessions = nil
		} else {
			n, err := strconv.Atoi(f.maxSessions)
			if err != nil || n < 0 {
				return usagef("--max-sessions %q: expected a number, 0 for unlimited", f.maxSessions)
			}
			p.MaxSessions = &n
		}
	}
	if f.clearCIDRs {
		p.AllowCIDRs, p.DenyCIDRs = nil, nil
	}
	p.AllowCIDRs = append(p.AllowCIDRs, f.allowCIDRs...)
	p.DenyCIDRs = append(p.DenyCIDRs, f.denyCIDRs...)
	if fs.Changed("protocols") {
		p.Protocols = nil
		for _, s := range splitList(f.protocols) {
			p.Protocols = append(p.Protocols, ferry.Protocol(s))
		}
	}
	if fs.Changed("login-methods") {
		p.LoginMethods = splitList(f.methods)
	}
	if fs.Changed("hours") {
		p.Hours = f.hours
	}
	if fs.Changed("dotfiles") {
		p.DotFiles = f.dotfiles
	}
	if fs.Changed("home-template") {
		p.HomeTemplate = f.homeTemplate
	}
	if fs.Changed("umask") {
		p.Umask = f.umask
	}
	for _, b := range []struct {
		flag, val string
		dst       **bool
	}{{"require-tls", f.requireTLS, &p.RequireTLS}, {"keep-all-files", f.keepAll, &p.KeepAllFiles},
		{"rename-on-conflict", f.renameOnConflict, &p.RenameOnConflict}, {"anonymous", f.anonymous, &p.Anonymous},
		{"login-requires-all", f.requireAll, &p.RequireAllMethods}} {
		if !fs.Changed(b.flag) {
			continue
		}
		switch b.val {
		case "inherit", "":
			*b.dst = nil
		case "true", "false":
			v := b.val == "true"
			*b.dst = &v
		default:
			return usagef("--%s %q: accepted values are true, false, inherit", b.flag, b.val)
		}
	}
	for _, l := range []struct {
		flag string
		val  []string
		dst  *[]string
	}{{"deny-pattern", f.denyPatterns, &p.DenyPatterns}, {"hide-pattern", f.hidePatterns, &p.HidePatterns},
		{"allow-extension", f.extensions, &p.AllowedExtensions}} {
		if !fs.Changed(l.flag) {
			continue
		}
		*l.dst = nil
		for _, v := range l.val {
			if v != "" {
				*l.dst = append(*l.dst, v)
			}
		}
	}
	if fs.Changed("mount") {
		p.Mounts = nil
		for _, v := range f.mounts {
			if v == "" {
				continue
			}
			m, err := ferry.ParseMount(v)
			if err != nil {
				return fmt.Errorf("--mount: %w", err)
			}
			p.Mounts = append(p.Mounts, m)
		}
	}
	return p.Validate()
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// policyLines describes the set values of a policy for `show`.
func policyLines(p ferry.Policy) [][2]string {
	var out [][2]string
	add := func(k, v string) { out = append(out, [2]string{k, v}) }
	num := func(k string, v *int64) {
		if v != nil {
			add(k, strconv.FormatInt(*v, 10))
		}
	}
	num("quota bytes", p.QuotaBytes)
	num("quota files", p.QuotaFiles)
	num("max file size", p.MaxFileSize)
	num("bandwidth up", p.BandwidthUp)
	num("bandwidth down", p.BandwidthDown)
	if p.MaxSessions != nil {
		add("max sessions", strconv.Itoa(*p.MaxSessions))
	}
	list := func(k string, v []string) {
		if len(v) > 0 {
			add(k, strings.Join(v, ", "))
		}
	}
	list("allow cidrs", p.AllowCIDRs)
	list("deny cidrs", p.DenyCIDRs)
	var protos []string
	for _, pr := range p.Protocols {
		protos = append(protos, string(pr))
	}
	list("protocols", protos)
	list("login methods", p.LoginMethods)
	if p.RequireAllMethods != nil {
		add("login requires all", strconv.FormatBool(*p.RequireAllMethods))
	}
	if p.Hours != "" {
		add("hours", p.Hours)
	}
	if p.RequireTLS != nil {
		add("require tls", strconv.FormatBool(*p.RequireTLS))
	}
	if p.KeepAllFiles != nil {
		add("keep all files", strconv.FormatBool(*p.KeepAllFiles))
	}
	list("deny patterns", p.DenyPatterns)
	list("hide patterns", p.HidePatterns)
	if p.DotFiles != "" {
		add("dotfiles", p.DotFiles)
	}
	list("allowed extensions", p.AllowedExtensions)
	for _, m := range p.Mounts {
		ro := ""
		if m.ReadOnly {
			ro = " (read-only)"
		}
		add("mount "+m.Path, m.Folder+ro)
	}
	if p.RenameOnConflict != nil {
		add("rename on conflict", strconv.FormatBool(*p.RenameOnConflict))
	}
	if p.Anonymous != nil {
		add("anonymous", strconv.FormatBool(*p.Anonymous))
	}
	if p.Umask != "" {
		add("umask", p.Umask)
	}
	if p.HomeTemplate != "" {
		add("home template", p.HomeTemplate)
	}
	return out
}
