package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

func newGroupCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "group", Short: "Manage groups (settings shared by their members)"}
	var perms []string
	var desc string
	var pol policyFlags
	apply := func(c *cobra.Command, g *ferry.Group) error {
		if err := pol.apply(c.Flags(), &g.Policy); err != nil {
			return err
		}
		if c.Flags().Changed("perm") {
			p, err := parsePerms(perms)
			if err != nil {
				return err
			}
			g.Perms = p
		}
		if c.Flags().Changed("description") {
			g.Description = desc
		}
		return g.Validate()
	}
	flags := func(c *cobra.Command) *cobra.Command {
		c.Flags().StringArrayVar(&perms, "perm", nil, "permission rule PATH=PERM[,PERM…] (repeatable)")
		c.Flags().StringVar(&desc, "description", "", "free text")
		pol.register(c.Flags())
		return c
	}
	add := flags(&cobra.Command{
		Use: "add NAME", Short: "Add a group", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				g := &ferry.Group{Name: args[0]}
				if err := apply(c, g); err != nil {
					return err
				}
				if err := st.CreateGroup(c.Context(), g); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "group %s added\n", g.Name)
				return nil
			})
		},
	})
	set := flags(&cobra.Command{
		Use: "set NAME", Short: "Change a group (only the flags given change)", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				g, err := st.GetGroup(c.Context(), args[0])
				if err != nil {
					return err
				}
				if err := apply(c, g); err != nil {
					return err
				}
				if err := st.UpdateGroup(c.Context(), g); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "group %s updated\n", g.Name)
				return nil
			})
		},
	})
	var asJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List groups", Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return e.withStore(c, func(st *store.Store) error {
				gs, err := st.ListGroups(c.Context(), ferry.ListOptions{})
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, nonNil(gs))
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tPERMS\tDESCRIPTION")
				for _, g := range gs {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", g.Name, permsString(g.Perms), g.Description)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	show := &cobra.Command{
		Use: "show NAME", Short: "Show one group", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				g, err := st.GetGroup(c.Context(), args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, g)
				}
				fmt.Fprintf(e.stdout, "name: %s\nperms: %s\ndescription: %s\n", g.Name, permsString(g.Perms), g.Description)
				for _, kv := range policyLines(g.Policy) {
					fmt.Fprintf(e.stdout, "%s: %s\n", kv[0], kv[1])
				}
				return nil
			})
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	del := &cobra.Command{
		Use: "del NAME", Short: "Delete a group", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				if err := st.DeleteGroup(c.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "group %s deleted\n", args[0])
				return nil
			})
		},
	}
	c.AddCommand(add, list, show, set, del)
	return c
}

func permsString(ps []ferry.PathPerm) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Path + "=" + p.Perms.String()
	}
	return strings.Join(parts, " ")
}

// withStore opens the app for one command and hands it the store.
func (e *env) withStore(c *cobra.Command, fn func(st *store.Store) error) error {
	a, err := e.openApp(c.Context())
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a.Store())
}
