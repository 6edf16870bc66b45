package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, yaml, wantErr string
	}{
		{name: "empty is fine", yaml: ""},
		{name: "example parses", yaml: Example},
		{name: "unknown key names its line", yaml: "log:\n  format: json\n  colour: red\n", wantErr: "line 3: field colour not found"},
		{name: "bad log format", yaml: "log:\n  format: xml\n", wantErr: `log.format "xml": accepted values are text, json`},
		{name: "bad level", yaml: "log:\n  level: loud\n", wantErr: `log.level "loud"`},
		{name: "bad duration", yaml: "services:\n  poll_interval: soon\n", wantErr: `line 2: "soon" is not a duration`},
		{name: "poll too fast", yaml: "services:\n  poll_interval: 1ms\n", wantErr: "services.poll_interval 1ms: must be at least 100ms"},
		{name: "bad dsn scheme", yaml: "store:\n  dsn: mysql://x\n", wantErr: "store.dsn"},
		{name: "wrong type", yaml: "users:\n  password_cache_size: many\n", wantErr: "line 2"},
		{name: "transfer logs", yaml: "transfer_logs:\n  - {format: xferlog, path: /var/log/xferlog, rotate: {max_size: 100M, daily: true, keep: 14}}\n  - {format: json, path: stdout}\naudit_log:\n  path: syslog\n"},
		{name: "bad log format name", yaml: "transfer_logs:\n  - {format: apache, path: x}\n", wantErr: `transfer_logs[0].format "apache": accepted values are xferlog, clf, w3c, json`},
		{name: "transfer log without path", yaml: "transfer_logs:\n  - {format: clf}\n", wantErr: "transfer_logs[0].path: required"},
		{name: "bad size", yaml: "transfer_logs:\n  - {format: clf, path: x, rotate: {max_size: lots}}\n", wantErr: `line 2: "lots" is not a size`},
		{name: "checksum none", yaml: "uploads:\n  checksum: none\n"},
		{name: "bad checksum", yaml: "uploads:\n  checksum: md5\n", wantErr: `uploads.checksum "md5": accepted values are auto, sha256, none`},
		{name: "negative keep", yaml: "audit_log:\n  path: a\n  rotate: {keep: -1}\n", wantErr: "audit_log.rotate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.yaml))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse error = %v, want ErrInvalid containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse(strings.NewReader("log:\n  format: json\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := c.ApplyDefaults(dir); err != nil {
		t.Fatal(err)
	}
	if c.DataDir != dir || c.Store.DSN != dir+"/ferry.db" || c.Users.HomeRoot != dir+"/files" {
		t.Errorf("paths = %q %q %q", c.DataDir, c.Store.DSN, c.Users.HomeRoot)
	}
	if c.Log.Format != "json" || c.Log.Level != "info" || !*c.Users.CreateHome {
		t.Errorf("log/users defaults wrong: %+v %+v", c.Log, c.Users)
	}
	if c.Services.PollInterval.D() != time.Second {
		t.Errorf("poll interval = %v", c.Services.PollInterval.D())
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Example)
	f.Add("log: [\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(strings.NewReader(s))
		if err == nil && c.Validate() != nil {
			t.Fatalf("Parse accepted a config Validate refuses: %q", s)
		}
	})
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"0": 0, "1048576": 1 << 20, "512K": 512 << 10, "100M": 100 << 20, "2G": 2 << 30, "1MiB": 1 << 20, "3mb": 3 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "-1", "1X", "9999999999T"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
}
