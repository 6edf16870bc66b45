package ferry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
)

// ActionKind says what a rule does with a matching event.
type ActionKind string

// Rule actions.
const (
	ActionExec    ActionKind = "exec"    // run a command (argv, no shell)
	ActionWebhook ActionKind = "webhook" // POST signed JSON, retried from the outbox
)

// Rule matches events and acts on them. Empty filters match everything. A
// pre-hook rule runs its action synchronously before an upload, download
// or delete and can refuse it; other rules act after the event.
type Rule struct {
	ID     int64       `json:"id"`
	Name   string      `json:"name"`
	Events []EventType `json:"events"`
	// Disabled rules are kept but never run.
	Disabled bool `json:"disabled,omitempty"`

	Users     []string   `json:"users,omitempty"`
	Groups    []string   `json:"groups,omitempty"` // the user is in one of them
	Protocols []Protocol `json:"protocols,omitempty"`
	// Paths are globs on the virtual path (path.Match syntax; a pattern
	// without '/' matches the base name; a trailing "/**" matches
	// everything below).
	Paths   []string `json:"paths,omitempty"`
	MinSize int64    `json:"min_size,omitempty"`
	MaxSize int64    `json:"max_size,omitempty"` // 0: no maximum
	// Status is "" (any), "ok" or "failed".
	Status string `json:"status,omitempty"`

	Action  ActionKind `json:"action"`
	Command []string   `json:"command,omitempty"` // exec: argv
	URL     string     `json:"url,omitempty"`     // webhook
	Secret  string     `json:"secret,omitempty"`  // webhook: HMAC-SHA256 key
	// Timeout bounds one run or one request (default 30s, 10s for
	// pre-hooks).
	Timeout time.Duration `json:"timeout,omitempty"`
	// MaxAttempts is how many deliveries a webhook tries before the event
	// becomes a dead letter (default 10).
	MaxAttempts int `json:"max_attempts,omitempty"`
	// PreHook makes the rule a synchronous gate; FailOpen lets the
	// operation proceed when the hook cannot be run or times out (the
	// default refuses).
	PreHook  bool `json:"pre_hook,omitempty"`
	FailOpen bool `json:"fail_open,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// PreHookEvents are the operations a pre-hook can refuse.
var PreHookEvents = []EventType{EventUpload, EventDownload, EventDelete}

var ruleProtocols = []Protocol{FTP, FTPS, SFTP, SCP, SSH, WebDAV, HTTP, AdminAPI}

// EventTypes lists every event type.
var EventTypes = []EventType{
	EventLogin, EventLoginFailed, EventLogout, EventUpload, EventDownload, EventDelete, EventRename,
	EventMkdir, EventRmdir, EventChmod, EventChtimes, EventSymlink, EventBan, EventUnban,
	EventServiceStarted, EventServiceStopped, EventServiceFailed, EventAdminChange,
	EventTransferStarted, EventTransferSucceeded, EventTransferFailed, EventPasswordChange,
	EventProxyConnect, EventProxyDisconnect, EventProxyData,
}

// Validate checks a rule before it is stored; the error names the field.
func (r *Rule) Validate() error {
	if err := ValidateName("rule", r.Name); err != nil {
		return err
	}
	if len(r.Events) == 0 {
		return fmt.Errorf("%w: rule %q: events: at least one event type is required", ErrInvalid, r.Name)
	}
	for _, e := range r.Events {
		if !slices.Contains(EventTypes, e) {
			return fmt.Errorf("%w: rule %q: event %q: accepted values are %s", ErrInvalid, r.Name, e, joinTypes(EventTypes))
		}
		if r.PreHook && !slices.Contains(PreHookEvents, e) {
			return fmt.Errorf("%w: rule %q: pre-hook event %q: accepted values are %s", ErrInvalid, r.Name, e, joinTypes(PreHookEvents))
		}
	}
	for _, p := range r.Protocols {
		if !slices.Contains(ruleProtocols, p) {
			return fmt.Errorf("%w: rule %q: protocol %q: accepted values are ftp, ftps, sftp, scp, ssh, webdav, http, admin", ErrInvalid, r.Name, p)
		}
	}
	for _, g := range r.Paths {
		if _, err := path.Match(strings.TrimSuffix(g, "/**"), ""); err != nil || g == "" {
			return fmt.Errorf("%w: rule %q: path glob %q is malformed", ErrInvalid, r.Name, g)
		}
	}
	if r.MinSize < 0 || r.MaxSize < 0 || (r.MaxSize > 0 && r.MaxSize < r.MinSize) {
		return fmt.Errorf("%w: rule %q: size range %d..%d: sizes must be >= 0 and min <= max", ErrInvalid, r.Name, r.MinSize, r.MaxSize)
	}
	switch r.Status {
	case "", "ok", "failed":
	default:
		return fmt.Errorf("%w: rule %q: status %q: accepted values are ok, failed (empty: any)", ErrInvalid, r.Name, r.Status)
	}
	if r.Timeout < 0 || r.MaxAttempts < 0 {
		return fmt.Errorf("%w: rule %q: timeout and max attempts must not be negative", ErrInvalid, r.Name)
	}
	switch r.Action {
	case ActionExec:
		if len(r.Command) == 0 || !strings.HasPrefix(r.Command[0], "/") {
			return fmt.Errorf("%w: rule %q: exec command must be an absolute program path followed by its arguments", ErrInvalid, r.Name)
		}
	case ActionWebhook:
		u, err := url.Parse(r.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: rule %q: webhook URL %q must be an http:// or https:// URL", ErrInvalid, r.Name, r.URL)
		}
	default:
		return fmt.Errorf("%w: rule %q: action %q: accepted values are exec, webhook", ErrInvalid, r.Name, r.Action)
	}
	return nil
}

func joinTypes(ts []EventType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// OutboxEntry is one webhook delivery waiting in the durable outbox, or a
// dead letter after its last attempt failed.
type OutboxEntry struct {
	ID        int64           `json:"id"`
	Rule      string          `json:"rule"`
	Payload   json.RawMessage `json:"payload"` // the JSON body, as signed
	Attempts  int             `json:"attempts"`
	NextAt    time.Time       `json:"next_at"`
	LastError string          `json:"last_error,omitempty"`
	Dead      bool            `json:"dead"`
	CreatedAt time.Time       `json:"created_at"`
}

// Refusal is a pre-hook's refusal of an operation. It is a permission
// error (errors.Is(err, fs.ErrPermission)); a front end that wants to show
// the hook's reason to the client finds it with errors.As.
type Refusal struct {
	Rule   string // the pre-hook rule that refused
	Reason string // the hook's first output line or reply body line; may be empty
}

func (r *Refusal) Error() string {
	if r.Reason == "" {
		return "refused by pre-hook " + r.Rule
	}
	return "refused by " + r.Rule + ": " + r.Reason
}

// RefusalText returns what a client should read when err is (or wraps) a
// pre-hook refusal: the hook's reason on one line, at most 200 bytes; ok
// is false for any other error.
func RefusalText(err error) (text string, ok bool) {
	var r *Refusal
	if !errors.As(err, &r) {
		return "", false
	}
	text = "Refused by policy"
	if r.Reason != "" {
		text += ": " + strings.Map(func(c rune) rune {
			if c < 0x20 || c == 0x7f {
				return ' '
			}
			return c
		}, r.Reason)
	}
	if len(text) > 200 {
		text = text[:200]
	}
	return text, true
}

// Unwrap makes a refusal a permission error.
func (r *Refusal) Unwrap() error { return fs.ErrPermission }
