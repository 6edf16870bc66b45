package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferrymft/ferry/internal/app"
	"github.com/ferrymft/ferry/internal/control"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

// serviceFlags are the settings `service add` and `service set` share. The
// named flags are shorthands for common options; --option sets any.
type serviceFlags struct {
	protocol, listen, tls, cert, key string
	passivePorts, publicHost         string
	options, unset                   []string
	disabled                         bool
}

func (f *serviceFlags) register(fs *pflag.FlagSet, add bool) {
	if add {
		fs.StringVar(&f.protocol, "protocol", "", "ftp, sftp, http, admin or ftp-proxy (required)")
		fs.BoolVar(&f.disabled, "disabled", false, "add the service without starting it")
	} else {
		fs.StringArrayVar(&f.unset, "unset", nil, "remove option KEY (repeatable)")
	}
	fs.StringVar(&f.listen, "listen", "", "listen address HOST:PORT, e.g. :2121 or 127.0.0.1:8081")
	fs.StringVar(&f.tls, "tls", "", "TLS mode (option tls): http/admin on|off; ftp off|explicit|required|implicit|control-only")
	fs.StringVar(&f.cert, "cert", "", "TLS certificate file, PEM (option cert; default <data-dir>/tls/cert.pem)")
	fs.StringVar(&f.key, "key", "", "TLS private key file, PEM (option key)")
	fs.StringVar(&f.passivePorts, "passive-ports", "", "ftp: passive port range LOW-HIGH (option passive_ports)")
	fs.StringVar(&f.publicHost, "public-host", "", "ftp: address PASV announces, IP or host name (option public_host)")
	fs.StringArrayVar(&f.options, "option", nil, "protocol option KEY=VALUE (repeatable; see docs/services.md)")
}

func (f *serviceFlags) apply(fs *pflag.FlagSet, s *ferry.Service) error {
	if fs.Changed("listen") {
		s.Listen = f.listen
	}
	if s.Options == nil {
		s.Options = map[string]string{}
	}
	for _, k := range f.unset {
		delete(s.Options, k)
	}
	for _, kv := range f.options {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usagef("--option %q: expected KEY=VALUE", kv)
		}
		s.Options[k] = v
	}
	for flag, key := range map[string]string{"tls": "tls", "cert": "cert", "key": "key",
		"passive-ports": "passive_ports", "public-host": "public_host"} {
		if fs.Changed(flag) {
			v, _ := fs.GetString(flag)
			if (key == "cert" || key == "key") && v != "" {
				abs, err := filepath.Abs(v)
				if err != nil {
					return usagef("--%s %q: %v", flag, v, err)
				}
				v = abs
			}
			s.Options[key] = v
		}
	}
	if len(s.Options) == 0 {
		s.Options = nil
	}
	return s.Validate()
}

func newServiceCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "service", Short: "Manage services (listeners); a running server applies changes within a second"}
	var af, sf serviceFlags
	add := &cobra.Command{
		Use: "add NAME", Short: "Add a service", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			if af.protocol == "" {
				return usagef("service add: --protocol is required (ftp, sftp, http, admin, ftp-proxy)")
			}
			if af.listen == "" {
				return usagef("service add: --listen is required, e.g. --listen :2121")
			}
			kind, err := ferry.ParseServiceKind(af.protocol)
			if err != nil {
				return err
			}
			return e.withStore(c, func(st *store.Store) error {
				s := &ferry.Service{Name: args[0], Kind: kind, Enabled: !af.disabled}
				if err := af.apply(c.Flags(), s); err != nil {
					return err
				}
				if err := st.CreateService(c.Context(), s); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "service %s added: %s on %s (%s)\n", s.Name, s.Kind, s.Listen, enabledWord(s.Enabled))
				return nil
			})
		},
	}
	af.register(add.Flags(), true)
	set := &cobra.Command{
		Use: "set NAME", Short: "Change a service (it restarts; others are untouched)", Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				s, err := st.GetService(c.Context(), args[0])
				if err != nil {
					return err
				}
				if err := sf.apply(c.Flags(), s); err != nil {
					return err
				}
				if err := st.UpdateService(c.Context(), s); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "service %s updated\n", s.Name)
				return nil
			})
		},
	}
	sf.register(set.Flags(), false)
	c.AddCommand(add, set, newServiceList(e), serviceToggle(e, "start", true), serviceToggle(e, "stop", false),
		&cobra.Command{
			Use: "remove NAME", Aliases: []string{"rm", "del"}, Short: "Remove a service (a running server stops it)", Args: exactArgs(1, "NAME"),
			RunE: func(c *cobra.Command, args []string) error {
				return e.withStore(c, func(st *store.Store) error {
					if err := st.DeleteService(c.Context(), args[0]); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "service %s removed\n", args[0])
					return nil
				})
			},
		})
	return c
}

func enabledWord(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

func serviceToggle(e *env, verb string, enable bool) *cobra.Command {
	return &cobra.Command{
		Use: verb + " NAME", Short: strings.ToUpper(verb[:1]) + verb[1:] + " a service (sets it enabled/disabled in the store)",
		Args: exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(st *store.Store) error {
				s, err := st.GetService(c.Context(), args[0])
				if err != nil {
					return err
				}
				s.Enabled = enable
				if err := st.UpdateService(c.Context(), s); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "service %s %s\n", s.Name, enabledWord(enable))
				return nil
			})
		},
	}
}

// serviceRow is what `service list --json` prints: the definition plus the
// live state when a server answers on the control socket.
type serviceRow struct {
	*ferry.Service
	State    string `json:"state"`
	Address  string `json:"address,omitempty"`
	Error    string `json:"error,omitempty"`
	Sessions int    `json:"sessions"`
}

func newServiceList(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use: "list", Short: "List services with their live state when the server runs", Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := e.openApp(c.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			defs, err := a.Store().ListServices(c.Context(), ferry.ListOptions{})
			if err != nil {
				return err
			}
			live := map[string]control.ServiceStatus{}
			ctx, cancel := context.WithTimeout(c.Context(), 3*time.Second)
			defer cancel()
			if rep, err := control.Call(ctx, app.ControlSocket(a.Config()), control.Request{Op: "status"}); err == nil && rep.Status != nil {
				for _, s := range rep.Status.Services {
					live[s.Name] = s
				}
			}
			rows := make([]serviceRow, 0, len(defs))
			for _, d := range defs {
				r := serviceRow{Service: d, State: "not running"}
				if s, ok := live[d.Name]; ok {
					r.State, r.Address, r.Error, r.Sessions = s.State, s.Address, s.Error, s.Sessions
				} else if !d.Enabled {
					r.State = "disabled"
				}
				rows = append(rows, r)
			}
			if asJSON {
				return writeJSON(e.stdout, rows)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPROTOCOL\tLISTEN\tSTATE\tADDRESS\tSESSIONS\tOPTIONS")
			for _, r := range rows {
				state := r.State
				if r.Error != "" {
					state += ": " + r.Error
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.Name, r.Kind, r.Listen, state, r.Address, r.Sessions, optionsString(r.Options))
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func optionsString(o map[string]string) string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + o[k]
	}
	return strings.Join(parts, " ")
}
