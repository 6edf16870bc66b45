package app

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/frontend/httpd"
	"github.com/ferrymft/ferry/internal/servicemgr"
)

// httpOptionKeys are the option keys an http service accepts (docs/http.md).
var httpOptionKeys = []string{
	"api", "auth_cache_ttl", "cert", "dav", "dead_props", "key", "lock_max_timeout",
	"propfind_infinity", "tls", "web", "web_idle_timeout",
}

// httpFactory builds an HTTP service (WebDAV, web client, file REST API).
func (a *App) httpFactory(svc ferry.Service) (servicemgr.Runner, error) {
	for k := range svc.Options {
		if !slices.Contains(httpOptionKeys, k) {
			return nil, fmt.Errorf("option %q: unknown for an http service; accepted keys are %s",
				k, strings.Join(httpOptionKeys, ", "))
		}
	}
	o := svc.Options
	opts := httpd.Options{Engine: a.eng, Service: svc.Name, Logger: a.log.With(ferry.LogService, svc.Name)}
	onOff := func(key string, def bool) (bool, error) {
		switch v := o[key]; v {
		case "":
			return def, nil
		case "on":
			return true, nil
		case "off":
			return false, nil
		default:
			return false, fmt.Errorf("option %s: %q: accepted values are on, off", key, v)
		}
	}
	var err error
	for _, b := range []struct {
		key string
		def bool
		dst *bool
	}{
		{"dav", true, &opts.DAV}, {"web", true, &opts.Web}, {"api", true, &opts.API},
		{"propfind_infinity", false, &opts.PropfindInfinity},
	} {
		if *b.dst, err = onOff(b.key, b.def); err != nil {
			return nil, err
		}
	}
	tlsOn, err := onOff("tls", false)
	if err != nil {
		return nil, err
	}
	if tlsOn {
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
	} else if o["cert"] != "" || o["key"] != "" {
		return nil, fmt.Errorf("option cert/key: set only with tls on")
	}
	durations := []struct {
		key       string
		min       time.Duration
		dst       *time.Duration
		zeroMeans time.Duration
	}{
		{"auth_cache_ttl", 0, &opts.AuthCacheTTL, -1},
		{"web_idle_timeout", time.Minute, &opts.WebIdle, 0},
		{"lock_max_timeout", time.Second, &opts.LockMaxTimeout, 0},
	}
	for _, d := range durations {
		v := o[d.key]
		if v == "" {
			continue
		}
		x, err := time.ParseDuration(v)
		if err != nil || x < d.min || (x == 0 && d.zeroMeans == 0) {
			return nil, fmt.Errorf("option %s: %q: accepted values are durations like 30s, 10m, 1h (at least %s)", d.key, v, d.min)
		}
		if x == 0 {
			x = d.zeroMeans
		}
		*d.dst = x
	}
	switch v := o["dead_props"]; v {
	case "", "file":
		opts.PropsDir = filepath.Join(a.cfg.DataDir, "webdav-props", svc.Name)
	case "memory":
	default:
		return nil, fmt.Errorf("option dead_props: %q: accepted values are file, memory", v)
	}
	if !opts.DAV && !opts.Web && !opts.API {
		return nil, fmt.Errorf("options dav, web, api: at least one must be on")
	}
	return httpd.New(opts)
}
