package app

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/frontend/ftpd"
	"github.com/ferrymft/ferry/internal/servicemgr"
)

// ftpOptionKeys are the option keys an ftp service accepts (docs/ftp.md).
var ftpOptionKeys = []string{
	"active", "active_ip_check", "active_port20", "banner", "banner_file", "cert", "cert_login", "client_ca",
	"client_certs", "client_crl", "data_timeout", "idle_timeout",
	"ignore_ascii", "key", "login_message", "login_timeout", "max_connections", "max_connections_per_ip",
	"passive_ip_check", "passive_ports", "proxy_protocol", "proxy_trusted", "public_host", "public_host_for", "session_reuse",
	"show_user_count", "site_symlink", "tls",
}

// ftpFactory builds an FTP/FTPS service from its definition.
func (a *App) ftpFactory(svc ferry.Service) (servicemgr.Runner, error) {
	for k := range svc.Options {
		if !slices.Contains(ftpOptionKeys, k) {
			return nil, fmt.Errorf("option %q: unknown for an ftp service; accepted keys are %s",
				k, strings.Join(ftpOptionKeys, ", "))
		}
	}
	o := svc.Options
	opts := ftpd.Options{Engine: a.eng, Service: svc.Name, Logger: a.log.With(ferry.LogService, svc.Name),
		Banner: unescapeNewlines(o["banner"]), LoginMessage: unescapeNewlines(o["login_message"]),
		PublicHost: o["public_host"]}
	var err error
	if v := o["banner_file"]; v != "" {
		if !filepath.IsAbs(v) {
			return nil, fmt.Errorf("option banner_file: %q: accepted values are absolute paths of readable text files", v)
		}
		if _, err := os.Stat(v); err != nil {
			return nil, fmt.Errorf("option banner_file: %w", err)
		}
		opts.BannerFile = v
	}
	if opts.TLSMode, err = ftpd.ParseTLSMode(o["tls"]); err != nil {
		return nil, fmt.Errorf("option %w", err)
	}
	if opts.TLSMode != ftpd.TLSOff {
		cert, key := o["cert"], o["key"]
		if cert == "" {
			cert = filepath.Join(a.cfg.DataDir, "tls", "cert.pem")
		}
		if key == "" {
			key = filepath.Join(a.cfg.DataDir, "tls", "key.pem")
		}
		if opts.TLS, err = a.certs.Config(cert, key); err != nil {
			return nil, err
		}
	}
	trust, err := a.ftpClientCerts(o, &opts)
	if err != nil {
		return nil, err
	}
	switch v := o["session_reuse"]; v {
	case "", "required":
	case "off":
		opts.NoSessionReuse = true
	default:
		return nil, fmt.Errorf("option session_reuse: %q: accepted values are required, off", v)
	}
	if v := o["passive_ports"]; v != "" {
		lo, hi, ok := strings.Cut(v, "-")
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if !ok || err1 != nil || err2 != nil || l < 1024 || h > 65535 || l > h {
			return nil, fmt.Errorf("option passive_ports: %q: accepted values are LOW-HIGH within 1024-65535, e.g. 50000-50100", v)
		}
		opts.PassiveLow, opts.PassiveHigh = l, h
	}
	if v := o["public_host_for"]; v != "" {
		for _, item := range splitList(v) {
			cidr, host, ok := strings.Cut(item, "=")
			p, err := netip.ParsePrefix(cidr)
			if !ok || err != nil || host == "" {
				return nil, fmt.Errorf("option public_host_for: %q: accepted values are CIDR=HOST pairs separated by commas, e.g. 10.0.0.0/8=10.0.0.5", item)
			}
			opts.PublicHostFor = append(opts.PublicHostFor, ftpd.NetHost{Prefix: p.Masked(), Host: host})
		}
	}
	bools := []struct {
		key  string
		dst  *bool
		want bool // the option value that sets dst
	}{
		{"active", &opts.DisableActive, false},
		{"active_ip_check", &opts.AllowForeignActive, false},
		{"passive_ip_check", &opts.AllowForeignPassive, false},
		{"active_port20", &opts.ActivePort20, true},
		{"ignore_ascii", &opts.IgnoreASCII, true},
		{"site_symlink", &opts.AllowSiteSymlink, true},
		{"show_user_count", &opts.ShowUserCount, true},
		{"proxy_protocol", &opts.ProxyProtocol, true},
	}
	for _, b := range bools {
		v, ok := o[b.key]
		if !ok || v == "" {
			continue
		}
		on, err := parseOnOff(v)
		if err != nil {
			return nil, fmt.Errorf("option %s: %q: accepted values are on, off", b.key, v)
		}
		*b.dst = on == b.want
	}
	for _, item := range splitList(o["proxy_trusted"]) {
		p, err := ferry.ParseCIDR(item)
		if err != nil {
			return nil, fmt.Errorf("option proxy_trusted: %q: accepted values are addresses or networks separated by commas, e.g. 10.0.0.5,192.0.2.0/24", item)
		}
		opts.ProxyTrusted = append(opts.ProxyTrusted, p)
	}
	if opts.ProxyProtocol && len(opts.ProxyTrusted) == 0 {
		return nil, fmt.Errorf("option proxy_protocol: on needs proxy_trusted, the addresses of the proxies allowed to send PROXY headers (e.g. proxy_trusted=10.0.0.5)")
	}
	if opts.MaxConns, err = intOption(o, "max_connections", 1, 1000000); err != nil {
		return nil, err
	}
	if opts.MaxConnsPerIP, err = intOption(o, "max_connections_per_ip", 1, 1000000); err != nil {
		return nil, err
	}
	for key, dst := range map[string]*time.Duration{"idle_timeout": &opts.IdleTimeout,
		"login_timeout": &opts.LoginTimeout, "data_timeout": &opts.DataTimeout} {
		if *dst, err = durationOption(o, key); err != nil {
			return nil, err
		}
	}
	srv, err := ftpd.New(opts)
	if err != nil {
		return nil, err
	}
	if trust == nil {
		return srv, nil
	}
	return trustedRunner{Server: srv, certs: a.certs, trust: trust}, nil
}

// ftpClientCerts reads client_certs, client_ca, client_crl and cert_login;
// the trust it returns (nil when client certificates are off) is reloaded
// with the certificates.
func (a *App) ftpClientCerts(o map[string]string, opts *ftpd.Options) (*clientTrust, error) {
	switch v := o["client_certs"]; v {
	case "", "off":
	case "optional":
		opts.ClientCerts = ftpd.ClientCertOptional
	case "required":
		opts.ClientCerts = ftpd.ClientCertRequired
	default:
		return nil, fmt.Errorf("option client_certs: %q: accepted values are off, optional, required", v)
	}
	switch v := o["cert_login"]; v {
	case "", "off":
	case "cert":
		opts.CertLogin = ftpd.CertLoginCert
	case "cert+password":
		opts.CertLogin = ftpd.CertLoginCertPassword
	default:
		return nil, fmt.Errorf("option cert_login: %q: accepted values are off, cert, cert+password", v)
	}
	if opts.ClientCerts == ftpd.ClientCertOff {
		if opts.CertLogin != ftpd.CertLoginOff {
			return nil, fmt.Errorf("option cert_login: needs client_certs=optional or required")
		}
		if o["client_crl"] != "" {
			return nil, fmt.Errorf("option client_crl: needs client_certs=optional or required")
		}
		return nil, nil
	}
	if opts.TLSMode == ftpd.TLSOff {
		return nil, fmt.Errorf("option client_certs: needs tls other than off")
	}
	ca := o["client_ca"]
	if ca == "" {
		return nil, fmt.Errorf("option client_ca: client_certs=%s needs client_ca, a PEM file of the CA certificates client certificates must chain to", o["client_certs"])
	}
	trust, err := newClientTrust(opts.Service, ca, o["client_crl"], opts.Logger)
	if err != nil {
		return nil, err
	}
	opts.ClientCAPool = trust.Pool
	if o["client_crl"] != "" {
		opts.ClientCRLs, opts.ClientCRLFile = trust.CRLs, o["client_crl"]
	}
	return trust, nil
}

// trustedRunner serves an FTP service whose client CAs and CRLs Reload
// re-reads while it serves (not while it is only built, to check options).
type trustedRunner struct {
	*ftpd.Server
	certs *Certs
	trust *clientTrust
}

func (r trustedRunner) Serve(ctx context.Context, ln net.Listener) error {
	defer r.certs.watch(r.trust)()
	return r.Server.Serve(ctx, ln)
}

// unescapeNewlines turns the two characters \n into a line break, so
// multi-line messages can be given on one command line.
func unescapeNewlines(s string) string { return strings.ReplaceAll(s, `\n`, "\n") }

func parseOnOff(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "yes", "true", "1":
		return true, nil
	case "off", "no", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not on or off", v)
}
