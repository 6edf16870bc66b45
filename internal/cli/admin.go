package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

func newAdminCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "admin", Short: "Manage administrators (admin API and web admin)"}
	var role, status, desc string
	var fromStdin, asJSON bool
	apply := func(c *cobra.Command, a *ferry.Admin) error {
		if c.Flags().Changed("role") {
			r, err := ferry.ParseRole(role)
			if err != nil {
				return err
			}
			a.Role = r
		}
		if c.Flags().Changed("status") {
			s, err := ferry.ParseStatus(status)
			if err != nil {
				return err
			}
			a.Status = s
		}
		if c.Flags().Changed("description") {
			a.Description = desc
		}
		return a.Validate()
	}
	flags := func(c *cobra.Command) *cobra.Command {
		c.Flags().StringVar(&role, "role", "", "full (default), read-only or user-manager")
		c.Flags().StringVar(&status, "status", "", "active or disabled")
		c.Flags().StringVar(&desc, "description", "", "free text")
		return c
	}
	add := flags(&cobra.Command{
		Use: "add NAME", Short: "Add an administrator", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				a := &ferry.Admin{Name: args[0], Role: ferry.RoleFull, Status: ferry.StatusActive}
				if err := apply(c, a); err != nil {
					return err
				}
				if _, err := st.GetAdmin(c.Context(), a.Name); err == nil {
					return fmt.Errorf("admin %q: %w", a.Name, ferry.ErrExists)
				}
				pw, err := e.newPassword(fromStdin, a.Name)
				if err != nil {
					return err
				}
				if a.PasswordHash, err = auth.HashPassword(pw); err != nil {
					return err
				}
				if err := st.CreateAdmin(c.Context(), a); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "admin %s added (role %s)\n", a.Name, a.Role)
				return nil
			})
		},
	})
	add.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	set := flags(&cobra.Command{
		Use: "set NAME", Short: "Change an administrator (only the flags given change)", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				a, err := st.GetAdmin(c.Context(), args[0])
				if err != nil {
					return err
				}
				if err := apply(c, a); err != nil {
					return err
				}
				if err := st.UpdateAdmin(c.Context(), a); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "admin %s updated\n", a.Name)
				return nil
			})
		},
	})
	passwd := &cobra.Command{
		Use: "passwd NAME", Short: "Set an administrator's password", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				a, err := st.GetAdmin(c.Context(), args[0])
				if err != nil {
					return err
				}
				pw, err := e.newPassword(fromStdin, a.Name)
				if err != nil {
					return err
				}
				if a.PasswordHash, err = auth.HashPassword(pw); err != nil {
					return err
				}
				if err := st.UpdateAdmin(c.Context(), a); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "password of admin %s changed\n", a.Name)
				return nil
			})
		},
	}
	passwd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	list := &cobra.Command{
		Use: "list", Short: "List administrators", Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return e.withStore(c, func(st *store.Store) error {
				as, err := st.ListAdmins(c.Context(), ferry.ListOptions{})
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, nonNil(as))
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tSTATUS")
				for _, a := range as {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Name, a.Role, a.Status)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	show := &cobra.Command{
		Use: "show NAME", Short: "Show one administrator", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				a, err := st.GetAdmin(c.Context(), args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, a)
				}
				fmt.Fprintf(e.stdout, "name: %s\nrole: %s\nstatus: %s\ndescription: %s\n", a.Name, a.Role, a.Status, a.Description)
				return nil
			})
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	del := &cobra.Command{
		Use: "del NAME", Short: "Delete an administrator", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				if err := st.DeleteAdmin(c.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "admin %s deleted\n", args[0])
				return nil
			})
		},
	}
	c.AddCommand(add, list, show, set, passwd, del)
	return c
}
