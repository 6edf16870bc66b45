package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

func testRules(t *testing.T, s *store.Store) {
	ctx := t.Context()
	r := &ferry.Rule{
		Name: "notify", Events: []ferry.EventType{ferry.EventUpload, ferry.EventDelete},
		Users: []string{"alice"}, Groups: []string{"partners"}, Protocols: []ferry.Protocol{ferry.SFTP},
		Paths: []string{"/in/**", "*.csv"}, MinSize: 1, MaxSize: 1 << 20, Status: "ok",
		Action: ferry.ActionWebhook, URL: "https://hooks.example/x", Secret: "s3cret",
		Timeout: 5 * time.Second, MaxAttempts: 3,
	}
	c := changes(t, s)
	must(t, "create", s.CreateRule(ctx, r))
	if r.ID == 0 || r.Version != 1 || changes(t, s) == c {
		t.Errorf("CreateRule: id %d version %d, counter %d→%d", r.ID, r.Version, c, changes(t, s))
	}
	got, err := s.GetRule(ctx, "notify")
	must(t, "get", err)
	if !reflect.DeepEqual(got, r) {
		t.Errorf("GetRule:\n got %+v\nwant %+v", got, r)
	}
	wantErr(t, "create twice", s.CreateRule(ctx, r), ferry.ErrExists, `rule "notify"`)
	bad := &ferry.Rule{Name: "bad", Events: []ferry.EventType{"uplod"}, Action: ferry.ActionExec, Command: []string{"/bin/true"}}
	wantErr(t, "create invalid", s.CreateRule(ctx, bad), ferry.ErrInvalid, `"uplod"`)

	hook := &ferry.Rule{Name: "gate", Events: []ferry.EventType{ferry.EventUpload}, Action: ferry.ActionExec,
		Command: []string{"/usr/local/bin/scan", "--quick"}, PreHook: true, FailOpen: true}
	must(t, "create pre-hook", s.CreateRule(ctx, hook))
	got.URL = "https://hooks.example/y"
	must(t, "update", s.UpdateRule(ctx, got))
	rules, err := s.ListRules(ctx, store.ListOptions{})
	must(t, "list", err)
	if len(rules) != 2 || rules[0].Name != "gate" || !rules[0].PreHook || rules[1].URL != "https://hooks.example/y" || rules[1].Version != 2 {
		t.Errorf("ListRules = %+v %+v", rules[0], rules[1])
	}
	must(t, "delete", s.DeleteRule(ctx, "gate"))
	wantErr(t, "delete twice", s.DeleteRule(ctx, "gate"), ferry.ErrNotFound, `rule "gate"`)
}

func testOutbox(t *testing.T, s *store.Store) {
	ctx := t.Context()
	_, err := s.NextOutbox(ctx, "hook")
	wantErr(t, "next of empty", err, ferry.ErrNotFound)
	c := changes(t, s)
	var ids []int64
	for _, p := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
		id, err := s.EnqueueOutbox(ctx, "hook", []byte(p))
		must(t, "enqueue", err)
		ids = append(ids, id)
	}
	_, err = s.EnqueueOutbox(ctx, "other", []byte(`{}`))
	must(t, "enqueue other", err)
	if changes(t, s) != c {
		t.Errorf("outbox writes moved the change counter")
	}
	e, err := s.NextOutbox(ctx, "hook")
	must(t, "next", err)
	if e.ID != ids[0] || string(e.Payload) != `{"n":1}` || e.Attempts != 0 || e.Dead || e.NextAt.IsZero() {
		t.Errorf("NextOutbox = %+v", e)
	}
	later := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, "fail", s.FailedOutbox(ctx, e.ID, 1, later, "503 Service Unavailable", false))
	e, err = s.NextOutbox(ctx, "hook")
	must(t, "next after failure", err)
	if e.ID != ids[0] || e.Attempts != 1 || !e.NextAt.Equal(later) || e.LastError != "503 Service Unavailable" {
		t.Errorf("after a failure the head stays, with its attempt recorded: %+v", e)
	}
	must(t, "dead", s.FailedOutbox(ctx, e.ID, 2, later, "gave up", true))
	e, err = s.NextOutbox(ctx, "hook")
	must(t, "next after dead letter", err)
	if e.ID != ids[1] {
		t.Errorf("a dead letter leaves the queue: next is %d, want %d", e.ID, ids[1])
	}
	dead, err := s.ListOutbox(ctx, store.OutboxFilter{Dead: true})
	must(t, "list dead", err)
	if len(dead) != 1 || dead[0].ID != ids[0] || !dead[0].Dead || dead[0].Attempts != 2 {
		t.Errorf("dead letters = %+v", dead)
	}
	pending, err := s.ListOutbox(ctx, store.OutboxFilter{Rule: "hook"})
	must(t, "list pending", err)
	if len(pending) != 2 || pending[0].ID != ids[1] || pending[1].ID != ids[2] {
		t.Errorf("pending = %+v", pending)
	}
	p, d, err := s.OutboxDepth(ctx)
	must(t, "depth", err)
	if p["hook"] != 2 || p["other"] != 1 || d["hook"] != 1 {
		t.Errorf("OutboxDepth = %v %v", p, d)
	}
	n, err := s.ReplayOutbox(ctx, store.OutboxFilter{Rule: "hook"})
	must(t, "replay", err)
	if n != 1 {
		t.Errorf("replayed %d, want 1", n)
	}
	e, err = s.NextOutbox(ctx, "hook")
	must(t, "next after replay", err)
	if e.ID != ids[0] || e.Attempts != 0 || e.Dead {
		t.Errorf("a replayed letter takes its place again: %+v", e)
	}
	for _, id := range ids {
		must(t, "delivered", s.DeliveredOutbox(ctx, id))
	}
	if _, err := s.NextOutbox(ctx, "hook"); !errors.Is(err, ferry.ErrNotFound) {
		t.Errorf("after delivering everything: %v", err)
	}
}
