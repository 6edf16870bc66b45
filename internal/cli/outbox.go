package cli

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrymft/ferry/internal/store"
)

func newOutboxCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "outbox", Short: "See and replay webhook deliveries waiting or given up (dead letters)"}
	var dead, asJSON bool
	var rule string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List pending deliveries, or dead letters with --dead", Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return e.withStore(c, func(st *store.Store) error {
				es, err := st.ListOutbox(c.Context(), store.OutboxFilter{Rule: rule, Dead: dead, Limit: limit})
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, nonNil(es))
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tRULE\tCREATED\tATTEMPTS\tNEXT\tLAST ERROR")
				for _, x := range es {
					next := x.NextAt.Local().Format(time.DateTime)
					if x.Dead {
						next = "dead"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", x.ID, x.Rule, x.CreatedAt.Local().Format(time.DateTime), x.Attempts, next, x.LastError)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&dead, "dead", false, "list dead letters instead of pending deliveries")
	list.Flags().StringVar(&rule, "rule", "", "only this rule's entries")
	list.Flags().IntVar(&limit, "limit", 0, "at most this many entries (0: all)")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	replay := &cobra.Command{
		Use:   "replay (--dead | ID…)",
		Short: "Send dead letters again, in their original order (a running server picks them up within a second)",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 && !dead {
				return usagef("outbox replay: give entry IDs, or --dead to replay every dead letter (of --rule)")
			}
			var ids []int64
			for _, a := range args {
				id, err := strconv.ParseInt(a, 10, 64)
				if err != nil || id <= 0 {
					return usagef("outbox replay: %q is not an entry ID", a)
				}
				ids = append(ids, id)
			}
			return e.withStore(c, func(st *store.Store) error {
				total := 0
				if len(ids) == 0 {
					n, err := st.ReplayOutbox(c.Context(), store.OutboxFilter{Rule: rule})
					if err != nil {
						return err
					}
					total = n
				}
				for _, id := range ids {
					n, err := st.ReplayOutbox(c.Context(), store.OutboxFilter{Rule: rule, ID: id})
					if err != nil {
						return err
					}
					if n == 0 {
						fmt.Fprintf(e.stderr, "entry %d is not a dead letter\n", id)
					}
					total += n
				}
				fmt.Fprintf(e.stdout, "%d dead letter(s) queued again\n", total)
				return nil
			})
		},
	}
	replay.Flags().BoolVar(&dead, "dead", false, "replay every dead letter (of --rule)")
	replay.Flags().StringVar(&rule, "rule", "", "only this rule's dead letters")
	c.AddCommand(list, replay)
	return c
}
