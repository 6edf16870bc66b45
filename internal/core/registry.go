package core

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// SessionInfo is a snapshot of a live session for who/kick and the admin API.
type SessionInfo struct {
	ID       string        `json:"id"`
	User     string        `json:"user"`
	Protocol string        `json:"protocol"`
	Service  string        `json:"service,omitempty"`
	Remote   string        `json:"remote"`
	Start    time.Time     `json:"start"`
	Transfer *TransferInfo `json:"transfer,omitempty"`
}

// TransferInfo describes the transfer a session is running.
type TransferInfo struct {
	Path      string    `json:"path"`
	Direction string    `json:"direction"` // "upload" or "download"
	Bytes     int64     `json:"bytes"`
	Size      int64     `json:"size"` // -1 when unknown
	Start     time.Time `json:"start"`
}

type registry struct {
	mu       sync.Mutex
	sessions map[string]*Session
}

func newRegistry() *registry { return &registry{sessions: make(map[string]*Session)} }

func (r *registry) add(s *Session) {
	r.mu.Lock()
	r.sessions[s.id] = s
	r.mu.Unlock()
}

func (r *registry) remove(s *Session) {
	r.mu.Lock()
	delete(r.sessions, s.id)
	r.mu.Unlock()
}

func (r *registry) snapshot(match func(*Session) bool) []*Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Session
	for _, s := range r.sessions {
		if match == nil || match(s) {
			out = append(out, s)
		}
	}
	return out
}

func (r *registry) list() []SessionInfo {
	ss := r.snapshot(nil)
	out := make([]SessionInfo, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.Info())
	}
	slices.SortFunc(out, func(a, b SessionInfo) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

func (r *registry) kick(id string) bool {
	ss := r.snapshot(func(s *Session) bool { return s.id == id })
	for _, s := range ss {
		s.kick()
	}
	return len(ss) > 0
}

func (r *registry) kickUser(name string) int {
	ss := r.snapshot(func(s *Session) bool { return s.user.Name == name })
	for _, s := range ss {
		s.kick()
	}
	return len(ss)
}

func (r *registry) kickAll() {
	for _, s := range r.snapshot(nil) {
		s.kick()
	}
}

func (r *registry) countService(name string) int {
	return len(r.snapshot(func(s *Session) bool { return s.service == name }))
}
