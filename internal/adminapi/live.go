package adminapi

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
)

// sessionView is a live session with its transfer's progress.
type sessionView struct {
	core.SessionInfo
	State    string `json:"state"` // idle or transferring
	Progress *struct {
		Percent float64 `json:"percent,omitempty"` // when the size is known
		Rate    int64   `json:"rate"`              // bytes per second since the transfer began
	} `json:"progress,omitempty"`
}

func (s *Server) sessionViews(r *http.Request) []sessionView {
	q := r.URL.Query()
	now := s.opts.Now()
	var out []sessionView
	for _, si := range s.opts.Live.Sessions() {
		if (q.Get("user") != "" && si.User != q.Get("user")) ||
			(q.Get("protocol") != "" && si.Protocol != q.Get("protocol")) ||
			(q.Get("service") != "" && si.Service != q.Get("service")) {
			continue
		}
		v := sessionView{SessionInfo: si, State: "idle"}
		if t := si.Transfer; t != nil {
			v.State = "transferring"
			v.Progress = &struct {
				Percent float64 `json:"percent,omitempty"`
				Rate    int64   `json:"rate"`
			}{}
			if t.Size > 0 {
				v.Progress.Percent = float64(t.Bytes) * 100 / float64(t.Size)
			}
			if d := now.Sub(t.Start); d > 0 {
				v.Progress.Rate = int64(float64(t.Bytes) / d.Seconds())
			}
		}
		out = append(out, v)
	}
	return out
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, _ *principal) error {
	o, err := listOptions(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageSlice(s.sessionViews(r), o))
	return nil
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request, _ *principal) error {
	for _, v := range s.sessionViews(r) {
		if v.ID == r.PathValue("id") {
			writeJSON(w, http.StatusOK, v)
			return nil
		}
	}
	return errf(http.StatusNotFound, codeNotFound, "", "session %q is not connected", r.PathValue("id"))
}

func (s *Server) kickSession(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	if !s.opts.Live.Kick(id) {
		return errf(http.StatusNotFound, codeNotFound, "", "session %q is not connected", id)
	}
	s.audit(r, p, "kick", "/sessions/"+id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// kickUser serves DELETE /api/v1/sessions?user=NAME.
func (s *Server) kickUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	user := r.URL.Query().Get("user")
	if user == "" {
		return errf(http.StatusBadRequest, codeInvalid, "user", "give ?user=NAME to disconnect every session of a user, or DELETE /api/v1/sessions/{id}")
	}
	n := s.opts.Live.KickUser(user)
	s.audit(r, p, "kick", "/sessions?user="+user)
	writeJSON(w, http.StatusOK, map[string]int{"kicked": n})
	return nil
}

func (s *Server) listBans(w http.ResponseWriter, r *http.Request, _ *principal) error {
	o, err := listOptions(r)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	if r.URL.Query().Get("all") == "true" {
		now = time.Time{}
	}
	bans, err := s.opts.Bans.ListBans(r.Context(), now)
	if err != nil {
		return err
	}
	if o.Prefix != "" {
		bans = slices.DeleteFunc(bans, func(b ferry.Ban) bool { return !strings.HasPrefix(b.Network, o.Prefix) })
	}
	writeJSON(w, http.StatusOK, pageSlice(bans, o))
	return nil
}

func (s *Server) addBan(w http.ResponseWriter, r *http.Request, p *principal) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var dur string
	if _, err := take(body, "duration", &dur); err != nil {
		return err
	}
	var b ferry.Ban
	if err := decodeInto(body, &b); err != nil {
		return err
	}
	if b.Network == "" {
		return errf(http.StatusBadRequest, codeInvalid, "network", "network is required: a CIDR such as 192.0.2.0/24 or an address")
	}
	if dur != "" {
		d, err := time.ParseDuration(dur)
		if err != nil || d <= 0 {
			return errf(http.StatusBadRequest, codeInvalid, "duration", "duration %q: accepted values are positive Go durations such as 30m, 24h", dur)
		}
		if !b.ExpiresAt.IsZero() {
			return errf(http.StatusBadRequest, codeInvalid, "duration", "give duration or expires_at, not both")
		}
		b.ExpiresAt = s.opts.Now().Add(d)
	}
	b.ID, b.CreatedAt = 0, time.Time{}
	if err := s.opts.Bans.AddBan(r.Context(), &b); err != nil {
		if errors.Is(err, ferry.ErrInvalid) {
			return invalid("network", err)
		}
		return err
	}
	s.audit(r, p, "ban", "/bans/"+b.Network)
	writeJSON(w, http.StatusCreated, b)
	return nil
}

func (s *Server) deleteBan(w http.ResponseWriter, r *http.Request, p *principal) error {
	network := r.PathValue("network")
	if err := s.opts.Bans.DeleteBan(r.Context(), network); err != nil {
		if errors.Is(err, ferry.ErrInvalid) {
			return invalid("network", err)
		}
		return err
	}
	s.audit(r, p, "unban", "/bans/"+network)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// eventFilter reads ?user=&type=&since=&until=&limit=&offset=.
func eventFilter(r *http.Request) (EventFilter, error) {
	q := r.URL.Query()
	o, err := listOptions(r)
	if err != nil {
		return EventFilter{}, err
	}
	f := EventFilter{User: q.Get("user"), Limit: o.Limit + 1, Offset: o.Offset}
	for _, t := range q["type"] {
		for _, name := range strings.Split(t, ",") {
			f.Types = append(f.Types, ferry.EventType(strings.TrimSpace(name)))
		}
	}
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := q.Get(tf.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return f, errf(http.StatusBadRequest, codeInvalid, tf.name, "%s %q: expected an RFC 3339 time such as 2025-01-02T15:04:05Z", tf.name, v)
		}
		*tf.dst = t
	}
	return f, nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, _ *principal) error {
	f, err := eventFilter(r)
	if err != nil {
		return err
	}
	o := ferry.ListOptions{Offset: f.Offset, Limit: f.Limit - 1}
	writeJSON(w, http.StatusOK, pageOf(s.opts.Events.Query(f), o))
	return nil
}

// statusView answers GET /api/v1/status.
type statusView struct {
	Version   string          `json:"version"`
	Node      string          `json:"node"`
	Store     string          `json:"store"`
	Started   time.Time       `json:"started"`
	Uptime    int64           `json:"uptime_seconds"`
	Sessions  int             `json:"sessions"`
	Services  []ServiceStatus `json:"services"`
	Admin     string          `json:"admin"` // who is asking
	AdminRole ferry.Role      `json:"admin_role"`
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, p *principal) error {
	sts, err := s.opts.Services.ServiceStatus(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, statusView{
		Version: s.opts.Version, Node: s.opts.Node, Store: s.opts.StoreKind, Started: s.opts.Started,
		Uptime: int64(s.opts.Now().Sub(s.opts.Started).Seconds()), Sessions: len(s.opts.Live.Sessions()),
		Services: nonNil(sts), Admin: p.name(), AdminRole: p.admin.Role,
	})
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
