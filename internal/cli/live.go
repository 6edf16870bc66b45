package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrymft/ferry/internal/app"
	"github.com/ferrymft/ferry/internal/config"
	"github.com/ferrymft/ferry/internal/control"
)

// call sends one request to the running server's control socket.
func (e *env) call(c *cobra.Command, req control.Request) (*control.Reply, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(c.Context(), 10*time.Second)
	defer cancel()
	rep, err := control.Call(ctx, app.ControlSocket(cfg), req)
	if errors.Is(err, control.ErrNotRunning) {
		return nil, fmt.Errorf("%w (data directory %s); start it with 'ferry serve'", control.ErrNotRunning, cfg.DataDir)
	}
	return rep, err
}

func newWhoCmd(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use: "who", Short: "List live sessions of the running server", Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			rep, err := e.call(c, control.Request{Op: "who"})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e.stdout, nonNil(rep.Sessions))
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SESSION\tUSER\tPROTOCOL\tREMOTE\tSINCE\tSTATE\tTRANSFER\tRATE")
			now := time.Now()
			for _, s := range rep.Sessions {
				state, xfer, rate := "idle", "-", "-"
				if t := s.Transfer; t != nil {
					state = t.Direction
					xfer = fmt.Sprintf("%s %d/%d bytes", t.Path, t.Bytes, t.Size)
					if d := now.Sub(t.Start).Seconds(); d > 0 {
						rate = fmt.Sprintf("%.0f KiB/s", float64(t.Bytes)/d/1024)
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.User, s.Protocol, s.Remote,
					s.Start.Format(time.DateTime), state, xfer, rate)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func newKickCmd(e *env) *cobra.Command {
	var user string
	c := &cobra.Command{
		Use: "kick SESSION | --user NAME", Short: "Disconnect a session, or every session of a user",
		RunE: func(c *cobra.Command, args []string) error {
			switch {
			case user != "" && len(args) == 0:
				rep, err := e.call(c, control.Request{Op: "kick_user", User: user})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%d session(s) of %s disconnected\n", rep.Kicked, user)
				return nil
			case user == "" && len(args) == 1:
				if _, err := e.call(c, control.Request{Op: "kick", ID: args[0]}); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "session %s disconnected\n", args[0])
				return nil
			}
			return usagef("kick: give one SESSION id or --user NAME")
		},
	}
	c.Flags().StringVar(&user, "user", "", "disconnect every session of this user")
	return c
}

func newReloadCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use: "reload", Short: "Make the running server reload certificates and services (like SIGHUP)", Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := e.call(c, control.Request{Op: "reload"}); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "reloaded")
			return nil
		},
	}
}

func newStatusCmd(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use: "status", Short: "Show the running server's version, uptime and services", Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			rep, err := e.call(c, control.Request{Op: "status"})
			if err != nil {
				return err
			}
			st := rep.Status
			if asJSON {
				return writeJSON(e.stdout, st)
			}
			fmt.Fprintf(e.stdout, "ferry %s, up %s, store %s\n", st.Version, time.Since(st.Started).Round(time.Second), st.Store)
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVICE\tPROTOCOL\tSTATE\tADDRESS\tSESSIONS")
			for _, s := range st.Services {
				state := s.State
				if s.Error != "" {
					state += ": " + s.Error
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", s.Name, s.Protocol, state, s.Address, s.Sessions)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func newConfigCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Check or print the configuration file"}
	c.AddCommand(&cobra.Command{
		Use: "check [FILE]", Short: "Validate ferry.yaml (strict: unknown keys are errors)",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("config check: at most one FILE")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				e.configPath = args[0]
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			src := cmpOr(e.configPath, e.getenv("FERRY_CONFIG"))
			if src == "" {
				src = "(no file: defaults)"
			}
			fmt.Fprintf(e.stdout, "%s: ok (data_dir %s, store %s)\n", src, cfg.DataDir, cfg.Store.DSN)
			return nil
		},
	}, &cobra.Command{
		Use: "example", Short: "Print a commented ferry.yaml with every key", Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprint(e.stdout, config.Example)
			return nil
		},
	})
	return c
}
