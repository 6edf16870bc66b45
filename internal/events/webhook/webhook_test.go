package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/events/webhook"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/store"
)

const secret = "s3cret"

// receiver is a webhook endpoint on 127.0.0.1 that fails while failing > 0
// (counting down) and records the bodies it accepts.
type receiver struct {
	t       *testing.T
	mu      sync.Mutex
	failing int
	down    bool // fail everything
	tries   int
	got     []string
	ids     []string
	arrived chan struct{}
	failed  chan struct{}
}

func newReceiver(t *testing.T) (*receiver, string) {
	r := &receiver{t: t, arrived: make(chan struct{}, 1000), failed: make(chan struct{}, 1000)}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL + "/hook"
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if !webhook.Verify(secret, body, req.Header.Get(webhook.SignatureHeader)) {
		r.t.Errorf("bad signature %q on %s", req.Header.Get(webhook.SignatureHeader), body)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tries++
	if r.down || r.failing > 0 {
		if r.failing > 0 {
			r.failing--
		}
		r.failed <- struct{}{}
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	var p struct {
		Path string `json:"virtual_path"`
	}
	_ = json.Unmarshal(body, &p)
	r.got = append(r.got, p.Path)
	r.ids = append(r.ids, req.Header.Get(webhook.DeliveryHeader))
	r.arrived <- struct{}{}
}

func (r *receiver) set(down bool, failing int) {
	r.mu.Lock()
	r.down, r.failing = down, failing
	r.mu.Unlock()
}

func (r *receiver) paths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func wait(t *testing.T, ch chan struct{}, n int) {
	t.Helper()
	for range n {
		select {
		case <-ch:
		case <-t.Context().Done():
			t.Fatalf("gave up waiting")
		}
	}
}

// server is one "run" of Ferry's delivery side over a store file.
type server struct {
	st     *store.Store
	d      *webhook.Deliverer
	cancel context.CancelFunc
	dead   chan string // rules whose entry became a dead letter
}

func start(t *testing.T, dsn string, rule *ferry.Rule) *server {
	t.Helper()
	st, err := store.Open(t.Context(), store.Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	dead := make(chan string, 100)
	d, err := webhook.New(webhook.Options{Outbox: st, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond,
		Poll: 20 * time.Millisecond, Logger: ferrytest.Logger(t),
		OnResult: func(rule string, _ error, isDead bool) {
			if isDead {
				dead <- rule
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.Start(ctx)
	d.SetRules([]*ferry.Rule{rule})
	s := &server{st: st, d: d, cancel: cancel, dead: dead}
	t.Cleanup(s.stop)
	return s
}

func (s *server) stop() {
	s.cancel()
	s.d.Wait()
	s.st.Close()
}

// outbox lists what is left once the workers stopped.
func (s *server) outbox(t *testing.T, f store.OutboxFilter) []ferry.OutboxEntry {
	t.Helper()
	s.cancel()
	s.d.Wait()
	left, err := s.st.ListOutbox(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	return left
}

func body(p string) []byte {
	return []byte(fmt.Sprintf(`{"event":"upload","virtual_path":%q}`, p))
}

func TestOutboxDeliversInOrderAcrossRestart(t *testing.T) {
	t.Parallel()
	recv, url := newReceiver(t)
	rule := &ferry.Rule{Name: "hook", Events: []ferry.EventType{ferry.EventUpload}, Action: ferry.ActionWebhook,
		URL: url, Secret: secret, MaxAttempts: 1000}
	dsn := filepath.Join(t.TempDir(), "ferry.db")

	// First run: the endpoint is down; five events queue up.
	recv.set(true, 0)
	s1 := start(t, dsn, rule)
	var want []string
	for i := range 5 {
		p := "/f" + strconv.Itoa(i)
		want = append(want, p)
		if err := s1.d.Enqueue(t.Context(), "hook", body(p)); err != nil {
			t.Fatal(err)
		}
	}
	wait(t, recv.failed, 3) // retried with backoff, still failing
	s1.stop()               // Ferry stops ("killed") with everything undelivered

	// Second run on the same database: five more events; the endpoint
	// fails three more requests, then recovers.
	s2 := start(t, dsn, rule)
	recv.set(false, 3)
	for i := 5; i < 10; i++ {
		p := "/f" + strconv.Itoa(i)
		want = append(want, p)
		if err := s2.d.Enqueue(t.Context(), "hook", body(p)); err != nil {
			t.Fatal(err)
		}
	}
	wait(t, recv.arrived, 10)
	if got := recv.paths(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("received %v, want every event once, in order: %v", got, want)
	}
	if left := s2.outbox(t, store.OutboxFilter{}); len(left) != 0 {
		t.Errorf("outbox after delivery: %+v", left)
	}
}

func TestDeadLetterAndReplay(t *testing.T) {
	t.Parallel()
	recv, url := newReceiver(t)
	rule := &ferry.Rule{Name: "hook", Events: []ferry.EventType{ferry.EventUpload}, Action: ferry.ActionWebhook,
		URL: url, Secret: secret, MaxAttempts: 2}
	recv.set(true, 0)
	s := start(t, filepath.Join(t.TempDir(), "ferry.db"), rule)
	if err := s.d.Enqueue(t.Context(), "hook", body("/lost")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.dead:
	case <-t.Context().Done():
		t.Fatal("no dead letter")
	}
	dead, err := s.st.ListOutbox(t.Context(), store.OutboxFilter{Dead: true})
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead letters: %+v, %v", dead, err)
	}
	if dead[0].Attempts != 2 || dead[0].LastError == "" {
		t.Errorf("dead letter = %+v", dead[0])
	}
	// Events behind a dead letter still go out.
	recv.set(false, 0)
	if err := s.d.Enqueue(t.Context(), "hook", body("/next")); err != nil {
		t.Fatal(err)
	}
	wait(t, recv.arrived, 1)
	if n, err := s.st.ReplayOutbox(t.Context(), store.OutboxFilter{Rule: "hook"}); err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	s.d.Wake("hook")
	wait(t, recv.arrived, 1)
	if got := recv.paths(); fmt.Sprint(got) != "[/next /lost]" {
		t.Errorf("received %v", got)
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	// HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), RFC 4231-style known answer.
	got := webhook.Sign("key", []byte("The quick brown fox jumps over the lazy dog"))
	if want := "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}
