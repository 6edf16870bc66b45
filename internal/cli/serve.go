package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferrymft/ferry/internal/app"
	"github.com/ferrymft/ferry/internal/servicemgr"
)

func newInitCmd(e *env) *cobra.Command {
	var noDefaults bool
	c := &cobra.Command{
		Use:   "init",
		Short: "Create the data directory, store, host keys, TLS certificate, first admin and default services",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			res, err := app.Init(c.Context(), cfg, app.InitOptions{
				DefaultServices: !noDefaults,
				AdminPassword:   e.getenv("FERRY_ADMIN_PASSWORD"),
			})
			if err != nil {
				return err
			}
			printInit(e.stdout, res)
			return nil
		},
	}
	c.Flags().BoolVar(&noDefaults, "no-default-services", false, "create no services (add them with 'ferry service add')")
	return c
}

func printInit(w io.Writer, r *app.InitResult) {
	fmt.Fprintf(w, "Initialized Ferry data directory %s\n", r.DataDir)
	if r.PasswordGenerated {
		fmt.Fprintf(w, "Admin account: %s  password: %s\n(shown once: change it with 'ferry admin passwd %s')\n",
			r.AdminName, r.AdminPassword, r.AdminName)
	} else {
		fmt.Fprintf(w, "Admin account: %s  password: from FERRY_ADMIN_PASSWORD\n", r.AdminName)
	}
	for _, s := range r.Services {
		fmt.Fprintf(w, "Service %s: %s on %s\n", s.Name, s.Kind, s.Listen)
	}
}

func newServeCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run every enabled service until SIGTERM or SIGINT (SIGHUP reloads certificates and services)",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			log, closer, err := app.NewLogger(cfg.Log, e.stderr)
			if err != nil {
				return usageError{err}
			}
			defer closer.Close()
			a, init, err := app.Open(c.Context(), cfg, log)
			if err != nil {
				return err
			}
			defer a.Close()
			if init != nil {
				printInit(e.stdout, init)
			}
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// The first signal starts a graceful stop (services.shutdown_grace);
			// after it the default action is back, so a second one ends at once.
			context.AfterFunc(ctx, stop)
			go reloadOnHUP(ctx, a)
			return a.Serve(ctx, func(sts []servicemgr.Status) { printServing(e.stdout, a, sts) })
		},
	}
}

func reloadOnHUP(ctx context.Context, a *app.App) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := a.Reload(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "ferry: reload:", err)
			}
		}
	}
}

func printServing(w io.Writer, a *app.App, sts []servicemgr.Status) {
	fmt.Fprintf(w, "Ferry %s serving from %s (store: %s)\n", app.Version, a.Config().DataDir, a.Store().Kind())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tPROTOCOL\tSTATE\tADDRESS\tHOW TO CONNECT")
	for _, s := range sts {
		addr := s.Address
		if addr == "" {
			addr = s.Service.Listen
		}
		how := app.HowToConnect(s.Service, addr)
		if s.Error != "" {
			how = s.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Service.Name, s.Service.Kind, s.State, addr, how)
	}
	tw.Flush()
	if len(sts) == 0 {
		fmt.Fprintln(w, "No services defined: add one with 'ferry service add NAME --protocol ftp|sftp|http|admin --listen ADDR:PORT'.")
	}
	fmt.Fprintln(w, "Add users with 'ferry user add NAME'. Stop with Ctrl-C.")
}
