package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferrymft/ferry/internal/app"
	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

// userFlags are the settings `user add` and `user set` share.
type userFlags struct {
	home, status, expires, uploadMode, description string
	keyFiles, groups, perms                        []string
	certPins, certFiles                            []string
	clearPins                                      bool
	passwordStdin, noPassword, clearKeys           bool
	disable, enable                                bool
	pol                                            policyFlags
}

func (f *userFlags) register(fs *pflag.FlagSet, add bool) {
	fs.StringVar(&f.home, "home", "", "home directory (default <users.home_root>/NAME); created when missing")
	fs.StringArrayVar(&f.keyFiles, "public-key", nil, "file with OpenSSH authorized_keys lines (repeatable)")
	fs.StringArrayVar(&f.certPins, "tls-cert-pin", nil, "pin a TLS client certificate by its SHA-256 fingerprint (hex, colons allowed; repeatable): certificate logins then need a pinned one")
	fs.StringArrayVar(&f.certFiles, "tls-cert", nil, "pin the TLS client certificates in this PEM file (repeatable)")
	fs.StringArrayVar(&f.groups, "group", nil, "group membership, in priority order (repeatable)")
	fs.StringArrayVar(&f.perms, "perm", nil, "permission rule PATH=PERM[,PERM…], e.g. /in=list,upload (repeatable; rights: "+strings.Join(ferry.PermNames(), ",")+",all,none)")
	fs.StringVar(&f.status, "status", "", "account status: active or disabled")
	fs.StringVar(&f.expires, "expires", "", "expiry as YYYY-MM-DD or RFC 3339 time; 'never' clears it")
	fs.StringVar(&f.uploadMode, "upload-mode", "", "atomic (default), atomic-resumable or direct")
	fs.StringVar(&f.description, "description", "", "free text")
	fs.BoolVar(&f.disable, "disable", false, "same as --status disabled")
	fs.BoolVar(&f.enable, "enable", false, "same as --status active")
	f.pol.register(fs)
	if add {
		fs.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
		fs.BoolVar(&f.noPassword, "no-password", false, "no password: public key login only")
	} else {
		fs.BoolVar(&f.clearKeys, "clear-public-keys", false, "remove every public key (before adding --public-key ones)")
		fs.BoolVar(&f.clearPins, "clear-tls-cert-pins", false, "remove every pinned certificate (before adding --tls-cert-pin/--tls-cert ones)")
	}
}

// apply copies the flags that were given onto u.
func (f *userFlags) apply(fs *pflag.FlagSet, u *ferry.User) error {
	if fs.Changed("home") && f.home == "" {
		u.Home = "" // from the home template of its policy or groups
	} else if fs.Changed("home") {
		abs, err := filepath.Abs(f.home)
		if err != nil {
			return usagef("--home %q: %v", f.home, err)
		}
		u.Home = abs
	}
	if f.clearKeys {
		u.PublicKeys = nil
	}
	for _, file := range f.keyFiles {
		keys, err := readKeyFile(file)
		if err != nil {
			return err
		}
		u.PublicKeys = append(u.PublicKeys, keys...)
	}
	if err := f.applyPins(u); err != nil {
		return err
	}
	if fs.Changed("group") {
		u.Groups = nil
		for _, g := range f.groups {
			u.Groups = append(u.Groups, strings.Split(g, ",")...)
		}
	}
	if fs.Changed("perm") {
		perms, err := parsePerms(f.perms)
		if err != nil {
			return err
		}
		u.Perms = perms
	}
	if fs.Changed("status") {
		s, err := ferry.ParseStatus(f.status)
		if err != nil {
			return err
		}
		u.Status = s
	}
	if fs.Changed("expires") {
		t, err := parseExpiry(f.expires)
		if err != nil {
			return err
		}
		u.ExpiresAt = t
	}
	if fs.Changed("upload-mode") {
		m, err := ferry.ParseUploadMode(f.uploadMode)
		if err != nil {
			return err
		}
		u.UploadMode = m
	}
	if fs.Changed("description") {
		u.Description = f.description
	}
	switch {
	case f.disable && f.enable:
		return usagef("--disable and --enable together")
	case f.disable:
		u.Status = ferry.StatusDisabled
	case f.enable:
		u.Status = ferry.StatusActive
	}
	return f.pol.apply(fs, &u.Policy)
}

func parsePerms(rules []string) ([]ferry.PathPerm, error) {
	var out []ferry.PathPerm
	for _, r := range rules {
		pp, err := ferry.ParsePathPerm(r)
		if err != nil {
			return nil, fmt.Errorf("--perm: %w", err)
		}
		out = append(out, pp)
	}
	return out, nil
}

func parseExpiry(s string) (time.Time, error) {
	if s == "never" || s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("--expires %q: expected YYYY-MM-DD, an RFC 3339 time or never", s)
	}
	return t.UTC(), nil
}

// readKeyFile returns the authorized_keys lines of a file, each validated.
func readKeyFile(file string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, usagef("--public-key: %v", err)
	}
	var keys []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if _, err := auth.ParseAuthorizedKey(line); err != nil {
			return nil, usagef("--public-key %s line %d: %v", file, i+1, err)
		}
		keys = append(keys, line)
	}
	if len(keys) == 0 {
		return nil, usagef("--public-key %s: no key found", file)
	}
	return keys, nil
}

func newUserCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Manage user accounts (in the store; works with the server up or down)"}
	c.AddCommand(newUserAdd(e), newUserList(e), newUserShow(e), newUserSet(e), newUserPasswd(e), newUserDel(e), newUserRescan(e), newUserTokenCmd(e))
	return c
}

func newUserAdd(e *env) *cobra.Command {
	var f userFlags
	c := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user",
		Args:  exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			a, err := e.openApp(c.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			u := &ferry.User{Name: args[0], Status: ferry.StatusActive}
			if err := ferry.ValidateName("user", u.Name); err != nil {
				return err
			}
			if err := f.apply(c.Flags(), u); err != nil {
				return err
			}
			tmpl, err := homeTemplate(c.Context(), a.Store(), u)
			if err != nil {
				return err
			}
			if u.Home == "" && tmpl == "" {
				group := ""
				if len(u.Groups) > 0 {
					group = u.Groups[0]
				}
				u.Home = app.HomeFor(a.Config(), u.Name, group)
			}
			if err := u.Validate(); err != nil {
				return err
			}
			if _, err := a.Store().GetUser(c.Context(), u.Name); err == nil {
				return fmt.Errorf("user %q: %w", u.Name, ferry.ErrExists)
			}
			if !f.noPassword {
				if f.passwordStdin || len(u.PublicKeys) == 0 {
					pw, err := e.newPassword(f.passwordStdin, u.Name)
					if err != nil {
						return err
					}
					if u.PasswordHash, err = auth.HashPassword(pw); err != nil {
						return err
					}
				}
			}
			if u.PasswordHash == "" && len(u.PublicKeys) == 0 {
				return usagef("user %q would have no way to log in: give --password-stdin or --public-key", u.Name)
			}
			home := u.Home
			if home == "" { // from a group's template: created at first login
				home = ferry.ExpandHome(tmpl, u.Name, append(slices.Clone(u.Groups), ferry.DefaultGroup)[0])
			} else if err := os.MkdirAll(u.Home, 0o750); err != nil {
				return fmt.Errorf("home %s: %w", u.Home, err)
			}
			if err := a.Store().CreateUser(c.Context(), u); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "user %s added (home %s)\n", u.Name, home)
			return nil
		},
	}
	f.register(c.Flags(), true)
	return c
}

func newUserSet(e *env) *cobra.Command {
	var f userFlags
	c := &cobra.Command{
		Use:   "set NAME",
		Short: "Change a user's settings (only the flags given change)",
		Args:  exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			err := e.modifyUser(c, args[0], func(u *ferry.User) error { return f.apply(c.Flags(), u) })
			if err == nil {
				fmt.Fprintf(e.stdout, "user %s updated\n", args[0])
			}
			return err
		},
	}
	f.register(c.Flags(), false)
	return c
}

// modifyUser loads a user, lets change edit it, validates it and stores
// it: the shape of every `user` command that changes one account.
func (e *env) modifyUser(c *cobra.Command, name string, change func(*ferry.User) error) error {
	return e.withStore(c, func(st *store.Store) error {
		u, err := st.GetUser(c.Context(), name)
		if err != nil {
			return err
		}
		if err := change(u); err != nil {
			return err
		}
		if err := u.Validate(); err != nil {
			return err
		}
		return st.UpdateUser(c.Context(), u)
	})
}

func newUserPasswd(e *env) *cobra.Command {
	var fromStdin bool
	c := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password",
		Args:  exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			err := e.modifyUser(c, args[0], func(u *ferry.User) error {
				pw, err := e.newPassword(fromStdin, u.Name)
				if err != nil {
					return err
				}
				u.PasswordHash, err = auth.HashPassword(pw)
				return err
			})
			if err == nil {
				fmt.Fprintf(e.stdout, "password of user %s changed\n", args[0])
			}
			return err
		},
	}
	c.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	return c
}

func newUserDel(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "del NAME",
		Short: "Delete a user (the home directory is kept)",
		Args:  exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			a, err := e.openApp(c.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.Store().DeleteUser(c.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "user %s deleted\n", args[0])
			return nil
		},
	}
}

func newUserList(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := e.openApp(c.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			users, err := a.Store().ListUsers(c.Context(), ferry.ListOptions{})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e.stdout, nonNil(users))
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tHOME\tGROUPS\tKEYS")
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", u.Name, u.Status, u.Home, strings.Join(u.Groups, ","), len(u.PublicKeys))
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func newUserShow(e *env) *cobra.Command {
	var asJSON, effective bool
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one user",
		Args:  exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			a, err := e.openApp(c.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			u, err := a.Store().GetUser(c.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e.stdout, u)
			}
			if effective {
				return printEffective(e, a.Store(), c, u)
			}
			printUser(e.stdout, u)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().BoolVar(&effective, "effective", false, "show the merged settings and where each comes from (user, group, default group)")
	return c
}

func printUser(w io.Writer, u *ferry.User) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	home := u.Home
	if home == "" {
		home = "(from a group's home template; see --effective)"
	}
	fmt.Fprintf(tw, "name:\t%s\nstatus:\t%s\nhome:\t%s\n", u.Name, u.Status, home)
	fmt.Fprintf(tw, "password:\t%v\n", u.PasswordHash != "")
	fmt.Fprintf(tw, "groups:\t%s\n", strings.Join(u.Groups, ", "))
	fmt.Fprintf(tw, "upload mode:\t%s\n", cmpOr(string(u.UploadMode), string(ferry.UploadAtomic)))
	expires := "never"
	if !u.ExpiresAt.IsZero() {
		expires = u.ExpiresAt.Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "expires:\t%s\n", expires)
	for _, p := range u.Perms {
		fmt.Fprintf(tw, "perm:\t%s=%s\n", p.Path, p.Perms)
	}
	for _, kv := range policyLines(u.Policy) {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	for _, k := range u.PublicKeys {
		if ak, err := auth.ParseAuthorizedKey(k); err == nil {
			fmt.Fprintf(tw, "public key:\t%s %s %s\n", ak.Type, ak.Fingerprint(), ak.Comment)
		}
	}
	for _, p := range u.TLSCertPins {
		fmt.Fprintf(tw, "tls cert pin:\tsha256:%s\n", p)
	}
	if u.Description != "" {
		fmt.Fprintf(tw, "description:\t%s\n", u.Description)
	}
	fmt.Fprintf(tw, "created:\t%s\nupdated:\t%s\n", u.CreatedAt.Format(time.RFC3339), u.UpdatedAt.Format(time.RFC3339))
	tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// nonNil makes an empty list print as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// homeTemplate is the home template u gets from its own policy or its
// groups (then the default group), "" when none has one.
func homeTemplate(ctx context.Context, st *store.Store, u *ferry.User) (string, error) {
	if u.Policy.HomeTemplate != "" {
		return u.Policy.HomeTemplate, nil
	}
	for _, name := range append(slices.Clone(u.Groups), ferry.DefaultGroup) {
		g, err := st.GetGroup(ctx, name)
		if errors.Is(err, ferry.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if g.Policy.HomeTemplate != "" {
			return g.Policy.HomeTemplate, nil
		}
	}
	return "", nil
}
