// Package config is the schema of ferry.yaml — the process settings that are
// not in the store — with defaults, strict decoding (an unknown key is an
// error with its line) and field-named validation. Only app and cli import
// it; config types stop at app.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole file.
type Config struct {
	// DataDir holds the store, host keys, TLS material and user files.
	DataDir string `yaml:"data_dir"`
	// Node names this server in logs and events (default: the host name).
	Node  string `yaml:"node"`
	Store Store  `yaml:"store"`
	Log   Log    `yaml:"log"`
	Users Users  `yaml:"users"`
	// Services tunes how services run (not which: those are in the store).
	Services Services `yaml:"services"`
	Defender Defender `yaml:"defender"`
	Limits   Limits   `yaml:"limits"`
	// TransferLogs are files (or stdout, syslog) each transfer is written
	// to, one line per event, in a standard format (docs/events.md).
	TransferLogs []TransferLog `yaml:"transfer_logs"`
	// AuditLog, when its path is set, records admin changes as JSON lines.
	AuditLog AuditLog `yaml:"audit_log"`
	Uploads  Uploads  `yaml:"uploads"`
}

// Uploads tunes how uploads are received.
type Uploads struct {
	// Checksum is auto (default: each upload's SHA-256 is computed as its
	// bytes arrive and put in the upload event, except plain uploads that
	// the kernel splices from a socket to the file), sha256 (always, at the
	// cost of splice) or none.
	Checksum string `yaml:"checksum"`
}

// TransferLog is one transfer log.
type TransferLog struct {
	Format string `yaml:"format"` // xferlog, clf, w3c or json
	Path   string `yaml:"path"`   // a file, stdout or syslog
	Rotate Rotate `yaml:"rotate"`
}

// AuditLog is the JSON lines log of admin changes.
type AuditLog struct {
	Path   string `yaml:"path"` // a file, stdout or syslog; empty: off
	Rotate Rotate `yaml:"rotate"`
}

// Rotate says when a log file is renamed aside and a new one started.
type Rotate struct {
	MaxSize Size `yaml:"max_size"` // rotate past this size (0: never)
	Daily   bool `yaml:"daily"`    // rotate at midnight (local time)
	Keep    int  `yaml:"keep"`     // rotated files kept (0: all)
}

// Size is a byte count written as 1048576, 512K, 100M or 2G (powers of
// 1024).
type Size int64

// UnmarshalYAML parses a size with an optional K, M, G or T suffix.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	var str string
	if err := n.Decode(&str); err != nil {
		return fmt.Errorf("line %d: expected a size like 100M", n.Line)
	}
	v, err := ParseSize(str)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = Size(v)
	return nil
}

// ParseSize parses 1048576, 512K, 100M, 2G or 1T (also KB, MB, GB, TB,
// KiB…; all powers of 1024).
func ParseSize(str string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(str))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if t != "" {
		if i := strings.IndexByte("KMGT", t[len(t)-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 || v > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size (examples: 1048576, 512K, 100M, 2G)", str)
	}
	return v * mult, nil
}

// Defender configures the brute-force defender.
type Defender struct {
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled"`
	// Threshold failures scored within Window ban an address (10 in 5m).
	Threshold int      `yaml:"threshold"`
	Window    Duration `yaml:"window"`
	// BanTime is the first ban; repeat offences double it up to MaxBanTime
	// (15m, 24h).
	BanTime    Duration `yaml:"ban_time"`
	MaxBanTime Duration `yaml:"max_ban_time"`
	// SafeList networks are never banned.
	SafeList []string `yaml:"safe_list"`
	// FailureDelay is waited before any failed login answers (1s).
	FailureDelay Duration `yaml:"failure_delay"`
}

// Limits apply to the whole server.
type Limits struct {
	MaxSessions      int      `yaml:"max_sessions"`        // 0: unlimited
	MaxSessionsPerIP int      `yaml:"max_sessions_per_ip"` // 0: unlimited
	AllowCIDRs       []string `yaml:"allow_cidrs"`         // empty: everyone
	DenyCIDRs        []string `yaml:"deny_cidrs"`
	// MinFreePercent refuses uploads when the storage is fuller (0: off).
	MinFreePercent int `yaml:"min_free_percent"`
	// BandwidthUp and BandwidthDown cap the whole server, bytes/s (0: off).
	BandwidthUp   int64 `yaml:"bandwidth_up"`
	BandwidthDown int64 `yaml:"bandwidth_down"`
	// LoginsPerMinute limits login attempts per source address (0: off).
	LoginsPerMinute int `yaml:"logins_per_minute"`
}

// Store selects the database.
type Store struct {
	// DSN is a SQLite path (default <data_dir>/ferry.db) or a
	// postgres:// URL.
	DSN string `yaml:"dsn"`
}

// Log configures log/slog output.
type Log struct {
	Format string `yaml:"format"` // text (default) or json
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	File   string `yaml:"file"`   // default: standard error
}

// Users holds defaults for accounts.
type Users struct {
	// HomeRoot is where homes go when `user add` has no --home (default
	// <data_dir>/files); a user's home is HomeRoot/NAME.
	HomeRoot string `yaml:"home_root"`
	// CreateHome creates a missing home directory at login (default true).
	CreateHome *bool `yaml:"create_home"`
	// PasswordCacheSize and PasswordCacheTTL bound the cache of recently
	// verified passwords (defaults 1024 and 10m; size 0 keeps the default,
	// -1 disables it).
	PasswordCacheSize int      `yaml:"password_cache_size"`
	PasswordCacheTTL  Duration `yaml:"password_cache_ttl"`
	// HomeTemplate is the default home of `user add`, with ${user} and
	// ${group} (the first --group) replaced; default <home_root>/${user}.
	HomeTemplate string `yaml:"home_template"`
	// HomeDirs are created inside each home at login, e.g. [in, out].
	HomeDirs []string `yaml:"home_dirs"`
	// PasswordMinLength applies to new passwords set by the CLI and API.
	PasswordMinLength int `yaml:"password_min_length"`
	// PasswordBlocklist is a file of refused passwords, one per line, in
	// clear or as upper-case SHA-1 hex (as breached-password lists ship).
	PasswordBlocklist string `yaml:"password_blocklist"`
}

// Services tunes the service manager.
type Services struct {
	// PollInterval is how often the server looks for store changes made
	// elsewhere (default 1s).
	PollInterval Duration `yaml:"poll_interval"`
	// ShutdownGrace is how long shutdown waits for transfers (default 30s).
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	// StopGrace is how long the sessions of a service stopped, removed or
	// restarted while the server runs may go on after its listener closes
	// before they are disconnected (default 30s; "0s" is not allowed: use
	// 1ms to cut them at once).
	StopGrace Duration `yaml:"stop_grace"`
}

// Duration is a time.Duration written as "10s", "5m".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: expected a duration like 10s or 5m", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration (examples: 500ms, 10s, 5m)", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ErrInvalid marks configuration errors (exit code 2).
var ErrInvalid = errors.New("invalid configuration")

// Load reads and validates a file. A missing file is an error.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML strictly; it does not apply defaults.
func Parse(r io.Reader) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks every field and names the first wrong one.
func (c *Config) Validate() error {
	switch c.Log.Format {
	case "", "text", "json":
	default:
		return fmt.Errorf("%w: log.format %q: accepted values are text, json", ErrInvalid, c.Log.Format)
	}
	switch c.Log.Level {
	case "", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("%w: log.level %q: accepted values are debug, info, warn, error", ErrInvalid, c.Log.Level)
	}
	if dsn := c.Store.DSN; dsn != "" && strings.Contains(dsn, "://") &&
		!strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return fmt.Errorf("%w: store.dsn: accepted values are a SQLite file path or a postgres:// URL", ErrInvalid)
	}
	if c.Users.PasswordCacheSize < -1 {
		return fmt.Errorf("%w: users.password_cache_size %d: must be -1 (off), 0 (default) or positive", ErrInvalid, c.Users.PasswordCacheSize)
	}
	if c.Defender.Threshold < 0 {
		return fmt.Errorf("%w: defender.threshold %d: must be positive", ErrInvalid, c.Defender.Threshold)
	}
	for key, list := range map[string][]string{"defender.safe_list": c.Defender.SafeList,
		"limits.allow_cidrs": c.Limits.AllowCIDRs, "limits.deny_cidrs": c.Limits.DenyCIDRs} {
		for _, cidr := range list {
			if _, err := netip.ParsePrefix(cidr); err != nil {
				if _, err := netip.ParseAddr(cidr); err != nil {
					return fmt.Errorf("%w: %s: %q is not an address or network like 192.0.2.0/24", ErrInvalid, key, cidr)
				}
			}
		}
	}
	for key, n := range map[string]int{"limits.max_sessions": c.Limits.MaxSessions, "limits.max_sessions_per_ip": c.Limits.MaxSessionsPerIP} {
		if n < 0 {
			return fmt.Errorf("%w: %s %d: must be 0 (unlimited) or more", ErrInvalid, key, n)
		}
	}
	for _, d := range c.Users.HomeDirs {
		if d == "" || strings.HasPrefix(d, "/") || strings.Contains(d, "..") {
			return fmt.Errorf("%w: users.home_dirs: %q must be a relative directory like in or out/archive", ErrInvalid, d)
		}
	}
	if t := c.Users.HomeTemplate; t != "" && !strings.Contains(t, "${user}") {
		return fmt.Errorf("%w: users.home_template %q: must contain ${user}", ErrInvalid, t)
	}
	if c.Users.PasswordMinLength < 0 || c.Limits.LoginsPerMinute < 0 || c.Limits.BandwidthUp < 0 || c.Limits.BandwidthDown < 0 {
		return fmt.Errorf("%w: users.password_min_length, limits.logins_per_minute and limits.bandwidth_*: must be 0 (off) or more", ErrInvalid)
	}
	if p := c.Limits.MinFreePercent; p < 0 || p > 99 {
		return fmt.Errorf("%w: limits.min_free_percent %d: must be 0 (off) to 99", ErrInvalid, p)
	}
	if d := c.Services.PollInterval.D(); d != 0 && d < 100*time.Millisecond {
		return fmt.Errorf("%w: services.poll_interval %s: must be at least 100ms", ErrInvalid, d)
	}
	for i, l := range c.TransferLogs {
		key := fmt.Sprintf("transfer_logs[%d]", i)
		switch l.Format {
		case "xferlog", "clf", "w3c", "json":
		default:
			return fmt.Errorf("%w: %s.format %q: accepted values are xferlog, clf, w3c, json", ErrInvalid, key, l.Format)
		}
		if l.Path == "" {
			return fmt.Errorf("%w: %s.path: required (a file path, stdout or syslog)", ErrInvalid, key)
		}
		if err := l.Rotate.validate(key); err != nil {
			return err
		}
	}
	switch c.Uploads.Checksum {
	case "", "auto", "sha256", "none":
	default:
		return fmt.Errorf("%w: uploads.checksum %q: accepted values are auto, sha256, none", ErrInvalid, c.Uploads.Checksum)
	}
	return c.AuditLog.Rotate.validate("audit_log")
}

func (r Rotate) validate(key string) error {
	if r.Keep < 0 || r.MaxSize < 0 {
		return fmt.Errorf("%w: %s.rotate: keep and max_size must not be negative", ErrInvalid, key)
	}
	return nil
}

// ApplyDefaults fills unset fields; dataDir (from flag or environment)
// overrides the file's data_dir when not empty.
func (c *Config) ApplyDefaults(dataDir string) error {
	if dataDir != "" {
		c.DataDir = dataDir
	}
	if c.DataDir == "" {
		c.DataDir = "ferry-data"
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("%w: data_dir %q: %v", ErrInvalid, c.DataDir, err)
	}
	c.DataDir = abs
	if c.Store.DSN == "" {
		c.Store.DSN = filepath.Join(c.DataDir, "ferry.db")
	}
	if c.Node == "" {
		c.Node, _ = os.Hostname()
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Users.HomeRoot == "" {
		c.Users.HomeRoot = filepath.Join(c.DataDir, "files")
	}
	if !filepath.IsAbs(c.Users.HomeRoot) {
		c.Users.HomeRoot = filepath.Join(c.DataDir, c.Users.HomeRoot)
	}
	if c.Users.CreateHome == nil {
		t := true
		c.Users.CreateHome = &t
	}
	if c.Users.PasswordCacheTTL == 0 {
		c.Users.PasswordCacheTTL = Duration(10 * time.Minute)
	}
	if c.Services.PollInterval == 0 {
		c.Services.PollInterval = Duration(time.Second)
	}
	if c.Defender.Enabled == nil {
		t := true
		c.Defender.Enabled = &t
	}
	if c.Defender.FailureDelay == 0 {
		c.Defender.FailureDelay = Duration(time.Second)
	}
	if c.Services.ShutdownGrace == 0 {
		c.Services.ShutdownGrace = Duration(30 * time.Second)
	}
	if c.Services.StopGrace == 0 {
		c.Services.StopGrace = Duration(30 * time.Second)
	}
	return nil
}

// Example is a commented ferry.yaml with every key, printed by
// `ferry config example` and shown in docs/configuration.md.
const Example = `# ferry.yaml — process settings. Accounts and services live in the store.
data_dir: ./ferry-data        # or --data-dir / FERRY_DATA_DIR
node: ""                      # default: host name
store:
  dsn: ""                     # default: <data_dir>/ferry.db; or postgres://user:pw@host/db
log:
  format: text                # text | json
  level: info                 # debug | info | warn | error
  file: ""                    # default: standard error
users:
  home_root: ""               # default: <data_dir>/files
  create_home: true           # create a missing home at login
  password_cache_size: 1024   # -1 disables the verified-password cache
  password_cache_ttl: 10m
  home_template: ""           # default home of 'user add': e.g. /srv/ferry/${group}/${user}
  home_dirs: []               # created in every home at login, e.g. [in, out, archive]
  password_min_length: 0      # for new passwords set with the CLI or API
  password_blocklist: ""      # file of refused passwords (clear or SHA-1 hex per line)
services:
  poll_interval: 1s           # how fast store changes (CLI, other nodes) apply
  shutdown_grace: 30s         # how long shutdown waits for transfers
  stop_grace: 30s             # sessions of a stopped/removed/updated service may finish this long
defender:                     # brute-force protection, shared by every service
  enabled: true
  threshold: 10               # scored failures from one address within window…
  window: 5m
  ban_time: 15m               # …ban it this long, doubling on repeat offences
  max_ban_time: 24h
  safe_list: []               # networks never banned, e.g. [10.0.0.0/8]
  failure_delay: 1s           # every failed login waits this long before answering
limits:
  max_sessions: 0             # server-wide; 0: unlimited
  max_sessions_per_ip: 0
  allow_cidrs: []             # when set, only these networks may connect
  deny_cidrs: []
  min_free_percent: 0         # refuse uploads when the storage has less free space
transfer_logs: []             # e.g. - {format: xferlog, path: /var/log/ferry/xferlog, rotate: {max_size: 100M, daily: true, keep: 14}}
                              # format: xferlog | clf | w3c | json; path: FILE | stdout | syslog
audit_log:
  path: ""                    # admin changes as JSON lines: FILE | stdout | syslog; empty: off
uploads:
  checksum: auto              # auto: digest unless splicing | sha256: always | none
`
