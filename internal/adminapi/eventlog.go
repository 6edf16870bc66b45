package adminapi

import (
	"context"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// EventLog keeps the most recent events in memory for GET /api/v1/events
// and the dashboard. app subscribes Record to the event bus once, so the
// log outlives restarts of the admin service.
type EventLog struct {
	mu   sync.Mutex
	ring []ferry.Event
	next int
	full bool
}

// NewEventLog keeps the last size events (default 10000).
func NewEventLog(size int) *EventLog {
	if size <= 0 {
		size = 10000
	}
	return &EventLog{ring: make([]ferry.Event, size)}
}

// Record adds ev; its signature fits the event bus's Handler.
func (l *EventLog) Record(_ context.Context, ev ferry.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.next] = ev
	l.next++
	if l.next == len(l.ring) {
		l.next, l.full = 0, true
	}
}

// EventFilter selects events; zero fields match everything.
type EventFilter struct {
	User   string
	Types  []ferry.EventType
	Since  time.Time // inclusive
	Until  time.Time // exclusive
	Limit  int       // newest Limit events; 0 means all kept
	Offset int       // skip that many of the newest matches first
}

func (f *EventFilter) match(ev *ferry.Event) bool {
	if f.User != "" && ev.User != f.User {
		return false
	}
	if len(f.Types) > 0 {
		ok := false
		for _, t := range f.Types {
			ok = ok || ev.Type == t
		}
		if !ok {
			return false
		}
	}
	if !f.Since.IsZero() && ev.Time.Before(f.Since) {
		return false
	}
	return f.Until.IsZero() || ev.Time.Before(f.Until)
}

// Query returns matching events, newest first.
func (l *EventLog) Query(f EventFilter) []ferry.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.next
	if l.full {
		n = len(l.ring)
	}
	out := []ferry.Event{}
	skip := f.Offset
	for i := range n {
		ev := &l.ring[(l.next-1-i+len(l.ring))%len(l.ring)]
		if !f.match(ev) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, *ev)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out
}
