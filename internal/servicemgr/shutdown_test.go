package servicemgr

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// runShutdown starts Run with one echo service and returns its address,
// the cancel that begins the shutdown and a channel closed when Run ends.
func runShutdown(t *testing.T, grace time.Duration, busy *atomic.Int64) (string, context.CancelFunc, chan struct{}) {
	t.Helper()
	reg := &sessions{conns: map[string]map[net.Conn]bool{}}
	src := &fakeSource{defs: map[string]*ferry.Service{}}
	src.put(ferry.Service{Name: "a", Kind: ferry.ServiceFTP, Listen: "127.0.0.1:0", Enabled: true})
	m, err := New(Options{Source: src, Sessions: reg.count, Kick: reg.kick,
		Busy: func() int { return int(busy.Load()) }, ShutdownGrace: grace,
		Factories: map[ferry.ServiceKind]Factory{
			ferry.ServiceFTP: func(svc ferry.Service) (Runner, error) { return echo{svc.Name, reg}, nil },
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	addr := statusOf(t, m, "a").Address
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx, time.Hour, func(context.Context) (int64, error) { return 0, nil })
	}()
	return addr, cancel, done
}

// At shutdown with a transfer in progress the listeners close at once,
// the session keeps being served, and Run ends when the transfer does.
func TestShutdownWaitsForTransfers(t *testing.T) {
	t.Parallel()
	var busy atomic.Int64
	busy.Store(1)
	addr, cancel, done := runShutdown(t, time.Hour, &busy)
	cl := dialSession(t, addr)
	if got, err := cl.roundTrip("one"); err != nil || got != "a: one\n" {
		t.Fatalf("before shutdown: %q, %v", got, err)
	}
	cancel()
	waitUntil(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case <-done:
		t.Fatal("Run returned while a transfer was in progress")
	default:
	}
	if got, err := cl.roundTrip("two"); err != nil || got != "a: two\n" {
		t.Fatalf("session during the shutdown grace: %q, %v", got, err)
	}
	busy.Store(0)
	<-done
	if _, err := cl.roundTrip("three"); err == nil {
		t.Error("the session survived the shutdown")
	}
}

// A transfer that outlasts the shutdown grace is cut.
func TestShutdownGraceEnds(t *testing.T) {
	t.Parallel()
	var busy atomic.Int64
	busy.Store(1)
	addr, cancel, done := runShutdown(t, 20*time.Millisecond, &busy)
	cl := dialSession(t, addr)
	if _, err := cl.roundTrip("one"); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if _, err := cl.roundTrip("two"); err == nil {
		t.Error("the session survived the end of the shutdown grace")
	}
}
