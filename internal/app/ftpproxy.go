package app

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ftpproxy"
	"github.com/ferrymft/ferry/internal/servicemgr"
)

// ProxyOptionKeys are the option keys an ftp-proxy service accepts
// (docs/ftp-proxy.md); `ferry proxy` maps its flags onto the same keys.
var ProxyOptionKeys = []string{
	"allow_backends", "allow_clients", "anonymous_only", "backend", "backend_ca", "backend_data",
	"backend_tls", "backend_tls_verify", "banner", "cert", "data_ports", "data_timeout",
	"deny_backends", "deny_clients", "dial_timeout", "idle_timeout", "key", "max_connections",
	"max_connections_per_ip", "mode", "nat", "public_addr", "source_addr", "tls", "verbose",
}

// ftpProxyFactory builds an FTP proxy service from its definition.
func (a *App) ftpProxyFactory(svc ferry.Service) (servicemgr.Runner, error) {
	tlsFor := func(cert, key string) (*tls.Config, error) {
		if cert == "" {
			cert = filepath.Join(a.cfg.DataDir, "tls", "cert.pem")
		}
		if key == "" {
			key = filepath.Join(a.cfg.DataDir, "tls", "key.pem")
		}
		return a.certs.Config(cert, key)
	}
	opts, err := ProxyOptions(svc.Options, "explicit", tlsFor)
	if err != nil {
		return nil, err
	}
	opts.Service = svc.Name
	opts.Logger = a.log.With(ferry.LogService, svc.Name)
	if a.def != nil {
		opts.Banned = a.def.Banned
	}
	opts.Report = a.eng.Report
	opts.Events = a.bus.Publish
	return ftpproxy.New(opts)
}

// ProxyOptions translates ftp-proxy option keys into ftpproxy.Options.
// defTLS is the tls value when the key is missing; tlsFor loads the
// proxy's certificate (empty names: the defaults).
func ProxyOptions(o map[string]string, defTLS string, tlsFor func(cert, key string) (*tls.Config, error)) (ftpproxy.Options, error) {
	var opts ftpproxy.Options
	for k := range o {
		if !slices.Contains(ProxyOptionKeys, k) {
			return opts, fmt.Errorf("option %q: unknown for an ftp-proxy service; accepted keys are %s",
				k, strings.Join(ProxyOptionKeys, ", "))
		}
	}
	var err error
	if v := o["mode"]; v != "" {
		if opts.Mode, err = ftpproxy.ParseMode(v); err != nil {
			return opts, fmt.Errorf("option %w", err)
		}
	}
	opts.Backend = o["backend"]
	if opts.Mode == ftpproxy.Reverse && opts.Backend == "" {
		return opts, fmt.Errorf("option backend: required in reverse mode: the server's host[:port], e.g. 10.0.0.5:21")
	}
	for key, dst := range map[string]*[]ftpproxy.HostRule{"allow_backends": &opts.AllowBackends, "deny_backends": &opts.DenyBackends} {
		if *dst, err = ftpproxy.ParseHostRules(o[key]); err != nil {
			return opts, fmt.Errorf("option %s: %w", key, err)
		}
	}
	if opts.Mode == ftpproxy.Forward && len(opts.AllowBackends) == 0 {
		return opts, fmt.Errorf("option allow_backends: required in forward mode: hosts, *.domains or CIDRs with optional :port, or * for any")
	}
	for key, dst := range map[string]*[]netip.Prefix{"allow_clients": &opts.AllowClients, "deny_clients": &opts.DenyClients} {
		if *dst, err = ftpproxy.ParsePrefixes(o[key]); err != nil {
			return opts, fmt.Errorf("option %s: %w; accepted values are addresses and CIDRs separated by commas", key, err)
		}
	}
	for key, dst := range map[string]*netip.Addr{"source_addr": &opts.SourceAddr, "public_addr": &opts.PublicAddr} {
		if v := o[key]; v != "" {
			if *dst, err = netip.ParseAddr(v); err != nil {
				return opts, fmt.Errorf("option %s: %q: accepted values are IP addresses", key, v)
			}
		}
	}
	if v := o["data_ports"]; v != "" {
		lo, hi, ok := strings.Cut(v, "-")
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if !ok || err1 != nil || err2 != nil || l < 1024 || h > 65535 || l > h {
			return opts, fmt.Errorf("option data_ports: %q: accepted values are LOW-HIGH within 1024-65535, e.g. 50000-50100", v)
		}
		opts.PortLow, opts.PortHigh = l, h
	}
	if v := o["backend_data"]; v != "" {
		if opts.BackendData, err = ftpproxy.ParseBackendData(v); err != nil {
			return opts, fmt.Errorf("option %w", err)
		}
	}
	for key, dst := range map[string]*bool{"nat": &opts.NAT, "anonymous_only": &opts.AnonymousOnly, "verbose": &opts.Verbose} {
		if v := o[key]; v != "" {
			if *dst, err = parseOnOff(v); err != nil {
				return opts, fmt.Errorf("option %s: %q: accepted values are on, off", key, v)
			}
		}
	}
	for key, dst := range map[string]*time.Duration{"idle_timeout": &opts.IdleTimeout,
		"data_timeout": &opts.DataTimeout, "dial_timeout": &opts.DialTimeout} {
		if *dst, err = durationOption(o, key); err != nil {
			return opts, err
		}
	}
	if opts.MaxConns, err = intOption(o, "max_connections", 1, 1000000); err != nil {
		return opts, err
	}
	if opts.MaxConnsPerIP, err = intOption(o, "max_connections_per_ip", 1, 1000000); err != nil {
		return opts, err
	}
	opts.Banner = o["banner"]
	if err := proxyTLS(o, defTLS, tlsFor, &opts); err != nil {
		return opts, err
	}
	return opts, nil
}

func proxyTLS(o map[string]string, defTLS string, tlsFor func(cert, key string) (*tls.Config, error), opts *ftpproxy.Options) error {
	mode := o["tls"]
	if mode == "" {
		mode = defTLS
	}
	switch mode {
	case "off":
	case "explicit", "required":
		cfg, err := tlsFor(o["cert"], o["key"])
		if err != nil {
			return fmt.Errorf("option cert/key: %w", err)
		}
		opts.TLS, opts.RequireTLS = cfg, mode == "required"
	default:
		return fmt.Errorf("option tls: %q: accepted values are off, explicit, required", mode)
	}
	var err error
	if v := o["backend_tls"]; v != "" {
		if opts.BackendTLS, err = ftpproxy.ParseBackendTLS(v); err != nil {
			return fmt.Errorf("option %w", err)
		}
	}
	bc := &tls.Config{MinVersion: tls.VersionTLS12}
	if v := o["backend_tls_verify"]; v != "" {
		on, err := parseOnOff(v)
		if err != nil {
			return fmt.Errorf("option backend_tls_verify: %q: accepted values are on, off", v)
		}
		bc.InsecureSkipVerify = !on
	}
	if f := o["backend_ca"]; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("option backend_ca: %w", err)
		}
		bc.RootCAs = x509.NewCertPool()
		if !bc.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("option backend_ca: %s holds no PEM certificate", f)
		}
	}
	opts.BackendTLSConfig = bc
	return nil
}

// ProxyLogLevel maps ftp-proxy(8)'s -D syslog level (0-7) to slog.
func ProxyLogLevel(d int) slog.Level {
	switch {
	case d <= 3:
		return slog.LevelError
	case d == 4:
		return slog.LevelWarn
	case d <= 6:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}
