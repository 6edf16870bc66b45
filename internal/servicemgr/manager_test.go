package servicemgr

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/ferrymft/ferry/internal/ferry"
)

type fakeSource struct {
	mu   sync.Mutex
	defs map[string]*ferry.Service
}

func (f *fakeSource) ListServices(context.Context) ([]*ferry.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*ferry.Service
	for _, d := range f.defs {
		c := *d
		out = append(out, &c)
	}
	return out, nil
}

func (f *fakeSource) put(d ferry.Service) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.defs[d.Name]; ok {
		d.Version = old.Version + 1
	} else {
		d.Version = 1
	}
	f.defs[d.Name] = &d
}

func (f *fakeSource) del(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.defs, name)
}

// greeter answers every connection with one line naming the service.
type greeter struct{ name string }

func (g greeter) Serve(ctx context.Context, ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		_, _ = c.Write([]byte("hello from " + g.name + "\n"))
		c.Close()
	}
}

func greet(t *testing.T, addr string) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return bufio.NewReader(c).ReadString('\n')
}

func newManager(t *testing.T, src *fakeSource) *Manager {
	t.Helper()
	m, err := New(Options{Source: src, Factories: map[ferry.ServiceKind]Factory{
		ferry.ServiceFTP: func(svc ferry.Service) (Runner, error) { return greeter{svc.Name}, nil },
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.StopAll)
	return m
}

func statusOf(t *testing.T, m *Manager, name string) Status {
	t.Helper()
	sts, err := m.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts {
		if s.Service.Name == name {
			return s
		}
	}
	t.Fatalf("no status for %q in %+v", name, sts)
	return Status{}
}

func TestLiveAddChangeRemoveLeavesOthersAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &fakeSource{defs: map[string]*ferry.Service{}}
	m := newManager(t, src)
	src.put(ferry.Service{Name: "a", Kind: ferry.ServiceFTP, Listen: "127.0.0.1:0", Enabled: true})
	src.put(ferry.Service{Name: "b", Kind: ferry.ServiceFTP, Listen: "127.0.0.1:0", Enabled: true})
	if err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	addrA, addrB := statusOf(t, m, "a").Address, statusOf(t, m, "b").Address
	if got, err := greet(t, addrA); err != nil || got != "hello from a\n" {
		t.Fatalf("greet a = %q, %v", got, err)
	}

	// Disable a: it stops; b keeps its listener.
	src.put(ferry.Service{Name: "a", Kind: ferry.ServiceFTP, Listen: "127.0.0.1:0", Enabled: false})
	if err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if st := statusOf(t, m, "a"); st.State != StateDisabled {
		t.Errorf("a state = %v, want disabled", st.State)
	}
	if _, err := greet(t, addrA); err == nil {
		t.Errorf("a still accepts connections after disable")
	}
	if st := statusOf(t, m, "b"); st.Address != addrB || st.State != StateRunning {
		t.Errorf("b = %+v, want untouched at %s", st, addrB)
	}
	if got, err := greet(t, addrB); err != nil || got != "hello from b\n" {
		t.Fatalf("greet b = %q, %v", got, err)
	}

	// Remove b: gone from status, port closed.
	src.del("b")
	if err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := greet(t, addrB); err == nil {
		t.Errorf("b still accepts connections after removal")
	}
}

func TestBindFailureAndUnknownKindAreReported(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	src := &fakeSource{defs: map[string]*ferry.Service{}}
	m := newManager(t, src)
	src.put(ferry.Service{Name: "clash", Kind: ferry.ServiceFTP, Listen: busy.Addr().String(), Enabled: true})
	src.put(ferry.Service{Name: "web", Kind: ferry.ServiceHTTP, Listen: "127.0.0.1:0", Enabled: true})
	if err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if st := statusOf(t, m, "clash"); st.State != StateFailed || !strings.Contains(st.Error, "address already in use") {
		t.Errorf("clash = %+v, want failed with address already in use", st)
	}
	if st := statusOf(t, m, "web"); st.State != StateFailed || !strings.Contains(st.Error, `protocol "http" is not available`) {
		t.Errorf("web = %+v, want failed: protocol not available", st)
	}
	// Fixing the definition retries it.
	busy.Close()
	src.put(ferry.Service{Name: "clash", Kind: ferry.ServiceFTP, Listen: "127.0.0.1:0", Enabled: true})
	if err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if st := statusOf(t, m, "clash"); st.State != StateRunning {
		t.Errorf("clash after fix = %+v, want running", st)
	}
}
