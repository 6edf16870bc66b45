package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrymft/ferry/internal/ferry"
)

// newUserTokenCmd is `ferry user token add|list|del`: users' API tokens
// for the HTTP file API and WebDAV (Authorization: Bearer).
func newUserTokenCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Manage a user's API tokens (HTTP Bearer)"}
	c.AddCommand(newUserTokenAdd(e), newUserTokenList(e), newUserTokenDel(e))
	return c
}

func newUserTokenAdd(e *env) *cobra.Command {
	var expires string
	c := &cobra.Command{
		Use:   "add USER TOKEN-NAME",
		Short: "Create an API token for a user and print its secret (shown once)",
		Args:  exactArgs(2, "USER TOKEN-NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			exp, err := parseTokenExpiry(expires, time.Now())
			if err != nil {
				return err
			}
			a, err := e.openApp(c.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			secret, hash := ferry.NewUserToken()
			t := &ferry.UserToken{User: args[0], Name: args[1], Hash: hash, ExpiresAt: exp}
			if err := a.Store().CreateUserToken(c.Context(), t); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, secret)
			return nil
		},
	}
	c.Flags().StringVar(&expires, "expires", "never", "expiry: a duration (90d, 12h), YYYY-MM-DD, an RFC 3339 time or never")
	return c
}

// parseTokenExpiry accepts durations from now (Go's, plus Nd for days) or
// the dates user --expires takes.
func parseTokenExpiry(s string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return now.Add(time.Duration(n) * 24 * time.Hour).UTC(), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, usagef("--expires %q: must be in the future", s)
		}
		return now.Add(d).UTC(), nil
	}
	t, err := parseExpiry(s)
	if err != nil {
		return time.Time{}, usagef("--expires %q: expected a duration (90d, 12h), YYYY-MM-DD, an RFC 3339 time or never", s)
	}
	if !t.IsZero() && !t.After(now) {
		return time.Time{}, usagef("--expires %q: must be in the future", s)
	}
	return t, nil
}

func newUserTokenList(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list USER",
		Short: "List a user's API tokens",
		Args:  exactArgs(1, "USER"),
		RunE: func(c *cobra.Command, args []string) error {
			a, err := e.openApp(c.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			if _, err := a.Store().GetUser(c.Context(), args[0]); err != nil {
				return err
			}
			ts, err := a.Store().ListUserTokens(c.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				type item struct {
					Name     string     `json:"name"`
					Created  time.Time  `json:"created"`
					Expires  *time.Time `json:"expires,omitempty"`
					LastUsed *time.Time `json:"last_used,omitempty"`
				}
				out := make([]item, 0, len(ts))
				for _, t := range ts {
					out = append(out, item{Name: t.Name, Created: t.CreatedAt, Expires: timePtr(t.ExpiresAt), LastUsed: timePtr(t.LastUsedAt)})
				}
				return writeJSON(e.stdout, out)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCREATED\tEXPIRES\tLAST USED")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, tokenTime(t.CreatedAt, "-"),
					tokenTime(t.ExpiresAt, "never"), tokenTime(t.LastUsedAt, "never"))
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func tokenTime(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(time.RFC3339)
}

func newUserTokenDel(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "del USER TOKEN-NAME",
		Short: "Revoke a user's API token",
		Args:  exactArgs(2, "USER TOKEN-NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			a, err := e.openApp(c.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.Store().DeleteUserToken(c.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "token %s of user %s revoked\n", args[1], args[0])
			return nil
		},
	}
}
