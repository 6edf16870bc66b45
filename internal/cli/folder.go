package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

func newFolderCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "folder", Short: "Manage virtual folders (one directory mounted into many users' trees)"}
	var dir, desc string
	var asJSON bool
	add := &cobra.Command{
		Use: "add NAME --path DIR", Short: "Define a virtual folder (mount it with 'user set NAME --mount /VPATH=FOLDER[:ro]')",
		Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("folder add: --path is required")
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return usagef("--path %q: %v", dir, err)
			}
			f := &ferry.Folder{Name: args[0], Path: abs, Description: desc}
			if err := f.Validate(); err != nil {
				return err
			}
			if err := os.MkdirAll(abs, 0o750); err != nil {
				return fmt.Errorf("folder %s: %w", abs, err)
			}
			return e.withStore(c, func(st *store.Store) error {
				if err := st.CreateFolder(c.Context(), f); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "folder %s added (%s)\n", f.Name, f.Path)
				return nil
			})
		},
	}
	add.Flags().StringVar(&dir, "path", "", "directory on the server (created when missing)")
	add.Flags().StringVar(&desc, "description", "", "free text")
	list := &cobra.Command{
		Use: "list", Short: "List virtual folders", Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return e.withStore(c, func(st *store.Store) error {
				fs, err := st.ListFolders(c.Context(), ferry.ListOptions{})
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, nonNil(fs))
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tPATH\tDESCRIPTION")
				for _, f := range fs {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Name, f.Path, f.Description)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	del := &cobra.Command{
		Use: "del NAME", Short: "Delete a folder definition (its directory is kept)", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				if err := st.DeleteFolder(c.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "folder %s deleted\n", args[0])
				return nil
			})
		},
	}
	c.AddCommand(add, list, del)
	return c
}
