package cli

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrymft/ferry/internal/config"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

// ruleFlags are `rule add`'s flags (docs/events.md).
type ruleFlags struct {
	on, users, groups, protocols, paths []string
	minSize, maxSize, status            string
	execPath, webhook, secret, secretF  string
	timeout                             time.Duration
	maxAttempts                         int
	preHook, failOpen, disabled         bool
}

func (f *ruleFlags) register(c *cobra.Command) {
	fs := c.Flags()
	fs.StringSliceVar(&f.on, "on", nil, "event types, comma-separated: "+eventNames()+" (required)")
	fs.StringSliceVar(&f.users, "user", nil, "only these users (repeatable or comma-separated)")
	fs.StringSliceVar(&f.groups, "group", nil, "only users in these groups")
	fs.StringSliceVar(&f.protocols, "protocol", nil, "only these protocols: ftp, ftps, sftp, scp, ssh, webdav, http, admin")
	fs.StringArrayVar(&f.paths, "path", nil, "only virtual paths matching this glob (*.csv, /in/*, /in/**; repeatable)")
	fs.StringVar(&f.minSize, "min-size", "", "only transfers of at least this size (512K, 100M…)")
	fs.StringVar(&f.maxSize, "max-size", "", "only transfers of at most this size")
	fs.StringVar(&f.status, "status", "", "only successful (ok) or failed (failed) operations")
	fs.StringVar(&f.execPath, "exec", "", "run this program (absolute path); arguments follow NAME")
	fs.StringVar(&f.webhook, "webhook", "", "POST the event as JSON to this http(s) URL")
	fs.StringVar(&f.secret, "secret", "", "webhook HMAC-SHA256 signing secret")
	fs.StringVar(&f.secretF, "secret-file", "", "read the webhook secret from this file (keeps it out of argv)")
	fs.DurationVar(&f.timeout, "timeout", 0, "time allowed for one run or request (default 30s, pre-hooks 10s)")
	fs.IntVar(&f.maxAttempts, "max-attempts", 0, "webhook deliveries tried before the event becomes a dead letter (default 10)")
	fs.BoolVar(&f.preHook, "pre-hook", false, "run before the operation (upload, download, delete) and refuse it on failure")
	fs.BoolVar(&f.failOpen, "fail-open", false, "pre-hook: allow the operation when the hook cannot be run or reached")
	fs.BoolVar(&f.disabled, "disabled", false, "store the rule without running it")
}

func eventNames() string {
	s := make([]string, len(ferry.EventTypes))
	for i, t := range ferry.EventTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func (f *ruleFlags) rule(name string, args []string) (*ferry.Rule, error) {
	r := &ferry.Rule{Name: name, Users: f.users, Groups: f.groups, Paths: f.paths, Status: f.status,
		Timeout: f.timeout, MaxAttempts: f.maxAttempts, PreHook: f.preHook, FailOpen: f.failOpen, Disabled: f.disabled}
	if len(f.on) == 0 {
		return nil, usagef("rule add: --on is required (%s)", eventNames())
	}
	for _, e := range f.on {
		r.Events = append(r.Events, ferry.EventType(strings.TrimSpace(e)))
	}
	for _, p := range f.protocols {
		r.Protocols = append(r.Protocols, ferry.Protocol(p))
	}
	for flag, dst := range map[string]*int64{f.minSize: &r.MinSize, f.maxSize: &r.MaxSize} {
		if flag == "" {
			continue
		}
		n, err := config.ParseSize(flag)
		if err != nil {
			return nil, usagef("rule add: size: %v", err)
		}
		*dst = n
	}
	switch {
	case f.execPath != "" && f.webhook != "":
		return nil, usagef("rule add: give --exec or --webhook, not both")
	case f.execPath != "":
		r.Action, r.Command = ferry.ActionExec, append([]string{f.execPath}, args...)
	case f.webhook != "":
		if len(args) > 0 {
			return nil, usagef("rule add: unexpected argument %q (arguments follow NAME only with --exec)", args[0])
		}
		r.Action, r.URL, r.Secret = ferry.ActionWebhook, f.webhook, f.secret
		if f.secretF != "" {
			b, err := os.ReadFile(f.secretF)
			if err != nil {
				return nil, usagef("rule add: --secret-file: %v", err)
			}
			r.Secret = strings.TrimSpace(string(b))
		}
	default:
		return nil, usagef("rule add: an action is required: --exec PROGRAM [ARG…] or --webhook URL")
	}
	return r, r.Validate()
}

func newRuleCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "rule", Short: "Manage event rules: run a command or call a webhook on events (docs/events.md)"}
	var f ruleFlags
	add := &cobra.Command{
		Use:   "add NAME --on EVENT[,EVENT…] (--exec PROGRAM [ARG…] | --webhook URL [--secret S]) [filters]",
		Short: "Add a rule; a running server applies it within a second",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usagef("%s: expected NAME", c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			r, err := f.rule(args[0], args[1:])
			if err != nil {
				return err
			}
			return e.withStore(c, func(st *store.Store) error {
				if err := st.CreateRule(c.Context(), r); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "rule %s added\n", r.Name)
				return nil
			})
		},
	}
	f.register(add)
	var asJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List rules", Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return e.withStore(c, func(st *store.Store) error {
				rs, err := st.ListRules(c.Context(), ferry.ListOptions{})
				if err != nil {
					return err
				}
				if asJSON {
					for _, r := range rs {
						r.Secret = redact(r.Secret)
					}
					return writeJSON(e.stdout, nonNil(rs))
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tEVENTS\tFILTERS\tACTION\tSTATE")
				for _, r := range rs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, joinEvents(r.Events), ruleFilters(r), ruleAction(r), ruleState(r))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON (secrets redacted)")
	del := &cobra.Command{
		Use: "del NAME", Short: "Delete a rule (its undelivered webhook events stay in the outbox)", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				if err := st.DeleteRule(c.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "rule %s deleted\n", args[0])
				return nil
			})
		},
	}
	c.AddCommand(add, list, del)
	return c
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

func joinEvents(ts []ferry.EventType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ",")
}

func ruleFilters(r *ferry.Rule) string {
	var parts []string
	add := func(k string, vs []string) {
		if len(vs) > 0 {
			parts = append(parts, k+"="+strings.Join(vs, ","))
		}
	}
	add("user", r.Users)
	add("group", r.Groups)
	protos := make([]string, len(r.Protocols))
	for i, p := range r.Protocols {
		protos[i] = string(p)
	}
	add("protocol", protos)
	add("path", r.Paths)
	if r.MinSize > 0 || r.MaxSize > 0 {
		parts = append(parts, fmt.Sprintf("size=%d..%d", r.MinSize, r.MaxSize))
	}
	if r.Status != "" {
		parts = append(parts, "status="+r.Status)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func ruleAction(r *ferry.Rule) string {
	s := string(r.Action) + " "
	if r.Action == ferry.ActionExec {
		s += strings.Join(r.Command, " ")
	} else {
		s += r.URL
	}
	if r.PreHook {
		policy := "fail-closed"
		if r.FailOpen {
			policy = "fail-open"
		}
		s = "pre-hook(" + policy + ") " + s
	}
	return s
}

func ruleState(r *ferry.Rule) string {
	if r.Disabled {
		return "disabled"
	}
	return "enabled"
}
