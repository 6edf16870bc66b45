package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/frontend/sshd"
	"github.com/ferrymft/ferry/internal/servicemgr"
)

// sftpOptionKeys are the option keys an sftp service accepts (docs/sftp.md).
var sftpOptionKeys = []string{
	"auth_methods", "banner", "ciphers", "host_keys", "keepalive", "kex", "login_grace",
	"macs", "max_auth_tries", "max_requests", "max_sessions",
}

// sftpFactory builds the SSH service (SFTP and SCP) from its definition.
func (a *App) sftpFactory(svc ferry.Service) (servicemgr.Runner, error) {
	opts := sshd.Options{Engine: a.eng, Logger: a.log.With(ferry.LogService, svc.Name), Service: svc.Name}
	for k := range svc.Options {
		if !slices.Contains(sftpOptionKeys, k) {
			return nil, fmt.Errorf("option %q: unknown for an sftp service; accepted keys are %s",
				k, strings.Join(sftpOptionKeys, ", "))
		}
	}
	o := svc.Options
	var err error
	if opts.HostKeys, err = loadHostKeys(a.cfg.DataDir, o["host_keys"]); err != nil {
		return nil, err
	}
	supported, insecure := ssh.SupportedAlgorithms(), ssh.InsecureAlgorithms()
	if opts.KeyExchanges, err = algoList("kex", o["kex"], supported.KeyExchanges, insecure.KeyExchanges); err != nil {
		return nil, err
	}
	if opts.Ciphers, err = algoList("ciphers", o["ciphers"], supported.Ciphers, insecure.Ciphers); err != nil {
		return nil, err
	}
	if opts.MACs, err = algoList("macs", o["macs"], supported.MACs, insecure.MACs); err != nil {
		return nil, err
	}
	if v := o["auth_methods"]; v != "" {
		for _, m := range splitList(v) {
			if !slices.Contains(sshd.AuthMethods, m) {
				return nil, fmt.Errorf("option auth_methods: %q: accepted values are %s", m, strings.Join(sshd.AuthMethods, ", "))
			}
			opts.AuthMethods = append(opts.AuthMethods, m)
		}
	}
	opts.Banner = o["banner"]
	if opts.MaxAuthTries, err = intOption(o, "max_auth_tries", 1, 100); err != nil {
		return nil, err
	}
	if opts.MaxChannels, err = intOption(o, "max_sessions", 1, 1000); err != nil {
		return nil, err
	}
	if opts.MaxRequests, err = intOption(o, "max_requests", 1, 1024); err != nil {
		return nil, err
	}
	if opts.LoginGrace, err = durationOption(o, "login_grace"); err != nil {
		return nil, err
	}
	if opts.Keepalive, err = durationOption(o, "keepalive"); err != nil {
		return nil, err
	}
	if v, ok := o["keepalive"]; ok && opts.Keepalive == 0 && v != "" {
		opts.Keepalive = -1 // "0" disables
	}
	return sshd.New(opts)
}

// loadHostKeys reads the host keys: the listed files, or the default ones
// under <data-dir>/hostkeys that exist, in HostKeyFiles order.
func loadHostKeys(dataDir, list string) ([]ssh.Signer, error) {
	var files []string
	explicit := list != ""
	if explicit {
		files = splitList(list)
	} else {
		for _, name := range HostKeyFiles {
			files = append(files, filepath.Join(dataDir, "hostkeys", name))
		}
	}
	var keys []ssh.Signer
	for _, f := range files {
		pemBytes, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) && !explicit {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("option host_keys: %w", err)
		}
		k, err := ssh.ParsePrivateKey(pemBytes)
		if err != nil {
			return nil, fmt.Errorf("option host_keys: %s: %w", f, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("option host_keys: no host key in %s (run `ferry init` or list key files)",
			filepath.Join(dataDir, "hostkeys"))
	}
	return keys, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func algoList(key, v string, supported, insecure []string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	all := append(slices.Clone(supported), insecure...)
	var out []string
	for _, a := range splitList(v) {
		if !slices.Contains(all, a) {
			sort.Strings(all)
			return nil, fmt.Errorf("option %s: %q: accepted values are %s", key, a, strings.Join(all, ", "))
		}
		out = append(out, a)
	}
	return out, nil
}

func intOption(o map[string]string, key string, lo, hi int) (int, error) {
	v, ok := o[key]
	if !ok || v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("option %s: %q: accepted values are integers from %d to %d", key, v, lo, hi)
	}
	return n, nil
}

func durationOption(o map[string]string, key string) (time.Duration, error) {
	v, ok := o[key]
	if !ok || v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("option %s: %q: accepted values are durations such as 30s or 2m (0 disables)", key, v)
	}
	return d, nil
}
