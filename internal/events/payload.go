package events

import (
	"encoding/json"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Payload is an event as hooks and webhooks receive it: the JSON on an
// exec action's stdin and a webhook's body (docs/events.md).
type Payload struct {
	Event      ferry.EventType `json:"event"`
	Time       time.Time       `json:"time"`
	Rule       string          `json:"rule,omitempty"`
	Node       string          `json:"node,omitempty"`
	Session    string          `json:"session,omitempty"`
	User       string          `json:"user,omitempty"`
	Protocol   ferry.Protocol  `json:"protocol,omitempty"`
	Service    string          `json:"service,omitempty"`
	Remote     string          `json:"remote_addr,omitempty"`
	Path       string          `json:"virtual_path,omitempty"`
	LocalPath  string          `json:"path,omitempty"`
	Target     string          `json:"target,omitempty"`
	Size       int64           `json:"size"`
	DurationMS int64           `json:"duration_ms"`
	Status     string          `json:"status,omitempty"`
	Detail     string          `json:"detail,omitempty"`
	SHA256     string          `json:"sha256,omitempty"`
}

// Subject is what a sink knows about the user behind an event beyond the
// event itself; zero when the user is unknown.
type Subject struct {
	Home   string   // the home directory on local storage
	Groups []string // the user's groups
}

// NewPayload builds the payload of ev for rule.
func NewPayload(ev ferry.Event, rule, node string, who Subject) Payload {
	p := Payload{
		Event: ev.Type, Time: ev.Time.UTC(), Rule: rule, Node: node, Session: ev.Session, User: ev.User,
		Protocol: ev.Protocol, Service: ev.Service, Remote: ev.Remote, Path: ev.Path, Target: ev.Target,
		Size: ev.Size, DurationMS: ev.Duration.Milliseconds(), Status: ev.Status, Detail: ev.Detail, SHA256: ev.SHA256,
	}
	if who.Home != "" && ev.Path != "" {
		p.LocalPath = filepath.Join(who.Home, filepath.FromSlash(ev.Path))
	}
	return p
}

// JSON encodes the payload.
func (p Payload) JSON() []byte {
	b, _ := json.Marshal(p) // only strings, numbers and a time: cannot fail
	return b
}

// Env is the payload as FERRY_* environment variables for an exec action.
// FERRY_SHA256 is set only when the digest is known.
func (p Payload) Env() []string {
	env := []string{
		"FERRY_EVENT=" + string(p.Event),
		"FERRY_RULE=" + p.Rule,
		"FERRY_USER=" + p.User,
		"FERRY_PROTOCOL=" + string(p.Protocol),
		"FERRY_SERVICE=" + p.Service,
		"FERRY_PATH=" + p.LocalPath,
		"FERRY_VIRTUAL_PATH=" + p.Path,
		"FERRY_TARGET=" + p.Target,
		"FERRY_SIZE=" + strconv.FormatInt(p.Size, 10),
		"FERRY_DURATION_MS=" + strconv.FormatInt(p.DurationMS, 10),
		"FERRY_STATUS=" + p.Status,
		"FERRY_REMOTE_ADDR=" + p.Remote,
		"FERRY_SESSION=" + p.Session,
		"FERRY_TIME=" + p.Time.Format(time.RFC3339Nano),
		"FERRY_NODE=" + p.Node,
	}
	if p.SHA256 != "" {
		env = append(env, "FERRY_SHA256="+p.SHA256)
	}
	return env
}

// Match reports whether rule r applies to ev from a user in groups. It does
// not look at r.Disabled or r.PreHook: callers pick the rules to try.
func Match(r *ferry.Rule, ev ferry.Event, groups []string) bool {
	if !slices.Contains(r.Events, ev.Type) {
		return false
	}
	if len(r.Users) > 0 && !slices.Contains(r.Users, ev.User) {
		return false
	}
	if len(r.Groups) > 0 && !slices.ContainsFunc(r.Groups, func(g string) bool { return slices.Contains(groups, g) }) {
		return false
	}
	if len(r.Protocols) > 0 && !slices.Contains(r.Protocols, ev.Protocol) {
		return false
	}
	if len(r.Paths) > 0 && !slices.ContainsFunc(r.Paths, func(g string) bool { return MatchPath(g, ev.Path) }) {
		return false
	}
	if ev.Size < r.MinSize || (r.MaxSize > 0 && ev.Size > r.MaxSize) {
		return false
	}
	switch r.Status {
	case "ok":
		return ev.Status == "ok" || ev.Status == ""
	case "failed":
		return ev.Status != "ok" && ev.Status != ""
	}
	return true
}

// MatchPath matches a virtual path against a rule's glob: path.Match on
// the whole path when the glob has a '/', on the base name otherwise; a
// trailing "/**" also matches everything below.
func MatchPath(glob, p string) bool {
	if p == "" {
		return false
	}
	if dir, ok := strings.CutSuffix(glob, "/**"); ok {
		if dir == "" {
			return true
		}
		for q := p; ; q = path.Dir(q) {
			if ok, _ := path.Match(dir, q); ok {
				return true
			}
			if q == "/" || q == "." {
				return false
			}
		}
	}
	if !strings.Contains(glob, "/") {
		ok, _ := path.Match(glob, path.Base(p))
		return ok
	}
	ok, _ := path.Match(glob, p)
	return ok
}
