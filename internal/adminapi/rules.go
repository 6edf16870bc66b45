package adminapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Rules stores event rules (docs/events.md).
type Rules interface {
	GetRule(ctx context.Context, name string) (*ferry.Rule, error)
	ListRules(ctx context.Context, o ferry.ListOptions) ([]*ferry.Rule, error)
	CreateRule(ctx context.Context, r *ferry.Rule) error
	UpdateRule(ctx context.Context, r *ferry.Rule) error
	DeleteRule(ctx context.Context, name string) error
}

// OutboxQuery selects webhook outbox entries.
type OutboxQuery struct {
	Rule string  // "" for every rule
	Dead bool    // dead letters instead of pending deliveries
	IDs  []int64 // only these entries (nil: all)
	// Limit caps a listing (0: no limit).
	Limit int
}

// Outbox lists webhook deliveries and replays dead letters.
type Outbox interface {
	ListOutbox(ctx context.Context, q OutboxQuery) ([]ferry.OutboxEntry, error)
	// ReplayOutbox makes the dead letters q selects (q.Dead is implied)
	// due again and returns how many.
	ReplayOutbox(ctx context.Context, q OutboxQuery) (int, error)
}

// noEvents stands in when the server has no rule store: every call fails
// with 404.
type noEvents struct{}

var errNoRules = errf(http.StatusNotFound, codeNotFound, "", "event rules are not available on this server")

func (noEvents) GetRule(context.Context, string) (*ferry.Rule, error) { return nil, errNoRules }
func (noEvents) ListRules(context.Context, ferry.ListOptions) ([]*ferry.Rule, error) {
	return nil, errNoRules
}
func (noEvents) CreateRule(context.Context, *ferry.Rule) error          { return errNoRules }
func (noEvents) UpdateRule(context.Context, *ferry.Rule) error          { return errNoRules }
func (noEvents) DeleteRule(context.Context, string) error               { return errNoRules }
func (noEvents) ReplayOutbox(context.Context, OutboxQuery) (int, error) { return 0, errNoRules }
func (noEvents) ListOutbox(context.Context, OutboxQuery) ([]ferry.OutboxEntry, error) {
	return nil, errNoRules
}

// ruleView is a rule as the API shows it: the webhook secret is
// write-only (HasSecret says whether one is set) and the timeout is a Go
// duration string.
type ruleView struct {
	*ferry.Rule
	Secret    string `json:"secret,omitempty"` // always empty: shadows Rule.Secret
	HasSecret bool   `json:"has_secret"`
	Timeout   string `json:"timeout,omitempty"`
}

func viewRule(r *ferry.Rule) ruleView {
	v := ruleView{Rule: r, HasSecret: r.Secret != ""}
	if r.Timeout > 0 {
		v.Timeout = r.Timeout.String()
	}
	return v
}

func (s *Server) rules() *resource[ferry.Rule] {
	rs := s.opts.Rules
	return &resource[ferry.Rule]{
		plural: "rules", write: accessFull,
		get: rs.GetRule, list: rs.ListRules, create: rs.CreateRule, update: rs.UpdateRule, del: rs.DeleteRule,
		meta:    func(r *ferry.Rule) (*string, *int64) { return &r.Name, &r.Version },
		fresh:   func() *ferry.Rule { return &ferry.Rule{} },
		prepare: s.prepareRule,
		views: func(_ context.Context, rs []*ferry.Rule) ([]any, error) {
			out := make([]any, len(rs))
			for i, r := range rs {
				out[i] = viewRule(r)
			}
			return out, nil
		},
	}
}

// prepareRule decodes a rule body. "secret" absent keeps the stored
// secret (it is never shown, so a client cannot send it back); "timeout"
// takes a Go duration string or nanoseconds.
func (s *Server) prepareRule(_ context.Context, _ *principal, r, old *ferry.Rule, body map[string]json.RawMessage) error {
	delete(body, "has_secret")
	var secret *string
	if _, err := take(body, "secret", &secret); err != nil {
		return err
	}
	if raw, ok := body["timeout"]; ok {
		delete(body, "timeout")
		d, err := parseTimeout(raw)
		if err != nil {
			return err
		}
		r.Timeout = d
	}
	if err := decodeInto(body, r); err != nil {
		return err
	}
	switch {
	case secret != nil:
		r.Secret = *secret
	case old != nil:
		r.Secret = old.Secret
	}
	if err := ferry.ValidateName("rule", r.Name); err != nil {
		return invalid("name", err)
	}
	if r.Action == ferry.ActionExec && r.Secret != "" {
		return errf(http.StatusBadRequest, codeInvalid, "secret", "secret applies to webhook rules only")
	}
	if err := r.Validate(); err != nil {
		return invalid(ruleField(err), err)
	}
	return nil
}

func parseTimeout(raw json.RawMessage) (time.Duration, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, errf(http.StatusBadRequest, codeInvalid, "timeout", "timeout: %s", jsonMessage(err))
	}
	switch x := v.(type) {
	case nil:
		return 0, nil
	case string:
		if x == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(x)
		if err == nil && d >= 0 {
			return d, nil
		}
	case float64:
		if x >= 0 && x == float64(int64(x)) {
			return time.Duration(x), nil
		}
	}
	return 0, errf(http.StatusBadRequest, codeInvalid, "timeout", "timeout %s: a duration such as \"30s\" or \"2m\"", raw)
}

// ruleField names the field of a (*ferry.Rule).Validate error, whose
// message reads `rule "NAME": WHAT …`.
func ruleField(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, `": `); i >= 0 {
		msg = msg[i+3:]
	}
	for _, f := range []struct{ prefix, field string }{
		{"events", "events"}, {"event ", "events"}, {"pre-hook event", "events"},
		{"protocol ", "protocols"}, {"path glob", "paths"}, {"size range", "max_size"},
		{"status ", "status"}, {"timeout", "timeout"}, {"exec command", "command"},
		{"webhook URL", "url"}, {"action ", "action"},
	} {
		if strings.HasPrefix(msg, f.prefix) {
			return f.field
		}
	}
	return fieldOf(err)
}

// listOutbox serves GET /api/v1/outbox?rule=&dead=&limit=.
func (s *Server) listOutbox(w http.ResponseWriter, r *http.Request, _ *principal) error {
	q := r.URL.Query()
	o := ferry.ListOptions{Limit: defaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return errf(http.StatusBadRequest, codeInvalid, "limit", "limit %q: accepted values are 1 to %d", v, maxLimit)
		}
		o.Limit = n
	}
	oq := OutboxQuery{Rule: q.Get("rule"), Limit: o.Limit + 1}
	switch v := q.Get("dead"); v {
	case "", "false":
	case "true":
		oq.Dead = true
	default:
		return errf(http.StatusBadRequest, codeInvalid, "dead", "dead %q: accepted values are true, false", v)
	}
	es, err := s.opts.Outbox.ListOutbox(r.Context(), oq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(es, o))
	return nil
}

// replayOutbox serves POST /api/v1/outbox/replay: the dead letters of a
// rule, or the ones listed, or all of them, back in the queue.
func (s *Server) replayOutbox(w http.ResponseWriter, r *http.Request, p *principal) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Rule string  `json:"rule"`
		IDs  []int64 `json:"ids"`
	}
	if err := decodeInto(body, &in); err != nil {
		return err
	}
	for i, id := range in.IDs {
		if id <= 0 {
			return errf(http.StatusBadRequest, codeInvalid, fmt.Sprintf("ids[%d]", i), "outbox ids are positive integers")
		}
	}
	if in.IDs != nil && len(in.IDs) == 0 {
		return errf(http.StatusBadRequest, codeInvalid, "ids", "ids is empty; leave it out to replay every dead letter")
	}
	n, err := s.opts.Outbox.ReplayOutbox(r.Context(), OutboxQuery{Rule: in.Rule, Dead: true, IDs: in.IDs})
	if err != nil {
		return err
	}
	path := "/outbox"
	if in.Rule != "" {
		path += "?rule=" + in.Rule
	}
	s.audit(r, p, "replay", path)
	writeJSON(w, http.StatusOK, map[string]int{"replayed": n})
	return nil
}

// serveMetrics serves GET /metrics: the Prometheus exposition, to anyone
// when the service sets metrics_public, else to a bearer token of any
// admin.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if !s.opts.MetricsPublic {
		p, err := s.principalFor(r.Context(), bearer(r))
		if err == nil {
			err = p.require(accessRead)
		}
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
	}
	s.opts.Metrics.ServeHTTP(w, r)
}
