package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferrymft/ferry/internal/app"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/store"
	"github.com/ferrymft/ferry/internal/transfer"
)

func newTransferCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "transfer", Short: "Manage transfers run by 'ferry serve' on a schedule or by watching a folder (docs/transfers.md)"}
	c.AddCommand(newTransferAddCmd(e), newTransferListCmd(e), newTransferShowCmd(e), newTransferDelCmd(e),
		newTransferRunCmd(e), newTransferHistoryCmd(e), newTransferSetCmd(e), newTransferPauseCmd(e, true), newTransferPauseCmd(e, false))
	return c
}

// checkSpec refuses a source or destination that cannot work: a URL with
// a password, or a location that does not exist.
func checkSpec(c *cobra.Command, st *store.Store, flag, spec string) error {
	if spec == "" {
		return usagef("transfer add: %s is required", flag)
	}
	if transfer.IsLocationRef(spec) {
		name, _, _ := strings.Cut(strings.TrimPrefix(spec, transfer.LocationPrefix), "/")
		if _, err := st.GetLocation(c.Context(), name); err != nil {
			return usagef("%s %s: %v (add it with 'ferry location add')", flag, spec, err)
		}
		return nil
	}
	l, err := remote.Parse(spec)
	if err != nil {
		return usagef("%s: %v", flag, err)
	}
	if l.HasPass {
		return usagef("%s: a URL with a password would be stored in clear; use 'ferry location add' and location:NAME/path", flag)
	}
	return nil
}

func newTransferAddCmd(e *env) *cobra.Command {
	var t ferry.Transfer
	add := &cobra.Command{
		Use:   "add NAME --from SRC --to DST [--every D | --cron 'M H DOM MON DOW' | --watch] | add NAME --on-upload USER:GLOB --to DST",
		Short: "Define a transfer; SRC and DST are folders: location:NAME/path, a URL without password, or a local path",
		Example: `  ferry transfer add bank-pull --from location:bank/outbox --to /srv/erp/in --pattern '*.csv' --cron '30 2 * * 1-5' --delete-source
  ferry transfer add partner-push --from /srv/ferry/alice/out --to location:partner/in --watch --min-age 30s --archive-to /srv/sent
  ferry transfer add to-erp --on-upload 'alice:/in/*.csv' --to location:erp/inbound --delete-source`,
		Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			t.Name = args[0]
			if t.Cron != "" {
				if _, err := transfer.ParseCron(t.Cron); err != nil {
					return usagef("--cron: %v", err)
				}
			}
			if err := t.Validate(); err != nil {
				return err
			}
			return e.withStore(c, func(st *store.Store) error {
				if err := checkSpec(c, st, "--from", t.Source); err != nil && t.OnUpload == "" {
					return err
				}
				if err := checkSpec(c, st, "--to", t.Dest); err != nil {
					return err
				}
				if err := app.CheckTransfer(c.Context(), st, &t); err != nil {
					return usagef("%v", err)
				}
				if err := st.CreateTransfer(c.Context(), &t); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "transfer %s added (%s -> %s, %s)\n", t.Name, t.Source, t.Dest, trigger(&t))
				return nil
			})
		},
	}
	transferFlags(add, &t)
	return add
}

// transferFlags are the definition flags of transfer add and set; each
// entry of the returned map copies one flag's field from src to dst.
func transferFlags(c *cobra.Command, t *ferry.Transfer) map[string]func(dst, src *ferry.Transfer) {
	f := c.Flags()
	f.StringVar(&t.Source, "from", "", "source folder (required, except with --on-upload)")
	f.StringVar(&t.Dest, "to", "", "destination folder (required)")
	f.DurationVar(&t.Every, "every", 0, "run at this interval (at least 1s), from when the server starts")
	f.StringVar(&t.Cron, "cron", "", "run on this cron schedule (5 fields, server's local time)")
	f.BoolVar(&t.Watch, "watch", false, "watch the source: a local folder is watched for changes (inotify), others are looked at every 2s")
	f.StringVar(&t.OnUpload, "on-upload", "", "deliver each file USER uploads to Ferry matching GLOB as soon as it is complete (alice:/in/*.csv; /** for a subtree); no --from")
	f.StringVar(&t.Pattern, "pattern", "", "only files whose name matches this glob (*.csv)")
	f.StringArrayVar(&t.Exclude, "exclude", nil, "never pick files or folders whose name or path under --from matches this glob (repeatable)")
	f.BoolVarP(&t.Recursive, "recursive", "r", false, "include subfolders (their structure is kept)")
	f.DurationVar(&t.MinAge, "min-age", 0, "skip files modified more recently than this (e.g. 30s)")
	f.BoolVar(&t.DeleteSource, "delete-source", false, "delete each source file after its verified copy")
	f.StringVar(&t.ArchiveTo, "archive-to", "", "move each copied source file into this folder on the source side (relative to --from unless absolute)")
	f.StringVar(&t.FailedTo, "failed-to", "", "move a source file whose copy still fails after its retries into this folder on the source side")
	f.StringVar(&t.OnConflict, "on-conflict", "overwrite", "when the destination file exists: overwrite, skip, rename (a timestamped name)")
	f.IntVar(&t.Parallel, "parallel", 1, "files copied at once")
	f.Var(&rateFlag{&t.RateLimit}, "rate-limit", "bandwidth cap of a run in bytes per second, with an optional K, M or G suffix")
	f.StringVar(&t.Verify, "verify", "auto", "verification: auto, size, hash, none")
	f.IntVar(&t.Retries, "retries", 3, "retries per file after a transient failure (with backoff, resuming)")
	f.BoolVar(&t.Disabled, "disabled", false, "store it without scheduling it (paused)")
	f.StringVar(&t.Description, "description", "", "free text")
	return map[string]func(dst, src *ferry.Transfer){
		"from": func(d, s *ferry.Transfer) { d.Source = s.Source }, "to": func(d, s *ferry.Transfer) { d.Dest = s.Dest },
		"every": func(d, s *ferry.Transfer) { d.Every = s.Every }, "cron": func(d, s *ferry.Transfer) { d.Cron = s.Cron },
		"watch": func(d, s *ferry.Transfer) { d.Watch = s.Watch }, "on-upload": func(d, s *ferry.Transfer) { d.OnUpload = s.OnUpload },
		"pattern": func(d, s *ferry.Transfer) { d.Pattern = s.Pattern },
		"exclude": func(d, s *ferry.Transfer) { d.Exclude = s.Exclude }, "recursive": func(d, s *ferry.Transfer) { d.Recursive = s.Recursive },
		"min-age":       func(d, s *ferry.Transfer) { d.MinAge = s.MinAge },
		"delete-source": func(d, s *ferry.Transfer) { d.DeleteSource = s.DeleteSource },
		"archive-to":    func(d, s *ferry.Transfer) { d.ArchiveTo = s.ArchiveTo },
		"failed-to":     func(d, s *ferry.Transfer) { d.FailedTo = s.FailedTo },
		"on-conflict":   func(d, s *ferry.Transfer) { d.OnConflict = s.OnConflict },
		"parallel":      func(d, s *ferry.Transfer) { d.Parallel = s.Parallel },
		"rate-limit":    func(d, s *ferry.Transfer) { d.RateLimit = s.RateLimit },
		"verify":        func(d, s *ferry.Transfer) { d.Verify = s.Verify },
		"retries":       func(d, s *ferry.Transfer) { d.Retries = s.Retries },
		"disabled":      func(d, s *ferry.Transfer) { d.Disabled = s.Disabled },
		"description":   func(d, s *ferry.Transfer) { d.Description = s.Description },
	}
}

func newTransferSetCmd(e *env) *cobra.Command {
	var in ferry.Transfer
	var copyFlag map[string]func(dst, src *ferry.Transfer)
	set := &cobra.Command{
		Use:   "set NAME [flags]",
		Short: "Change a transfer: only the flags given change (a running server applies it within a second)",
		Example: `  ferry transfer set bank-pull --on-conflict rename --parallel 4
  ferry transfer set partner-push --every 0 --watch --exclude '*.tmp'`,
		Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				t, err := st.GetTransfer(c.Context(), args[0])
				if err != nil {
					return err
				}
				changed := 0
				c.Flags().Visit(func(f *pflag.Flag) {
					if fn := copyFlag[f.Name]; fn != nil {
						fn(t, &in)
						changed++
					}
				})
				if changed == 0 {
					return usagef("transfer set: give at least one flag to change")
				}
				// A new trigger replaces the old one.
				switch {
				case c.Flags().Changed("every") && t.Every > 0:
					t.Cron, t.Watch, t.OnUpload = "", false, ""
				case c.Flags().Changed("cron") && t.Cron != "":
					t.Every, t.Watch, t.OnUpload = 0, false, ""
				case c.Flags().Changed("watch") && t.Watch:
					t.Every, t.Cron, t.OnUpload = 0, "", ""
				case c.Flags().Changed("on-upload") && t.OnUpload != "":
					t.Every, t.Cron, t.Watch, t.Source = 0, "", false, ""
				}
				if c.Flags().Changed("delete-source") && t.DeleteSource {
					t.ArchiveTo = ""
				} else if c.Flags().Changed("archive-to") && t.ArchiveTo != "" {
					t.DeleteSource = false
				}
				if err := app.CheckTransfer(c.Context(), st, t); err != nil {
					return usagef("%v", err)
				}
				if err := st.UpdateTransfer(c.Context(), t); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "transfer %s changed (%s -> %s, %s)\n", t.Name, t.Source, t.Dest, trigger(t))
				return nil
			})
		},
	}
	copyFlag = transferFlags(set, &in)
	return set
}

// newTransferPauseCmd pauses (disabled) or resumes a transfer.
func newTransferPauseCmd(e *env, pause bool) *cobra.Command {
	use, short, verb := "pause NAME", "Stop scheduling a transfer and stop its run in progress (its partial file is resumed later)", "paused"
	if !pause {
		use, short, verb = "resume NAME", "Schedule a paused transfer again", "resumed"
	}
	return &cobra.Command{
		Use: use, Short: short, Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				t, err := st.GetTransfer(c.Context(), args[0])
				if err != nil {
					return err
				}
				if t.Disabled == pause {
					fmt.Fprintf(e.stdout, "transfer %s is already %s\n", t.Name, verb)
					return nil
				}
				t.Disabled = pause
				if err := st.UpdateTransfer(c.Context(), t); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "transfer %s %s (%s)\n", t.Name, verb, trigger(t))
				return nil
			})
		},
	}
}

func trigger(t *ferry.Transfer) string {
	switch {
	case t.Disabled:
		return "disabled"
	case t.Every > 0:
		return "every " + t.Every.String()
	case t.Cron != "":
		return "cron " + t.Cron
	case t.Watch:
		return "watch"
	case t.OnUpload != "":
		return "on upload " + t.OnUpload
	}
	return "on demand"
}

func after(t *ferry.Transfer) string {
	switch {
	case t.DeleteSource:
		return "delete source"
	case t.ArchiveTo != "":
		return "archive to " + t.ArchiveTo
	}
	return "keep source"
}

func newTransferListCmd(e *env) *cobra.Command {
	var asJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List transfers", Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return e.withStore(c, func(st *store.Store) error {
				ts, err := st.ListTransfers(c.Context(), ferry.ListOptions{})
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, nonNil(ts))
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tFROM\tTO\tPATTERN\tTRIGGER\tAFTER")
				for _, t := range ts {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Source, t.Dest, cmpOr(t.Pattern, "*"), trigger(t), after(t))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return list
}

func newTransferShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use: "show NAME", Short: "Show a transfer and its latest files", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				t, err := st.GetTransfer(c.Context(), args[0])
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				for _, kv := range [][2]string{
					{"name", t.Name}, {"from", t.Source}, {"to", t.Dest}, {"pattern", cmpOr(t.Pattern, "*")},
					{"recursive", fmt.Sprint(t.Recursive)}, {"trigger", trigger(t)}, {"min age", t.MinAge.String()},
					{"exclude", strings.Join(t.Exclude, " ")}, {"after", after(t)}, {"failed to", cmpOr(t.FailedTo, "-")},
					{"on conflict", cmpOr(t.OnConflict, "overwrite")}, {"parallel", fmt.Sprint(max(t.Parallel, 1))},
					{"rate limit", rateText(t.RateLimit)},
					{"verify", cmpOr(t.Verify, "auto")}, {"retries", fmt.Sprint(t.Retries)},
					{"description", t.Description},
				} {
					fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				h, err := st.TransferHistory(c.Context(), store.HistoryFilter{Transfer: t.Name, Limit: 5})
				if err != nil || len(h) == 0 {
					return err
				}
				fmt.Fprintln(e.stdout, "\nlatest files:")
				return printHistory(e, h)
			})
		},
	}
}

func newTransferDelCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use: "del NAME", Short: "Delete a transfer (its history is kept)", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				if err := st.DeleteTransfer(c.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "transfer %s deleted\n", args[0])
				return nil
			})
		},
	}
}

func newTransferRunCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "run NAME",
		Short: "Run a transfer now, in this process (refused while it runs elsewhere); exit 1 when a file failed",
		Args:  exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withApp(c, func(a *app.App) error {
				t, err := a.Store().GetTransfer(c.Context(), args[0])
				if err != nil {
					return err
				}
				res, err := a.NewTransferRunner().Run(c.Context(), t)
				for _, r := range res.Files {
					if r.Err != nil {
						fmt.Fprintf(e.stderr, "ferry: %s\n", oneLine(r.Err))
						continue
					}
					fmt.Fprintf(e.stdout, "copied %s -> %s (%s)\n", r.Src, r.Dst, detail(r))
				}
				if err != nil {
					if errors.Is(err, transfer.ErrBusy) {
						return fmt.Errorf("%w (a server or another command is running it)", err)
					}
					return err
				}
				if res.Pending > 0 {
					fmt.Fprintf(e.stdout, "%d file(s) still being written, left for the next run\n", res.Pending)
				}
				if n := res.Failed(); n > 0 {
					return fmt.Errorf("transfer %s: %d of %d file(s) failed", t.Name, n, len(res.Files))
				}
				fmt.Fprintf(e.stdout, "transfer %s: %d file(s) copied\n", t.Name, len(res.Files))
				return nil
			})
		},
	}
}

func newTransferHistoryCmd(e *env) *cobra.Command {
	var (
		limit          int
		failed, asJSON bool
	)
	h := &cobra.Command{
		Use: "history [NAME]", Short: "Show the files transfers moved, newest first",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("%s: expected at most one NAME", c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			f := store.HistoryFilter{Limit: limit}
			if len(args) == 1 {
				f.Transfer = args[0]
			}
			if failed {
				f.Status = ferry.TransferFailed
			}
			return e.withStore(c, func(st *store.Store) error {
				h, err := st.TransferHistory(c.Context(), f)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, nonNil(h))
				}
				return printHistory(e, h)
			})
		},
	}
	h.Flags().IntVar(&limit, "limit", 50, "rows to show")
	h.Flags().BoolVar(&failed, "failed", false, "only failed files")
	h.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return h
}

func printHistory(e *env, h []ferry.TransferRecord) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTRANSFER\tSTATUS\tBYTES\tDURATION\tSOURCE\tDEST\tSHA256/ERROR")
	for _, r := range h {
		extra := r.SHA256
		if r.Error != "" {
			extra = strings.ReplaceAll(r.Error, "\n", " ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.Started.Local().Format(time.DateTime), r.Transfer, r.Status,
			r.Bytes, r.Duration.Round(time.Millisecond), r.Source, r.Dest, cmpOr(extra, "-"))
	}
	return tw.Flush()
}

func rateText(n int64) string {
	if n <= 0 {
		return "none"
	}
	return fmt.Sprintf("%d bytes/s", n)
}
