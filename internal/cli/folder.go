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
	var dir, desc, qBytes, qFiles string
	var asJSON bool
	quota := func(c *cobra.Command, f *ferry.Folder) error {
		if c.Flags().Changed("quota-bytes") {
			v, err := ParseSize(cmpOr(qBytes, "0"))
			if err != nil {
				return fmt.Errorf("--quota-bytes: %w", err)
			}
			f.QuotaBytes = v
		}
		if c.Flags().Changed("quota-files") {
			v, err := ParseSize(cmpOr(qFiles, "0"))
			if err != nil {
				return fmt.Errorf("--quota-files: %w", err)
			}
			f.QuotaFiles = v
		}
		if c.Flags().Changed("description") {
			f.Description = desc
		}
		return f.Validate()
	}
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
			f := &ferry.Folder{Name: args[0], Path: abs}
			if err := quota(c, f); err != nil {
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
	set := &cobra.Command{
		Use: "set NAME", Short: "Change a folder's quota or description", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				f, err := st.GetFolder(c.Context(), args[0])
				if err != nil {
					return err
				}
				if err := quota(c, f); err != nil {
					return err
				}
				if err := st.UpdateFolder(c.Context(), f); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "folder %s updated\n", f.Name)
				return nil
			})
		},
	}
	for _, cmd := range []*cobra.Command{add, set} {
		cmd.Flags().StringVar(&desc, "description", "", "free text")
		cmd.Flags().StringVar(&qBytes, "quota-bytes", "", "quota of the folder in bytes, suffixes K M G T (0: unlimited)")
		cmd.Flags().StringVar(&qFiles, "quota-files", "", "quota of the folder in files (0: unlimited)")
	}
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
				fmt.Fprintln(tw, "NAME\tPATH\tQUOTA BYTES\tQUOTA FILES\tDESCRIPTION")
				for _, f := range fs {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", f.Name, f.Path, f.QuotaBytes, f.QuotaFiles, f.Description)
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
	c.AddCommand(add, set, list, del)
	return c
}
