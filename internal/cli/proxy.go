package cli

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrymft/ferry/internal/app"
	"github.com/ferrymft/ferry/internal/ftpproxy"
)

// proxyFlags are ferry proxy's flags, named after ftp-proxy(8)'s where
// it has one.
type proxyFlags struct {
	source, bind, reverse, mode          string
	port, minPort, maxPort, debug        int
	timeout                              string
	anonymous, verbose, nat              bool
	runUser, runGroup                    string
	tlsMode, cert, key                   string
	backendTLS, backendVerify, backendCA string
	backendData, publicAddr              string
	allowBackends, denyBackends          string
	allowClients, denyClients            string
	maxConns, maxPerIP                   int
	logFormat                            string
}

func newProxyCmd(e *env) *cobra.Command {
	var f proxyFlags
	c := &cobra.Command{
		Use:   "proxy [flags]",
		Short: "Run a standalone FTP proxy (reverse, forward or transparent), no data directory needed",
		Long: `Run an FTP proxy in the foreground, in the spirit of ftp-proxy(8).

Reverse mode (-R host[:port]) sends every client to one server. Forward mode
(--mode forward) lets the client name the server with USER user@host[:port],
checked against --allow-backends. Transparent mode (the default without -R, as
in ftp-proxy(8)) serves connections redirected by iptables/nftables on Linux.
Every data connection goes through the proxy unless -n is given. See
docs/ftp-proxy.md.`,
		Example: `  ferry proxy -R ftp.internal:21 -p 2121 -m 50000 -M 50100
  ferry proxy --mode forward --allow-backends '*.example.com,10.0.0.0/8' -p 2121 -v
  ferry proxy -b 0.0.0.0 -p 8021 -u nobody -g nogroup   # transparent`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runProxy(c, e, &f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.source, "source-addr", "a", "", "source address for connections to servers")
	fl.StringVarP(&f.bind, "bind", "b", "127.0.0.1", "address to listen on")
	fl.IntVarP(&f.port, "port", "p", 8021, "port to listen on")
	fl.StringVarP(&f.reverse, "reverse", "R", "", "reverse mode: send every client to host[:port]")
	fl.StringVar(&f.mode, "mode", "", "reverse, forward or transparent (default: reverse with -R, else transparent)")
	fl.IntVarP(&f.minPort, "min-port", "m", 0, "lowest data port (default 49152 when -M is set)")
	fl.IntVarP(&f.maxPort, "max-port", "M", 0, "highest data port (default 65535 when -m is set)")
	fl.StringVarP(&f.timeout, "timeout", "t", "", "idle timeout: seconds or a duration such as 15m (default 15m)")
	fl.BoolVarP(&f.anonymous, "anonymous-only", "A", false, "allow only anonymous logins (ftp, anonymous)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log every command and reply (passwords masked)")
	fl.BoolVarP(&f.nat, "nat", "n", false, "NAT mode: leave passive data connections direct")
	fl.IntVarP(&f.debug, "debug", "D", 5, "log level 0-7 as syslog: 3 errors, 4 warnings, 5-6 info, 7 debug")
	fl.StringVarP(&f.runUser, "user", "u", "", "user to run as after binding, when started as root")
	fl.StringVarP(&f.runGroup, "group", "g", "", "group to run as after binding (default: the user's group)")
	fl.StringVar(&f.tlsMode, "tls", "", "AUTH TLS toward clients: off, explicit, required (default explicit with --cert, else off)")
	fl.StringVar(&f.cert, "cert", "", "PEM certificate for AUTH TLS")
	fl.StringVar(&f.key, "key", "", "PEM private key for AUTH TLS")
	fl.StringVar(&f.backendTLS, "backend-tls", "auto", "TLS toward servers: auto, on, off")
	fl.StringVar(&f.backendVerify, "backend-tls-verify", "on", "verify servers' certificates: on, off")
	fl.StringVar(&f.backendCA, "backend-ca", "", "PEM file of CAs to verify servers with")
	fl.StringVar(&f.backendData, "backend-data", "mirror", "data connections toward servers: mirror, passive, active")
	fl.StringVar(&f.publicAddr, "public-addr", "", "address announced in PASV replies (the proxy behind NAT)")
	fl.StringVar(&f.allowBackends, "allow-backends", "", "servers clients may reach: hosts, *.domains, CIDRs, with :port; * for any")
	fl.StringVar(&f.denyBackends, "deny-backends", "", "servers clients may not reach (wins over allow)")
	fl.StringVar(&f.allowClients, "allow-clients", "", "client addresses/CIDRs allowed (default all)")
	fl.StringVar(&f.denyClients, "deny-clients", "", "client addresses/CIDRs refused")
	fl.IntVar(&f.maxConns, "max-connections", 0, "maximum concurrent sessions (0: no limit)")
	fl.IntVar(&f.maxPerIP, "max-connections-per-ip", 0, "maximum concurrent sessions per client address (0: no limit)")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	return c
}

// options maps the flags onto the ftp-proxy service option keys, so the
// service and the command share one parser.
func (f *proxyFlags) options() (map[string]string, error) {
	o := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			o[k] = v
		}
	}
	mode := f.mode
	if mode == "" {
		mode = "transparent"
		if f.reverse != "" {
			mode = "reverse"
		}
	}
	set("mode", mode)
	set("backend", f.reverse)
	set("source_addr", f.source)
	if f.minPort != 0 || f.maxPort != 0 {
		lo, hi := f.minPort, f.maxPort
		if lo == 0 {
			lo = 49152
		}
		if hi == 0 {
			hi = 65535
		}
		o["data_ports"] = fmt.Sprintf("%d-%d", lo, hi)
	}
	if f.timeout != "" {
		if n, err := strconv.Atoi(f.timeout); err == nil {
			o["idle_timeout"] = (time.Duration(n) * time.Second).String()
		} else {
			o["idle_timeout"] = f.timeout
		}
	}
	onOff := map[bool]string{true: "on", false: ""}
	set("anonymous_only", onOff[f.anonymous])
	set("verbose", onOff[f.verbose])
	set("nat", onOff[f.nat])
	set("tls", f.tlsMode)
	set("cert", f.cert)
	set("key", f.key)
	set("backend_tls", f.backendTLS)
	set("backend_tls_verify", f.backendVerify)
	set("backend_ca", f.backendCA)
	set("backend_data", f.backendData)
	set("public_addr", f.publicAddr)
	set("allow_backends", f.allowBackends)
	set("deny_backends", f.denyBackends)
	set("allow_clients", f.allowClients)
	set("deny_clients", f.denyClients)
	if f.maxConns != 0 {
		o["max_connections"] = strconv.Itoa(f.maxConns)
	}
	if f.maxPerIP != 0 {
		o["max_connections_per_ip"] = strconv.Itoa(f.maxPerIP)
	}
	if (f.cert == "") != (f.key == "") {
		return nil, errors.New("--cert and --key go together")
	}
	return o, nil
}

func runProxy(c *cobra.Command, e *env, f *proxyFlags) error {
	if f.debug < 0 || f.debug > 7 {
		return usagef("ferry proxy: -D %d: accepted values are 0-7", f.debug)
	}
	o, err := f.options()
	if err != nil {
		return usagef("ferry proxy: %v", err)
	}
	defTLS := "off"
	if f.cert != "" {
		defTLS = "explicit"
	}
	certs := app.NewCerts()
	opts, err := app.ProxyOptions(o, defTLS, func(cert, key string) (*tls.Config, error) {
		if cert == "" {
			return nil, errors.New("--tls needs --cert and --key")
		}
		return certs.Config(cert, key)
	})
	if err != nil {
		return usagef("ferry proxy: %v", err)
	}
	hopts := &slog.HandlerOptions{Level: app.ProxyLogLevel(f.debug)}
	log := slog.New(slog.NewTextHandler(e.stderr, hopts))
	if f.logFormat == "json" {
		log = slog.New(slog.NewJSONHandler(e.stderr, hopts))
	} else if f.logFormat != "text" {
		return usagef("ferry proxy: --log-format %q: accepted values are text, json", f.logFormat)
	}
	opts.Logger = log
	opts.Service = "proxy"
	p, err := ftpproxy.New(opts)
	if err != nil {
		return usagef("ferry proxy: %v", err)
	}
	addr := net.JoinHostPort(f.bind, strconv.Itoa(f.port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	if err := dropPrivileges(f.runUser, f.runGroup); err != nil {
		ln.Close()
		return err
	}
	if os.Geteuid() == 0 {
		log.Warn("running as root; use -u and -g to drop privileges after binding")
	}
	log.Info("ftp proxy listening", "addr", ln.Addr().String(), "mode", opts.Mode.String(), "backend", opts.Backend)
	ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		for {
			select {
			case <-hup:
				if err := certs.Reload(); err != nil {
					log.Error("reload certificates", "err", err)
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return p.Serve(ctx, ln)
}

// dropPrivileges switches to user and group (names or numbers) when the
// process runs as root; asking for it as another user is an error.
func dropPrivileges(userName, groupName string) error {
	if userName == "" && groupName == "" {
		return nil
	}
	if os.Geteuid() != 0 {
		return usagef("ferry proxy: -u/-g need the proxy to be started as root")
	}
	uid, gid := -1, -1
	if userName != "" {
		u, err := user.Lookup(userName)
		if err != nil {
			if u, err = user.LookupId(userName); err != nil {
				return usagef("ferry proxy: -u %s: no such user", userName)
			}
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil {
			if g, err = user.LookupGroupId(groupName); err != nil {
				return usagef("ferry proxy: -g %s: no such group", groupName)
			}
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	if gid >= 0 {
		if err := syscall.Setgroups([]int{gid}); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setgid(gid); err != nil {
			return fmt.Errorf("setgid %d: %w", gid, err)
		}
	}
	if uid >= 0 {
		if err := syscall.Setuid(uid); err != nil {
			return fmt.Errorf("setuid %d: %w", uid, err)
		}
	}
	return nil
}
