package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

func newBanCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "ban", Short: "List, add and lift bans (shared by every service; the defender adds its own)"}
	var asJSON bool
	var dur, reason string
	list := &cobra.Command{
		Use: "list", Short: "List bans in force", Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return e.withStore(c, func(st *store.Store) error {
				bans, err := st.ListBans(c.Context(), time.Now())
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, nonNil(bans))
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NETWORK\tUNTIL\tREASON")
				for _, b := range bans {
					until := "permanent"
					if !b.ExpiresAt.IsZero() {
						until = b.ExpiresAt.Local().Format(time.DateTime)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", b.Network, until, b.Reason)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	add := &cobra.Command{
		Use: "add ADDRESS|CIDR", Short: "Ban an address or network (a running server refuses it within a second)", Args: exactArgs(1, "ADDRESS|CIDR"),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := ferry.ParseCIDR(args[0])
			if err != nil {
				return err
			}
			b := &ferry.Ban{Network: p.String(), Reason: reason, CreatedAt: time.Now()}
			if dur != "" && dur != "permanent" {
				d, err := time.ParseDuration(dur)
				if err != nil || d <= 0 {
					return usagef("--for %q: expected a duration like 30m or 24h, or permanent", dur)
				}
				b.ExpiresAt = b.CreatedAt.Add(d)
			}
			return e.withStore(c, func(st *store.Store) error {
				if err := st.AddBan(c.Context(), b); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "banned %s\n", b.Network)
				return nil
			})
		},
	}
	add.Flags().StringVar(&dur, "for", "permanent", "how long, e.g. 1h; permanent by default")
	add.Flags().StringVar(&reason, "reason", "banned by an administrator", "why (shown in ban list)")
	del := &cobra.Command{
		Use: "del ADDRESS|CIDR", Aliases: []string{"lift", "rm"}, Short: "Lift a ban", Args: exactArgs(1, "ADDRESS|CIDR"),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := ferry.ParseCIDR(args[0])
			if err != nil {
				return err
			}
			return e.withStore(c, func(st *store.Store) error {
				if err := st.DeleteBan(c.Context(), p.String()); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "ban on %s lifted\n", p)
				return nil
			})
		},
	}
	c.AddCommand(list, add, del)
	return c
}

func newUserRescan(e *env) *cobra.Command {
	return &cobra.Command{
		Use: "rescan NAME", Short: "Recount the bytes and files in a user's home for quotas", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			a, err := e.openApp(c.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			b, f, err := a.Engine().Rescan(c.Context(), args[0])
			if err != nil {
				return err
			}
			// Tell a running server to reload the usage it caches.
			if err := a.Store().SetSetting(c.Context(), "usage_rescanned", args[0]+" "+time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "user %s uses %d bytes in %d files\n", args[0], b, f)
			return nil
		},
	}
}

// printEffective shows the merged settings of a user and where each comes
// from: the user, one of its groups, or the default group.
func printEffective(e *env, st *store.Store, c *cobra.Command, u *ferry.User) error {
	type src struct {
		name string
		pol  ferry.Policy
		perm []ferry.PathPerm
	}
	sources := []src{{name: "user", pol: u.Policy, perm: u.Perms}}
	for _, g := range append(slices.Clone(u.Groups), ferry.DefaultGroup) {
		grp, err := st.GetGroup(c.Context(), g)
		if errors.Is(err, ferry.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		sources = append(sources, src{name: "group " + g, pol: grp.Policy, perm: grp.Perms})
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE\tFROM")
	fmt.Fprintf(tw, "status\t%s\tuser\n", u.Status)
	if u.Home != "" {
		fmt.Fprintf(tw, "home\t%s\tuser\n", u.Home)
	} else {
		home, from := "(none: logins fail)", "-"
		for _, s := range sources {
			if s.pol.HomeTemplate != "" {
				first := append(slices.Clone(u.Groups), ferry.DefaultGroup)[0]
				home, from = ferry.ExpandHome(s.pol.HomeTemplate, u.Name, first), s.name+" home template"
				break
			}
		}
		fmt.Fprintf(tw, "home\t%s\t%s\n", home, from)
	}
	seenPath := map[string]bool{}
	for _, s := range sources {
		for _, p := range s.perm {
			if !seenPath[p.Path] {
				seenPath[p.Path] = true
				fmt.Fprintf(tw, "perm %s\t%s\t%s\n", p.Path, p.Perms, s.name)
			}
		}
	}
	if !seenPath["/"] {
		fmt.Fprintf(tw, "perm /\t%s\tdefault\n", ferry.PermAll)
	}
	seen := map[string]bool{}
	for _, s := range sources {
		for _, kv := range policyLines(s.pol) {
			additive := strings.HasPrefix(kv[0], "deny") || strings.HasPrefix(kv[0], "hide")
			if seen[kv[0]] && !additive {
				continue
			}
			seen[kv[0]] = true
			fmt.Fprintf(tw, "%s\t%s\t%s\n", kv[0], kv[1], s.name)
		}
	}
	return tw.Flush()
}
