package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferrymft/ferry/internal/app"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/transfer"
)

// withApp opens the app for commands that need more than the store.
func (e *env) withApp(c *cobra.Command, fn func(a *app.App) error) error {
	a, err := e.openApp(c.Context())
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}

func newLocationCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "location", Short: "Manage named remote locations (servers Ferry connects to; see docs/transfers.md)"}
	c.AddCommand(newLocationAddCmd(e), newLocationSetCmd(e), newLocationListCmd(e), newLocationShowCmd(e), newLocationDelCmd(e), newLocationTestCmd(e))
	return c
}

func newLocationAddCmd(e *env) *cobra.Command {
	var (
		pwStdin, insecure, active         bool
		identity, hostKey, desc, failover string
	)
	add := &cobra.Command{
		Use:   "add NAME URL",
		Short: "Store a location: a URL (ftp://, ftps://, ftps-implicit://, sftp://, webdav(s)://, https://, or a local folder) and its credentials, sealed",
		Example: `  ferry location add bank ftps://acme@ftp.bank.example/ --password-stdin < pw.txt
  ferry location add partner sftp://ferry@sftp.partner.example:22/ --identity ~/.ssh/id_ed25519 --host-key SHA256:…
  ferry location add erp sftp://ferry@erp1.example/ --identity erp.key --failover erp-dr`,
		Args: exactArgs(2, "NAME URL"),
		RunE: func(c *cobra.Command, args []string) error {
			name, url := args[0], args[1]
			l, err := remote.Parse(url)
			if err != nil {
				return usagef("%v", err)
			}
			if l.HasPass {
				return usagef("location add: the URL holds a password; give it with --password-stdin instead")
			}
			loc := &ferry.Location{Name: name, URL: url, Auth: ferry.AuthNone, HostKey: hostKey, Insecure: insecure,
				Active: active, Description: desc, Failover: failover}
			var password, key string
			if pwStdin {
				line, err := bufio.NewReader(e.stdin).ReadString('\n')
				if err != nil && line == "" {
					return usagef("--password-stdin: no password on stdin")
				}
				password = strings.TrimRight(line, "\r\n")
			}
			if identity != "" {
				b, err := os.ReadFile(identity)
				if err != nil {
					return usagef("--identity: %v", err)
				}
				key = string(b)
			}
			return e.withApp(c, func(a *app.App) error {
				if password != "" || key != "" {
					box, err := a.Secrets(true)
					if err != nil {
						return err
					}
					loc.Auth = ferry.AuthPassword
					if key != "" {
						loc.Auth = ferry.AuthKey
						loc.PrivateKey = box.Seal(key, transfer.SecretAD(name, "key"))
					}
					if password != "" {
						loc.Password = box.Seal(password, transfer.SecretAD(name, "password"))
					}
				}
				if err := checkFailover(c, a, loc); err != nil {
					return err
				}
				if err := a.Store().CreateLocation(c.Context(), loc); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "location %s added (%s, auth %s)\n", loc.Name, l, loc.Auth)
				return nil
			})
		},
	}
	f := add.Flags()
	f.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of stdin (stored sealed)")
	f.StringVar(&identity, "identity", "", "SSH private key file for sftp:// (stored sealed; an unencrypted OpenSSH key)")
	f.StringVar(&hostKey, "host-key", "", "pin the SSH host key (SHA256:…, as ssh-keygen -lf prints); default: trust on first use")
	f.BoolVar(&insecure, "insecure", false, "accept any TLS certificate and any SSH host key (test servers only)")
	f.BoolVar(&active, "ftp-active", false, "FTP active mode (PORT/EPRT) instead of passive")
	f.StringVar(&desc, "description", "", "free text")
	f.StringVar(&failover, "failover", "", "a backup location (stored first) used when this one cannot be reached, refuses the login or fails 3 file attempts in a row (never on a host key mismatch)")
	return add
}

func newLocationListCmd(e *env) *cobra.Command {
	var asJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List locations (secrets are never shown)", Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return e.withApp(c, func(a *app.App) error {
				ls, err := a.Store().ListLocations(c.Context(), ferry.ListOptions{})
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, nonNil(ls)) // secrets are json:"-"
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tURL\tAUTH\tDESCRIPTION")
				for _, l := range ls {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Name, l.URL, l.Auth, l.Description)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return list
}

func newLocationShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use: "show NAME", Short: "Show a location (secrets masked)", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withApp(c, func(a *app.App) error {
				l, err := a.Store().GetLocation(c.Context(), args[0])
				if err != nil {
					return err
				}
				mask := func(s string) string {
					if s == "" {
						return "-"
					}
					return "******** (sealed)"
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				for _, kv := range [][2]string{
					{"name", l.Name}, {"url", l.URL}, {"auth", string(l.Auth)},
					{"password", mask(l.Password)}, {"private key", mask(l.PrivateKey)},
					{"host key", cmpOr(l.HostKey, "- (trust on first use: "+a.KnownHosts()+")")},
					{"insecure", fmt.Sprint(l.Insecure)}, {"ftp active", fmt.Sprint(l.Active)},
					{"failover", cmpOr(l.Failover, "-")},
					{"description", l.Description}, {"updated", l.UpdatedAt.Format("2006-01-02 15:04:05Z07:00")},
				} {
					fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
				}
				return tw.Flush()
			})
		},
	}
}

func newLocationDelCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use: "del NAME", Short: "Delete a location", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withApp(c, func(a *app.App) error {
				if err := a.Store().DeleteLocation(c.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "location %s deleted\n", args[0])
				return nil
			})
		},
	}
}

func newLocationTestCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use: "test NAME", Short: "Connect to a location, log in and list its folder", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withApp(c, func(a *app.App) error {
				r := a.Resolver(nil)
				l, err := r.Parse(c.Context(), transfer.LocationPrefix+args[0])
				if err != nil {
					return err
				}
				f, err := r.Dial(c.Context(), l)
				if err != nil {
					return err
				}
				defer f.Close()
				es, err := f.List(c.Context(), l.Path)
				if err != nil {
					return fmt.Errorf("location %q: list %s: %w", args[0], l.Path, err)
				}
				if fo, why := transfer.FailoverOf(f); fo != "" {
					fmt.Fprintf(e.stdout, "location %s: its failover %s: ok, %d entries\n", args[0], fo, len(es))
					return fmt.Errorf("%w (its failover %q works)", why, fo)
				}
				fmt.Fprintf(e.stdout, "location %s: ok, logged in to %s, %d entries in %s\n", args[0], l, len(es), l.Path)
				return nil
			})
		},
	}
}

// dialFunc connects to a location.
type dialFunc = func(ctx context.Context, l remote.Location) (remote.FS, error)

// locArgs are parsed URL arguments and how to connect to them.
type locArgs struct {
	locs []remote.Location
	dial dialFunc
	// res resolves the stored locations named (nil when none is): copy
	// hooks its failover bookkeeping into the copier with it.
	res  *transfer.Resolver
	done func() // releases the store
}

// locationArgs parses URL arguments. "location:NAME/path" references are
// resolved against the data directory's store (opened only when one is
// given) and dialled with their stored credentials; other URLs with ro.
func (e *env) locationArgs(c *cobra.Command, args []string, ro remote.Options) (locArgs, error) {
	la := locArgs{
		dial: func(ctx context.Context, l remote.Location) (remote.FS, error) { return remote.Dial(ctx, l, ro) },
		done: func() {},
	}
	if !slices.ContainsFunc(args, transfer.IsLocationRef) {
		var err error
		la.locs, err = parseLocations(args)
		return la, err
	}
	a, err := e.openApp(c.Context())
	if err != nil {
		return locArgs{}, err
	}
	r := a.Resolver(nil)
	r.Base.Timeout = ro.Timeout
	for _, s := range args {
		l, err := r.Parse(c.Context(), s)
		if err != nil {
			a.Close()
			if transfer.IsLocationRef(s) {
				return locArgs{}, usagef("%s: %v", s, err)
			}
			return locArgs{}, usagef("%v", err)
		}
		la.locs = append(la.locs, l)
	}
	la.dial = func(ctx context.Context, l remote.Location) (remote.FS, error) {
		if l.Name != "" {
			return r.Dial(ctx, l)
		}
		return remote.Dial(ctx, l, ro)
	}
	la.res, la.done = r, func() { a.Close() }
	return la, nil
}

func newLocationSetCmd(e *env) *cobra.Command {
	var (
		pwStdin, noPassword, noIdentity, insecure, active bool
		url, identity, hostKey, desc, failover            string
	)
	set := &cobra.Command{
		Use:   "set NAME [flags]",
		Short: "Change a location: rotate its password or key, or change its URL or settings (only the flags given change)",
		Example: `  ferry location set bank --password-stdin < new-pw.txt
  ferry location set partner --identity /etc/ferry/partner_ed25519.new --host-key SHA256:…`,
		Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			name := args[0]
			fl := c.Flags()
			if fl.NFlag() == 0 {
				return usagef("location set: give at least one flag to change")
			}
			if (pwStdin && noPassword) || (identity != "" && noIdentity) {
				return usagef("location set: --password-stdin with --no-password, or --identity with --no-identity, contradict each other")
			}
			var password, key string
			if pwStdin {
				line, err := bufio.NewReader(e.stdin).ReadString('\n')
				password = strings.TrimRight(line, "\r\n")
				if err != nil && line == "" || password == "" {
					return usagef("--password-stdin: no password on stdin")
				}
			}
			if identity != "" {
				b, err := os.ReadFile(identity)
				if err != nil {
					return usagef("--identity: %v", err)
				}
				key = string(b)
			}
			return e.withApp(c, func(a *app.App) error {
				loc, err := a.Store().GetLocation(c.Context(), name)
				if err != nil {
					return err
				}
				if fl.Changed("url") {
					l, err := remote.Parse(url)
					if err != nil {
						return usagef("%v", err)
					}
					if l.HasPass {
						return usagef("location set: the URL holds a password; give it with --password-stdin instead")
					}
					loc.URL = url
				}
				if fl.Changed("host-key") {
					loc.HostKey = hostKey
				}
				if fl.Changed("insecure") {
					loc.Insecure = insecure
				}
				if fl.Changed("ftp-active") {
					loc.Active = active
				}
				if fl.Changed("description") {
					loc.Description = desc
				}
				if fl.Changed("failover") {
					loc.Failover = failover
					if err := checkFailover(c, a, loc); err != nil {
						return err
					}
				}
				if noPassword {
					loc.Password = ""
				}
				if noIdentity {
					loc.PrivateKey = ""
				}
				if password != "" || key != "" {
					box, err := a.Secrets(true)
					if err != nil {
						return err
					}
					if password != "" {
						loc.Password = box.Seal(password, transfer.SecretAD(name, "password"))
					}
					if key != "" {
						loc.PrivateKey = box.Seal(key, transfer.SecretAD(name, "key"))
					}
				}
				switch {
				case loc.PrivateKey != "":
					loc.Auth = ferry.AuthKey
				case loc.Password != "":
					loc.Auth = ferry.AuthPassword
				default:
					loc.Auth = ferry.AuthNone
				}
				if err := a.Store().UpdateLocation(c.Context(), loc); err != nil {
					return err
				}
				what := "changed"
				if password != "" || key != "" {
					what = "changed, secret rotated"
				}
				fmt.Fprintf(e.stdout, "location %s %s (%s, auth %s)\n", loc.Name, what, loc.URL, loc.Auth)
				return nil
			})
		},
	}
	f := set.Flags()
	f.StringVar(&url, "url", "", "a new URL (no password)")
	f.BoolVar(&pwStdin, "password-stdin", false, "a new password from the first line of stdin (stored sealed)")
	f.BoolVar(&noPassword, "no-password", false, "remove the stored password")
	f.StringVar(&identity, "identity", "", "a new SSH private key file (stored sealed)")
	f.BoolVar(&noIdentity, "no-identity", false, "remove the stored SSH key")
	f.StringVar(&hostKey, "host-key", "", "pin this SSH host key (SHA256:…); \"\" goes back to trust on first use")
	f.BoolVar(&insecure, "insecure", false, "accept any TLS certificate and any SSH host key")
	f.BoolVar(&active, "ftp-active", false, "FTP active mode")
	f.StringVar(&desc, "description", "", "free text")
	f.StringVar(&failover, "failover", "", "a backup location used when this one fails; \"\" removes it")
	return set
}

// checkFailover refuses a failover that names no stored location.
func checkFailover(c *cobra.Command, a *app.App, loc *ferry.Location) error {
	if loc.Failover == "" {
		return nil
	}
	if err := app.CheckFailover(c.Context(), a.Store(), loc); err != nil {
		return usagef("--failover: %v", err)
	}
	return nil
}
