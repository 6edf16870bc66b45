// Package xferlog writes events as log lines in the formats existing log
// analyzers read — xferlog (wu-ftpd/ProFTPD/vsftpd), Common Log Format,
// W3C extended — and as JSON lines, to files rotated by size or daily with
// retention, to stdout or to syslog. The audit log of admin changes is a
// JSON lines log of admin_change events. Only app imports it.
package xferlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Formats a transfer log may have.
const (
	FormatXferlog = "xferlog"
	FormatCLF     = "clf"
	FormatW3C     = "w3c"
	FormatJSON    = "json"
	FormatAudit   = "audit" // JSON lines of admin_change events only
)

// Formatter turns an event into one line (without the newline); ok is
// false for events the format does not record.
type Formatter interface {
	Line(ev ferry.Event) (line []byte, ok bool)
	// Header is written at the top of every new file (W3C); nil if none.
	Header(now time.Time) []byte
}

// NewFormatter returns the formatter for a format name.
func NewFormatter(format, software string) (Formatter, error) {
	switch format {
	case FormatXferlog:
		return xferlogFormat{}, nil
	case FormatCLF:
		return clfFormat{}, nil
	case FormatW3C:
		return w3cFormat{software: software}, nil
	case FormatJSON:
		return jsonFormat{}, nil
	case FormatAudit:
		return jsonFormat{only: ferry.EventAdminChange}, nil
	}
	return nil, fmt.Errorf("transfer log format %q: accepted values are xferlog, clf, w3c, json", format)
}

func isTransfer(ev ferry.Event) bool {
	return ev.Type == ferry.EventUpload || ev.Type == ferry.EventDownload
}

func ok(ev ferry.Event) bool { return ev.Status == "ok" || ev.Status == "" }

// host is the remote address without its port.
func host(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return cmpDash(remote)
}

func cmpDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// xferlogFormat is the wu-ftpd xferlog(5) line, as ProFTPD and vsftpd
// write it: current-time transfer-time remote-host file-size filename
// transfer-type special-action-flag direction access-mode username
// service-name authentication-method authenticated-user-id
// completion-status. Spaces in file names become underscores, as
// ProFTPD does, so the line splits on whitespace.
type xferlogFormat struct{}

func (xferlogFormat) Header(time.Time) []byte { return nil }

func (xferlogFormat) Line(ev ferry.Event) ([]byte, bool) {
	var dir string
	switch ev.Type {
	case ferry.EventUpload:
		dir = "i"
	case ferry.EventDownload:
		dir = "o"
	case ferry.EventDelete:
		dir = "d"
	default:
		return nil, false
	}
	status := "c"
	if !ok(ev) {
		status = "i"
	}
	name := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return '_'
		}
		return r
	}, ev.Path)
	secs := int64(ev.Duration.Round(time.Second) / time.Second)
	return fmt.Appendf(nil, "%s %d %s %d %s b _ %s r %s %s 0 * %s",
		ev.Time.Local().Format("Mon Jan _2 15:04:05 2006"), secs, host(ev.Remote), ev.Size, name,
		dir, cmpDash(ev.User), cmpDash(string(ev.Protocol)), status), true
}

// clfFormat is the Common Log Format: host ident authuser [date]
// "request" status bytes. The request is METHOD PATH PROTOCOL with PUT for
// uploads and GET for downloads, the path percent-encoded; status is 200,
// or 500 for a transfer that failed.
type clfFormat struct{}

func (clfFormat) Header(time.Time) []byte { return nil }

func (clfFormat) Line(ev ferry.Event) ([]byte, bool) {
	if !isTransfer(ev) {
		return nil, false
	}
	method := "GET"
	if ev.Type == ferry.EventUpload {
		method = "PUT"
	}
	status := 200
	if !ok(ev) {
		status = 500
	}
	size := "-"
	if ev.Size > 0 {
		size = strconv.FormatInt(ev.Size, 10)
	}
	req := method + " " + escapePath(ev.Path) + " " + strings.ToUpper(cmpDash(string(ev.Protocol)))
	return fmt.Appendf(nil, `%s - %s [%s] "%s" %d %s`, host(ev.Remote), clfField(ev.User),
		ev.Time.Local().Format("02/Jan/2006:15:04:05 -0700"), quoteCLF(req), status, size), true
}

// escapePath percent-encodes a path as in a request line.
func escapePath(p string) string { return (&url.URL{Path: p}).EscapedPath() }

// clfField is an unquoted field: no spaces, "-" when empty.
func clfField(s string) string {
	if s == "" {
		return "-"
	}
	return strings.ReplaceAll(quoteCLF(s), " ", "%20")
}

// quoteCLF escapes what would break a quoted field, as Apache httpd does:
// " and \ with a backslash, control and non-ASCII bytes as \xHH.
func quoteCLF(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// W3CFields is the #Fields directive of the W3C extended log.
const W3CFields = "date time c-ip cs-username s-sitename cs-method cs-uri-stem sc-status sc-bytes cs-bytes time-taken x-protocol x-session"

// w3cFormat is the W3C Extended Log File Format (Working Draft
// WD-logfile-960323): directives at the top of each file, then one
// space-separated line per transfer in UTC; "-" for an empty field;
// spaces inside the URI percent-encoded; time-taken in seconds.
type w3cFormat struct{ software string }

func (f w3cFormat) Header(now time.Time) []byte {
	return fmt.Appendf(nil, "#Version: 1.0\n#Software: %s\n#Date: %s\n#Fields: %s",
		f.software, now.UTC().Format("2006-01-02 15:04:05"), W3CFields)
}

func (w3cFormat) Line(ev ferry.Event) ([]byte, bool) {
	if !isTransfer(ev) {
		return nil, false
	}
	method, up, down := "RETR", int64(0), ev.Size
	if ev.Type == ferry.EventUpload {
		method, up, down = "STOR", ev.Size, 0
	}
	status := 226
	if !ok(ev) {
		status = 451
	}
	t := ev.Time.UTC()
	return fmt.Appendf(nil, "%s %s %s %s %s %s %s %d %d %d %.3f %s %s",
		t.Format("2006-01-02"), t.Format("15:04:05"), host(ev.Remote), w3cField(ev.User), w3cField(ev.Service),
		method, w3cField(escapePath(ev.Path)), status, down, up, ev.Duration.Seconds(),
		w3cField(string(ev.Protocol)), w3cField(ev.Session)), true
}

func w3cField(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return '+'
		}
		return r
	}, s)
}

// jsonFormat writes every event (or only one type) as a JSON object.
type jsonFormat struct{ only ferry.EventType }

func (jsonFormat) Header(time.Time) []byte { return nil }

// jsonLine is the line of the JSON formats: the event with its duration
// in milliseconds.
type jsonLine struct {
	ferry.Event
	Duration   time.Duration `json:"duration,omitempty"` // hides the embedded nanoseconds…
	DurationMS int64         `json:"duration_ms"`        // …in favour of milliseconds
}

func (f jsonFormat) Line(ev ferry.Event) ([]byte, bool) {
	if f.only != "" && ev.Type != f.only {
		return nil, false
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	ev.Time = ev.Time.UTC()
	if err := enc.Encode(jsonLine{Event: ev, DurationMS: ev.Duration.Milliseconds()}); err != nil {
		return nil, false
	}
	return bytes.TrimRight(b.Bytes(), "\n"), true
}
