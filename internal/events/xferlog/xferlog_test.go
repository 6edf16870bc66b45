package xferlog_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/events/xferlog"
	"github.com/ferrymft/ferry/internal/ferry"
)

var at = time.Date(2026, 3, 5, 14, 7, 9, 0, time.UTC)

func events() []ferry.Event {
	return []ferry.Event{
		{Type: ferry.EventLogin, Time: at, User: "alice", Protocol: ferry.FTP, Remote: "192.0.2.10:40000", Status: "ok"},
		{Type: ferry.EventUpload, Time: at, Session: "s1", User: "alice", Protocol: ferry.FTP, Service: "ftp",
			Remote: "192.0.2.10:40000", Path: "/in/my report.csv", Size: 1234, Duration: 2600 * time.Millisecond, Status: "ok"},
		{Type: ferry.EventDownload, Time: at, Session: "s2", User: "bob", Protocol: ferry.SFTP, Service: "sftp",
			Remote: "[2001:db8::1]:2222", Path: `/out/"q".bin`, Size: 10, Duration: 300 * time.Millisecond, Status: "connection reset"},
		{Type: ferry.EventDelete, Time: at, User: "alice", Protocol: ferry.FTP, Remote: "192.0.2.10:40000", Path: "/in/old.csv", Status: "ok"},
		{Type: ferry.EventAdminChange, Time: at, User: "root", Protocol: ferry.AdminAPI, Detail: "user add carol", Status: "ok"},
	}
}

// write logs the events in a format to a file and returns its lines.
func write(t *testing.T, format string) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "log")
	l, err := xferlog.Open(xferlog.Options{Format: format, Path: p, Software: "Ferry test", Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events() {
		l.Handle(t.Context(), ev)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestXferlog(t *testing.T) {
	t.Parallel()
	lines := write(t, "xferlog")
	local := at.Local().Format("Mon Jan _2 15:04:05 2006")
	want := []string{
		local + " 3 192.0.2.10 1234 /in/my_report.csv b _ i r alice ftp 0 * c",
		local + ` 0 2001:db8::1 10 /out/"q".bin b _ o r bob sftp 0 * i`,
		local + " 0 192.0.2.10 0 /in/old.csv b _ d r alice ftp 0 * c",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("xferlog:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// xferlog(5): 5 fields of the ctime date, then 13 more.
	re := regexp.MustCompile(`^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} \d+ \S+ \d+ \S+ [ab] [CUT_]+ [oid] [agr] \S+ \S+ [01] \S+ [ci]$`)
	for _, l := range lines {
		if !re.MatchString(l) {
			t.Errorf("not an xferlog(5) line: %q", l)
		}
	}
}

func TestCLF(t *testing.T) {
	t.Parallel()
	lines := write(t, "clf")
	date := at.Local().Format("02/Jan/2006:15:04:05 -0700")
	want := []string{
		`192.0.2.10 - alice [` + date + `] "PUT /in/my%20report.csv FTP" 200 1234`,
		`2001:db8::1 - bob [` + date + `] "GET /out/%22q%22.bin SFTP" 500 10`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("clf:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	re := regexp.MustCompile(`^\S+ \S+ \S+ \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "(?:[^"\\]|\\.)*" \d{3} (?:\d+|-)$`)
	for _, l := range lines {
		if !re.MatchString(l) {
			t.Errorf("not a CLF line: %q", l)
		}
	}
}

func TestW3C(t *testing.T) {
	t.Parallel()
	lines := write(t, "w3c")
	want := []string{
		"#Version: 1.0",
		"#Software: Ferry test",
		"#Date: 2026-03-05 14:07:09",
		"#Fields: " + xferlog.W3CFields,
		"2026-03-05 14:07:09 192.0.2.10 alice ftp STOR /in/my%20report.csv 226 0 1234 2.600 ftp s1",
		"2026-03-05 14:07:09 2001:db8::1 bob sftp RETR /out/%22q%22.bin 451 10 0 0.300 sftp s2",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("w3c:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	fields := strings.Fields(strings.TrimPrefix(lines[3], "#Fields: "))
	for _, l := range lines[4:] {
		if n := len(strings.Fields(l)); n != len(fields) {
			t.Errorf("%d values for %d fields: %q", n, len(fields), l)
		}
	}
}

func TestJSONAndAudit(t *testing.T) {
	t.Parallel()
	lines := write(t, "json")
	if len(lines) != len(events()) {
		t.Fatalf("json log has %d lines, want one per event (%d)", len(lines), len(events()))
	}
	var up map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &up); err != nil {
		t.Fatal(err)
	}
	if up["type"] != "upload" || up["path"] != "/in/my report.csv" || up["size"] != 1234.0 || up["duration_ms"] != 2600.0 ||
		up["user"] != "alice" || up["time"] != "2026-03-05T14:07:09Z" || up["duration"] != nil {
		t.Errorf("json line = %v", up)
	}
	audit := write(t, "audit")
	if len(audit) != 1 || !strings.Contains(audit[0], `"type":"admin_change"`) || !strings.Contains(audit[0], `"detail":"user add carol"`) {
		t.Errorf("audit log = %q", audit)
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "xfer.log")
	now := at
	l, err := xferlog.Open(xferlog.Options{Format: "w3c", Path: p, Now: func() time.Time { return now },
		Rotate: xferlog.Rotation{MaxSize: 400, Daily: true, Keep: 2}})
	if err != nil {
		t.Fatal(err)
	}
	up := events()[1]
	for i := range 6 { // ~100 bytes each: the 400-byte limit rotates
		now = now.Add(time.Second)
		up.Session = "s" + string(rune('a'+i))
		l.Handle(t.Context(), up)
	}
	rotated, err := xferlog.Rotated(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(rotated) == 0 {
		t.Fatal("nothing rotated past max_size")
	}
	now = now.Add(24 * time.Hour) // a new day rotates too
	l.Handle(t.Context(), up)
	l.Close()
	rotated, _ = xferlog.Rotated(p)
	if len(rotated) != 2 {
		t.Errorf("kept %v, want the 2 newest rotated files", rotated)
	}
	for _, f := range append(rotated, p) {
		b, _ := os.ReadFile(f)
		if !strings.HasPrefix(string(b), "#Version: 1.0\n") {
			t.Errorf("%s does not start with the W3C header: %q", f, b)
		}
		if st, _ := os.Stat(f); st.Size() > 400 {
			t.Errorf("%s has %d bytes, over max_size", f, st.Size())
		}
	}
	b, _ := os.ReadFile(p)
	if n := strings.Count(string(b), "\n"); n != 5 {
		t.Errorf("the new day's file has %d lines, want header (4) + 1", n)
	}
}
