package servicemgr

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// sessions is a fake of core's registry: the connections each service
// holds, by service name.
type sessions struct {
	mu     sync.Mutex
	conns  map[string]map[net.Conn]bool
	kicked []string
}

func (s *sessions) add(svc string, c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[svc] == nil {
		s.conns[svc] = map[net.Conn]bool{}
	}
	s.conns[svc][c] = true
}

func (s *sessions) remove(svc string, c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns[svc], c)
}

func (s *sessions) count(svc string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns[svc])
}

func (s *sessions) kick(svc string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kicked = append(s.kicked, svc)
	for c := range s.conns[svc] {
		c.Close()
	}
	return len(s.conns[svc])
}

func (s *sessions) kicks() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.kicked...)
}

// echo serves each connection as a session: it echoes lines back,
// prefixed with its service's name, until the client hangs up or ctx ends.
type echo struct {
	name string
	reg  *sessions
}

func (e echo) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		e.reg.add(e.name, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer e.reg.remove(e.name, c)
			defer context.AfterFunc(ctx, func() { c.Close() })()
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if _, err := io.WriteString(c, e.name+": "+line); err != nil {
					return
				}
			}
		}()
	}
}

func newGraceManager(t *testing.T, src *fakeSource, grace time.Duration) (*Manager, *sessions) {
	t.Helper()
	reg := &sessions{conns: map[string]map[net.Conn]bool{}}
	m, err := New(Options{Source: src, Grace: grace, Sessions: reg.count, Kick: reg.kick,
		Factories: map[ferry.ServiceKind]Factory{
			ferry.ServiceFTP: func(svc ferry.Service) (Runner, error) { return echo{svc.Name, reg}, nil },
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.StopAll)
	return m, reg
}

type client struct {
	c net.Conn
	r *bufio.Reader
}

func dialSession(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{c, bufio.NewReader(c)}
}

func (c *client) roundTrip(line string) (string, error) {
	if _, err := io.WriteString(c.c, line+"\n"); err != nil {
		return "", err
	}
	return c.r.ReadString('\n')
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (m *Manager) drainingCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.draining)
}

// A stopped service's listener closes at once; its session keeps working
// within the grace period and, when the client leaves, the service's
// Serve ends without any kick.
func TestStopKeepsSessionsForGrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &fakeSource{defs: map[string]*ferry.Service{}}
	m, reg := newGraceManager(t, src, time.Hour)
	src.put(ferry.Service{Name: "a", Kind: ferry.ServiceFTP, Listen: "127.0.0.1:0", Enabled: true})
	if err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	addr := statusOf(t, m, "a").Address
	cl := dialSession(t, addr)
	if got, err := cl.roundTrip("one"); err != nil || got != "a: one\n" {
		t.Fatalf("before stop: %q, %v", got, err)
	}

	src.put(ferry.Service{Name: "a", Kind: ferry.ServiceFTP, Listen: addr, Enabled: false})
	if err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if st := statusOf(t, m, "a"); st.State != StateDisabled || st.Sessions != 1 {
		t.Errorf("after stop: %+v, want disabled with 1 session", st)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("a stopped service still accepts connections")
	}
	if got, err := cl.roundTrip("two"); err != nil || got != "a: two\n" {
		t.Fatalf("session within the grace period: %q, %v", got, err)
	}
	cl.c.Close()
	waitUntil(t, "the stopped service to finish", func() bool { return m.drainingCount() == 0 })
	if k := reg.kicks(); len(k) != 0 {
		t.Errorf("kicked %v although the session ended on its own", k)
	}
}

// When the grace period runs out, the stopped service's sessions are
// kicked through the registry; the other service's are not.
func TestStopKicksSessionsAfterGrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &fakeSource{defs: map[string]*ferry.Service{}}
	m, reg := newGraceManager(t, src, 20*time.Millisecond)
	src.put(ferry.Service{Name: "a", Kind: ferry.ServiceFTP, Listen: "127.0.0.1:0", Enabled: true})
	src.put(ferry.Service{Name: "b", Kind: ferry.ServiceFTP, Listen: "127.0.0.1:0", Enabled: true})
	if err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	ca := dialSession(t, statusOf(t, m, "a").Address)
	cb := dialSession(t, statusOf(t, m, "b").Address)
	for _, c := range []*client{ca, cb} {
		if _, err := c.roundTrip("hi"); err != nil {
			t.Fatal(err)
		}
	}
	src.del("a")
	if err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.r.ReadString('\n'); err == nil {
		t.Fatal("a's session got a line instead of being disconnected")
	}
	waitUntil(t, "a to finish", func() bool { return m.drainingCount() == 0 })
	if k := reg.kicks(); len(k) != 1 || k[0] != "a" {
		t.Errorf("kicks = %v, want [a]", k)
	}
	if got, err := cb.roundTrip("still"); err != nil || got != "b: still\n" {
		t.Errorf("b's session after a was removed: %q, %v", got, err)
	}
}

// A restart (changed definition) moves the service to its new listener
// at once; the old sessions go on within the grace and are not kicked by
// name (that would hit the new instance's sessions).
func TestRestartKeepsOldSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &fakeSource{defs: map[string]*ferry.Service{}}
	m, reg := newGraceManager(t, src, time.Hour)
	src.put(ferry.Service{Name: "a", Kind: ferry.ServiceFTP, Listen: "127.0.0.1:0", Enabled: true})
	if err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	addr := statusOf(t, m, "a").Address
	old := dialSession(t, addr)
	if _, err := old.roundTrip("x"); err != nil {
		t.Fatal(err)
	}
	// Same port, new definition: the old listener must be gone for the
	// new one to bind.
	src.put(ferry.Service{Name: "a", Kind: ferry.ServiceFTP, Listen: addr, Enabled: true, Options: map[string]string{"v": "2"}})
	if err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if st := statusOf(t, m, "a"); st.State != StateRunning || st.Address != addr {
		t.Fatalf("after restart: %+v, want running at %s", st, addr)
	}
	fresh := dialSession(t, addr)
	if got, err := fresh.roundTrip("new"); err != nil || got != "a: new\n" {
		t.Fatalf("new instance: %q, %v", got, err)
	}
	if got, err := old.roundTrip("old"); err != nil || got != "a: old\n" {
		t.Fatalf("old session after restart: %q, %v", got, err)
	}
	if m.drainingCount() != 1 {
		t.Errorf("draining = %d, want the old instance", m.drainingCount())
	}
	m.StopAll()
	if _, err := old.r.ReadString('\n'); err == nil {
		t.Error("StopAll left the old session open")
	}
	if k := reg.kicks(); len(k) != 0 && k[0] != "a" {
		t.Errorf("kicks = %v", k)
	}
}
