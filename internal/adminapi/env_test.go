package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/adminapi"
	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/events/metrics"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/servicemgr"
	"github.com/ferrymft/ferry/internal/store"
)

// env is an admin API over a real listener, a real SQLite store, a real
// service manager (running a trivial "ftp" runner) and a core engine.
type env struct {
	t    *testing.T
	url  string
	st   *store.Store
	eng  *ferrytest.Env
	pub  *recorder
	home string
	srv  *adminapi.Server
	opts adminapi.Options
}

// Admins every env has, with their passwords equal to their names.
const (
	rootAdmin   = "root"   // full
	viewerAdmin = "viewer" // read-only
	umAdmin     = "um"     // user-manager
)

var (
	hashMu    sync.Mutex
	hashCache = map[string]string{}
)

// hash caches argon2id hashes of test passwords.
func hash(t *testing.T, pw string) string {
	hashMu.Lock()
	defer hashMu.Unlock()
	if h, ok := hashCache[pw]; ok {
		return h
	}
	h, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	hashCache[pw] = h
	return h
}

type recorder struct {
	mu  sync.Mutex
	evs []ferry.Event
}

func (r *recorder) Publish(ev ferry.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

func (r *recorder) find(path, action string) *ferry.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.evs {
		if e := &r.evs[i]; e.Type == ferry.EventAdminChange && e.Path == path && e.Target == action {
			return e
		}
	}
	return nil
}

// echoRunner accepts connections and closes them: enough for a service
// to be "running" with a bound address.
type echoRunner struct{}

func (echoRunner) Serve(ctx context.Context, ln net.Listener) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		c.Close()
	}
}

type source struct{ st *store.Store }

func (s source) ListServices(ctx context.Context) ([]*ferry.Service, error) {
	return s.st.ListServices(ctx, ferry.ListOptions{})
}

// services adapts the store and the manager as app does.
type services struct {
	*store.Store
	mgr *servicemgr.Manager
}

func (s services) ServiceStatus(ctx context.Context) ([]adminapi.ServiceStatus, error) {
	sts, err := s.mgr.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]adminapi.ServiceStatus, len(sts))
	for i, st := range sts {
		out[i] = adminapi.ServiceStatus{Name: st.Service.Name, State: string(st.State), Address: st.Address, Error: st.Error, Sessions: st.Sessions}
	}
	return out, nil
}

func (s services) CheckService(v ferry.Service) error {
	for k, val := range v.Options {
		if k != "banner" {
			return errors.New("option \"" + k + "\": unknown for an ftp service; accepted keys are banner: " + ferry.ErrInvalid.Error())
		}
		if val == "bad" {
			return errors.Join(ferry.ErrInvalid, errors.New("option banner: \"bad\": accepted values are anything but bad"))
		}
	}
	if v.Kind != ferry.ServiceFTP {
		return errors.Join(ferry.ErrInvalid, errors.New("protocol \""+string(v.Kind)+"\" is not available in this build"))
	}
	return nil
}

type tokens struct{ st *store.Store }

func (t tokens) CreateToken(ctx context.Context, tok *adminapi.Token) error {
	st := store.APIToken(*tok)
	err := t.st.CreateToken(ctx, &st)
	*tok = adminapi.Token(st)
	return err
}

func (t tokens) TokenByHash(ctx context.Context, h string) (*adminapi.Token, error) {
	st, err := t.st.TokenByHash(ctx, h)
	if err != nil {
		return nil, err
	}
	tok := adminapi.Token(*st)
	return &tok, nil
}

func (t tokens) ListTokens(ctx context.Context, admin, kind string) ([]*adminapi.Token, error) {
	sts, err := t.st.ListTokens(ctx, admin, kind)
	out := make([]*adminapi.Token, len(sts))
	for i, st := range sts {
		tok := adminapi.Token(*st)
		out[i] = &tok
	}
	return out, err
}

func (t tokens) TouchToken(ctx context.Context, name string, at time.Time) error {
	return t.st.TouchToken(ctx, name, at)
}
func (t tokens) DeleteToken(ctx context.Context, name string) error {
	return t.st.DeleteToken(ctx, name)
}
func (t tokens) DeleteAdminTokens(ctx context.Context, a string) (int, error) {
	return t.st.DeleteAdminTokens(ctx, a)
}
func (t tokens) PurgeExpiredTokens(ctx context.Context, now time.Time) (int, error) {
	return t.st.PurgeExpiredTokens(ctx, now)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, store.Options{DSN: filepath.Join(t.TempDir(), "ferry.db")})
	if err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]ferry.Role{rootAdmin: ferry.RoleFull, viewerAdmin: ferry.RoleReadOnly, umAdmin: ferry.RoleUserManager} {
		if err := st.CreateAdmin(ctx, &ferry.Admin{Name: name, PasswordHash: hash(t, name), Role: role, Status: ferry.StatusActive}); err != nil {
			t.Fatal(err)
		}
	}
	fe := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.Perm("/=all")))
	mgr, err := servicemgr.New(servicemgr.Options{
		Source:    source{st},
		Factories: map[ferry.ServiceKind]servicemgr.Factory{ferry.ServiceFTP: func(ferry.Service) (servicemgr.Runner, error) { return echoRunner{}, nil }},
		Sessions:  fe.Engine.CountService,
	})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		mgr.Run(ctx, 20*time.Millisecond, st.Changes)
	}()
	e := &env{t: t, st: st, eng: fe, pub: &recorder{}, home: t.TempDir()}
	events := adminapi.NewEventLog(100)
	m := metrics.New(metrics.Options{Outbox: st.OutboxDepth})
	e.opts = adminapi.Options{
		Accounts: st, Services: services{st, mgr}, Bans: st, Tokens: tokens{st}, Live: fe.Engine,
		Rules: st, Outbox: outbox{st}, Metrics: m.Handler(),
		Events: events, Publisher: multi{e.pub, events, m}, Defender: fe.Engine, Logger: ferrytest.Logger(t),
		HomeRoot: e.home, Version: "test", Node: "node1", StoreKind: st.Kind(),
	}
	srv, err := adminapi.New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	ln := ferrytest.Listen(t)
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-serveDone; err != nil {
			t.Errorf("Serve: %v", err)
		}
		<-runDone
		st.Close()
	})
	e.url = "http://" + ln.Addr().String()
	return e
}

// multi publishes to the recorder, the event log and the metrics.
type multi struct {
	r *recorder
	l *adminapi.EventLog
	m *metrics.Metrics
}

func (m multi) Publish(ev ferry.Event) {
	m.r.Publish(ev)
	m.l.Record(context.Background(), ev)
	m.m.Handle(context.Background(), ev)
}

// outbox adapts the store's outbox as app does.
type outbox struct{ st *store.Store }

func (o outbox) ListOutbox(ctx context.Context, q adminapi.OutboxQuery) ([]ferry.OutboxEntry, error) {
	if len(q.IDs) == 0 {
		return o.st.ListOutbox(ctx, store.OutboxFilter{Rule: q.Rule, Dead: q.Dead, Limit: q.Limit})
	}
	var out []ferry.OutboxEntry
	for _, id := range q.IDs {
		es, err := o.st.ListOutbox(ctx, store.OutboxFilter{Rule: q.Rule, Dead: q.Dead, ID: id})
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

func (o outbox) ReplayOutbox(ctx context.Context, q adminapi.OutboxQuery) (int, error) {
	total := 0
	for _, id := range append([]int64{0}, q.IDs...)[min(1, len(q.IDs)):] {
		n, err := o.st.ReplayOutbox(ctx, store.OutboxFilter{Rule: q.Rule, ID: id})
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// resp is a decoded answer.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r *resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r *resp) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	r.json(t, &m)
	return m
}

// apiErr is the decoded error object.
func (r *resp) apiErr(t *testing.T) (code, field string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message, Field string }
	}
	r.json(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("error body %s lacks code or message", r.body)
	}
	return e.Error.Code, e.Error.Field
}

// do sends a request with token (if not empty) and an optional JSON body
// and extra headers as "Name: value" strings.
func (e *env) do(method, path, token string, body any, headers ...string) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &resp{status: res.StatusCode, header: res.Header, body: b}
}

// want fails unless r has status.
func (e *env) want(r *resp, status int) *resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

// wantErr fails unless r is an error with status, code and field.
func (e *env) wantErr(r *resp, status int, code, field string) {
	e.t.Helper()
	e.want(r, status)
	if c, f := r.apiErr(e.t); c != code || f != field {
		e.t.Fatalf("error code %q field %q, want %q %q; body %s", c, f, code, field, r.body)
	}
}

// token signs in as admin (password = name) and returns the bearer token.
func (e *env) token(admin string) string {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url+"/api/v1/auth/token", nil)
	req.SetBasicAuth(admin, admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var v struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if res.StatusCode != http.StatusCreated {
		e.t.Fatalf("sign in as %s: status %d", admin, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil || v.Token == "" || v.ExpiresAt.IsZero() {
		e.t.Fatalf("sign in as %s: %+v, %v", admin, v, err)
	}
	return v.Token
}
