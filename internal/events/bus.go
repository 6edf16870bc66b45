// Package events carries Ferry's events from the core to their sinks (logs,
// hooks, webhooks, metrics). Publishing never blocks: each subscriber has a
// bounded queue, and a subscriber that falls behind loses events, which are
// counted and reported, instead of slowing a transfer. app wires it; core
// sees it only through its own Publisher interface.
package events

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Handler consumes events, one at a time, in publication order.
type Handler func(ctx context.Context, ev ferry.Event)

// Bus fans events out to subscribers.
type Bus struct {
	mu     sync.RWMutex
	subs   []*subscriber
	log    *slog.Logger
	closed bool
	wg     sync.WaitGroup
}

type subscriber struct {
	name      string
	queue     chan ferry.Event
	dropped   atomic.Int64
	closeOnce sync.Once
	done      chan struct{}
}

func (s *subscriber) close() { s.closeOnce.Do(func() { close(s.queue) }) }

// Options configure a Bus.
type Options struct {
	Logger *slog.Logger
}

// New returns a Bus with no subscribers.
func New(opts Options) *Bus {
	return &Bus{log: cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))}
}

// Subscribe runs h for every event published after this call, on its own
// goroutine with a queue of size events (default 1024), until ctx ends or
// the bus closes. The returned function unsubscribes: it waits until h has
// handled the events already queued (callers may ignore it).
func (b *Bus) Subscribe(ctx context.Context, name string, size int, h Handler) (unsubscribe func()) {
	sub := &subscriber{name: name, queue: make(chan ferry.Event, cmp.Or(size, 1024)), done: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(sub.done)
		return func() {}
	}
	b.subs = append(b.subs, sub)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer close(sub.done)
		for {
			select {
			case ev, ok := <-sub.queue:
				if !ok {
					return
				}
				h(ctx, ev)
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		b.mu.Lock()
		for i, s := range b.subs {
			if s == sub {
				b.subs = append(b.subs[:i:i], b.subs[i+1:]...)
				break
			}
		}
		sub.close()
		b.mu.Unlock()
		<-sub.done
	}
}

// Publish queues ev for every subscriber without waiting.
func (b *Bus) Publish(ev ferry.Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return
	}
	for _, s := range b.subs {
		select {
		case s.queue <- ev:
		default:
			if s.dropped.Add(1)%1000 == 1 {
				b.log.Warn("event sink is slow; events dropped", "sink", s.name, "dropped", s.dropped.Load())
			}
		}
	}
}

// Dropped returns how many events each subscriber has lost to a full queue.
func (b *Bus) Dropped() map[string]int64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make(map[string]int64, len(b.subs))
	for _, s := range b.subs {
		out[s.name] += s.dropped.Load()
	}
	return out
}

// Close stops accepting events and waits for subscribers to drain.
func (b *Bus) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	for _, s := range b.subs {
		s.close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}
