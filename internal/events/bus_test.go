package events

import (
	"context"
	"sync"
	"testing"

	"github.com/ferrymft/ferry/internal/ferry"
)

func TestBusDeliversInOrderAndDrainsOnClose(t *testing.T) {
	t.Parallel()
	b := New(Options{})
	var mu sync.Mutex
	var got []string
	b.Subscribe(context.Background(), "test", 100, func(_ context.Context, ev ferry.Event) {
		mu.Lock()
		got = append(got, ev.Path)
		mu.Unlock()
	})
	for _, p := range []string{"/a", "/b", "/c"} {
		b.Publish(ferry.Event{Type: ferry.EventUpload, Path: p})
	}
	b.Close()
	if len(got) != 3 || got[0] != "/a" || got[1] != "/b" || got[2] != "/c" {
		t.Fatalf("got %v, want [/a /b /c]", got)
	}
	b.Publish(ferry.Event{Path: "/late"}) // after Close: ignored, no panic
}

func TestBusDropsInsteadOfBlocking(t *testing.T) {
	t.Parallel()
	b := New(Options{})
	release := make(chan struct{})
	b.Subscribe(context.Background(), "slow", 1, func(context.Context, ferry.Event) { <-release })
	for range 10 {
		b.Publish(ferry.Event{Type: ferry.EventLogin}) // must not block
	}
	if d := b.Dropped()["slow"]; d < 8 {
		t.Errorf("dropped = %d, want at least 8 of 10 with a queue of 1", d)
	}
	close(release)
	b.Close()
}

func TestUnsubscribeDrains(t *testing.T) {
	t.Parallel()
	b := New(Options{})
	defer b.Close()
	var got []string
	stop := b.Subscribe(context.Background(), "test", 100, func(_ context.Context, ev ferry.Event) {
		got = append(got, ev.Path)
	})
	b.Publish(ferry.Event{Path: "/a"})
	b.Publish(ferry.Event{Path: "/b"})
	stop()
	b.Publish(ferry.Event{Path: "/after"}) // not delivered, no panic
	if len(got) != 2 {
		t.Fatalf("got %v, want [/a /b]", got)
	}
	stop() // twice is harmless
}
