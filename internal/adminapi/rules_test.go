package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ferrymft/ferry/internal/adminapi"
	"github.com/ferrymft/ferry/internal/ferry"
)

func TestRulesCRUD(t *testing.T) {
	e := newEnv(t)
	tok := e.token(rootAdmin)
	ctx := context.Background()

	hook := map[string]any{"name": "notify", "events": []string{"upload"}, "paths": []string{"/in/**"},
		"action": "webhook", "url": "https://hooks.example/ferry", "secret": "s3cret", "timeout": "5s"}
	r := e.want(e.do("POST", "/api/v1/rules", tok, hook), http.StatusCreated)
	if strings.Contains(string(r.body), "s3cret") || r.header.Get("Location") != "/api/v1/rules/notify" {
		t.Fatalf("create answer shows the secret or lacks Location: %s", r.body)
	}
	got := r.obj(t)
	if got["has_secret"] != true || got["timeout"] != "5s" || got["version"] == nil {
		t.Errorf("created %v", got)
	}
	stored, err := e.st.GetRule(ctx, "notify")
	if err != nil || stored.Secret != "s3cret" || stored.Timeout != 5*time.Second {
		t.Fatalf("stored %+v %v", stored, err)
	}
	if e.pub.find("/rules/notify", "create") == nil {
		t.Error("no admin_change event for the create")
	}
	e.wantErr(e.do("POST", "/api/v1/rules", tok, hook), http.StatusConflict, "exists", "name")

	r = e.want(e.do("GET", "/api/v1/rules?prefix=no", e.token(viewerAdmin), nil), http.StatusOK)
	var pg struct {
		Items []map[string]any
	}
	r.json(t, &pg)
	if len(pg.Items) != 1 || pg.Items[0]["name"] != "notify" || strings.Contains(string(r.body), "s3cret") {
		t.Fatalf("list %s", r.body)
	}
	r = e.want(e.do("GET", "/api/v1/rules/notify", tok, nil), http.StatusOK)
	etag := r.header.Get("ETag")
	if etag == "" || strings.Contains(string(r.body), "s3cret") {
		t.Fatalf("get: etag %q body %s", etag, r.body)
	}

	// PUT of what GET returned (no secret, has_secret echoed) keeps the secret.
	body := r.obj(t)
	body["events"] = []string{"upload", "delete"}
	r = e.want(e.do("PUT", "/api/v1/rules/notify", tok, body, "If-Match: "+etag), http.StatusOK)
	if stored, _ = e.st.GetRule(ctx, "notify"); stored.Secret != "s3cret" || len(stored.Events) != 2 {
		t.Errorf("after PUT %+v", stored)
	}
	e.wantErr(e.do("PATCH", "/api/v1/rules/notify", tok, map[string]any{"disabled": true}, "If-Match: "+etag),
		http.StatusPreconditionFailed, "precondition_failed", "version")
	e.want(e.do("PATCH", "/api/v1/rules/notify", tok, map[string]any{"secret": "", "disabled": true}), http.StatusOK)
	if stored, _ = e.st.GetRule(ctx, "notify"); stored.Secret != "" || !stored.Disabled {
		t.Errorf("after PATCH %+v", stored)
	}

	e.want(e.do("DELETE", "/api/v1/rules/notify", tok, nil), http.StatusNoContent)
	if e.pub.find("/rules/notify", "delete") == nil {
		t.Error("no admin_change event for the delete")
	}
	e.wantErr(e.do("GET", "/api/v1/rules/notify", tok, nil), http.StatusNotFound, "not_found", "")
	e.wantErr(e.do("DELETE", "/api/v1/rules/notify", tok, nil), http.StatusNotFound, "not_found", "")
}

func TestRuleValidation(t *testing.T) {
	e := newEnv(t)
	tok := e.token(rootAdmin)
	exec := func(kv ...any) map[string]any {
		m := map[string]any{"name": "r1", "events": []string{"upload"}, "action": "exec", "command": []string{"/bin/true"}}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{exec("name", "bad name"), "name"},
		{exec("events", []string{}), "events"},
		{exec("events", []string{"uploaded"}), "events"},
		{exec("pre_hook", true, "events", []string{"login"}), "events"},
		{exec("protocols", []string{"gopher"}), "protocols"},
		{exec("paths", []string{"[x"}), "paths"},
		{exec("min_size", 10, "max_size", 5), "max_size"},
		{exec("status", "maybe"), "status"},
		{exec("timeout", "soon"), "timeout"},
		{exec("timeout", "-1s"), "timeout"},
		{exec("command", []string{"true"}), "command"},
		{exec("action", "email"), "action"},
		{exec("action", "webhook", "url", "ftp://x"), "url"},
		{exec("secret", "x"), "secret"},
		{exec("colour", "red"), "colour"},
		{exec("events", "upload"), "events"},
	} {
		e.wantErr(e.do("POST", "/api/v1/rules", tok, c.body), http.StatusBadRequest, "invalid", c.field)
	}
	e.wantErr(e.do("PUT", "/api/v1/rules/r1", tok, exec()), http.StatusNotFound, "not_found", "")
	e.want(e.do("POST", "/api/v1/rules", tok, exec("timeout", 2e9)), http.StatusCreated)
	e.wantErr(e.do("PUT", "/api/v1/rules/r1", tok, exec("name", "r2")), http.StatusBadRequest, "invalid", "name")
}

func TestRuleAccess(t *testing.T) {
	e := newEnv(t)
	root := e.token(rootAdmin)
	rule := map[string]any{"name": "r", "events": []string{"upload"}, "action": "exec", "command": []string{"/bin/true"}}
	for _, who := range []string{viewerAdmin, umAdmin} {
		tok := e.token(who)
		e.wantErr(e.do("POST", "/api/v1/rules", tok, rule), http.StatusForbidden, "forbidden", "")
		e.want(e.do("GET", "/api/v1/rules", tok, nil), http.StatusOK)
		e.want(e.do("GET", "/api/v1/outbox", tok, nil), http.StatusOK)
		e.wantErr(e.do("POST", "/api/v1/outbox/replay", tok, nil), http.StatusForbidden, "forbidden", "")
	}
	var ro struct{ Token string }
	e.want(e.do("POST", "/api/v1/tokens", root, map[string]any{"name": "ro", "scope": "read-only"}), http.StatusCreated).json(t, &ro)
	e.wantErr(e.do("POST", "/api/v1/rules", ro.Token, rule), http.StatusForbidden, "forbidden", "")
	e.wantErr(e.do("POST", "/api/v1/outbox/replay", ro.Token, nil), http.StatusForbidden, "forbidden", "")
	e.want(e.do("POST", "/api/v1/rules", root, rule), http.StatusCreated)
	e.wantErr(e.do("DELETE", "/api/v1/rules/r", ro.Token, nil), http.StatusForbidden, "forbidden", "")
	e.wantErr(e.do("GET", "/api/v1/rules", "", nil), http.StatusUnauthorized, "unauthorized", "")
}

func TestOutbox(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok := e.token(rootAdmin)
	var ids []int64
	for i, rule := range []string{"a", "a", "b"} {
		id, err := e.st.EnqueueOutbox(ctx, rule, []byte(`{"n":`+string(rune('0'+i))+`}`))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.FailedOutbox(ctx, id, 10, time.Time{}, "503 Service Unavailable", true); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	pending, err := e.st.EnqueueOutbox(ctx, "a", []byte(`{"n":9}`))
	if err != nil {
		t.Fatal(err)
	}

	type entries struct {
		Items []ferry.OutboxEntry
		Limit int
		Next  *int `json:"next_offset"`
	}
	var got entries
	e.want(e.do("GET", "/api/v1/outbox", tok, nil), http.StatusOK).json(t, &got)
	if len(got.Items) != 1 || got.Items[0].ID != pending || got.Items[0].Dead {
		t.Fatalf("pending %+v", got.Items)
	}
	e.want(e.do("GET", "/api/v1/outbox?dead=true&rule=a", tok, nil), http.StatusOK).json(t, &got)
	if len(got.Items) != 2 || got.Items[0].ID != ids[0] || got.Items[0].LastError != "503 Service Unavailable" || compact(got.Items[0].Payload) != `{"n":0}` {
		t.Fatalf("dead letters of a %+v", got.Items)
	}
	got = entries{}
	e.want(e.do("GET", "/api/v1/outbox?dead=true&limit=2", tok, nil), http.StatusOK).json(t, &got)
	if len(got.Items) != 2 || got.Next == nil {
		t.Fatalf("limited: %+v next %v", got.Items, got.Next)
	}
	e.wantErr(e.do("GET", "/api/v1/outbox?dead=yes", tok, nil), http.StatusBadRequest, "invalid", "dead")
	e.wantErr(e.do("GET", "/api/v1/outbox?limit=0", tok, nil), http.StatusBadRequest, "invalid", "limit")

	e.wantErr(e.do("POST", "/api/v1/outbox/replay", tok, map[string]any{"ids": []int64{-1}}), http.StatusBadRequest, "invalid", "ids[0]")
	e.wantErr(e.do("POST", "/api/v1/outbox/replay", tok, map[string]any{"ids": []int64{}}), http.StatusBadRequest, "invalid", "ids")
	e.wantErr(e.do("POST", "/api/v1/outbox/replay", tok, map[string]any{"rules": "a"}), http.StatusBadRequest, "invalid", "rules")
	var n struct{ Replayed int }
	e.want(e.do("POST", "/api/v1/outbox/replay", tok, map[string]any{"ids": []int64{ids[2]}}), http.StatusOK).json(t, &n)
	if n.Replayed != 1 {
		t.Errorf("replay by id: %d", n.Replayed)
	}
	e.want(e.do("POST", "/api/v1/outbox/replay", tok, map[string]any{"rule": "a"}), http.StatusOK).json(t, &n)
	if n.Replayed != 2 {
		t.Errorf("replay rule a: %d", n.Replayed)
	}
	if e.pub.find("/outbox?rule=a", "replay") == nil {
		t.Error("no admin_change event for the replay")
	}
	e.want(e.do("POST", "/api/v1/outbox/replay", tok, nil), http.StatusOK).json(t, &n)
	if n.Replayed != 0 {
		t.Errorf("nothing left to replay, replayed %d", n.Replayed)
	}
	e.want(e.do("GET", "/api/v1/outbox?rule=a", tok, nil), http.StatusOK).json(t, &got)
	if len(got.Items) != 3 || got.Items[0].ID != ids[0] || got.Items[0].Attempts != 0 {
		t.Errorf("after replay, pending of a: %+v", got.Items)
	}
}

func compact(b []byte) string {
	var buf bytes.Buffer
	_ = json.Compact(&buf, b)
	return buf.String()
}

// scrape GETs path with token and parses the Prometheus text format.
func scrape(t *testing.T, url, token string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, nil
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return res.StatusCode, fams
}

func counter(fams map[string]*dto.MetricFamily, name, label, value string) float64 {
	for _, m := range fams[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && l.GetValue() == value {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	if st, _ := scrape(t, e.url+"/metrics", ""); st != http.StatusUnauthorized {
		t.Fatalf("anonymous scrape: %d, want 401", st)
	}
	if st, _ := scrape(t, e.url+"/metrics", "fry_nonsense"); st != http.StatusUnauthorized {
		t.Fatalf("bad token scrape: %d, want 401", st)
	}
	root := e.token(rootAdmin)
	var ro struct{ Token string }
	e.want(e.do("POST", "/api/v1/tokens", root, map[string]any{"name": "prometheus", "scope": "read-only"}), http.StatusCreated).json(t, &ro)
	st, fams := scrape(t, e.url+"/metrics", ro.Token)
	if st != http.StatusOK || fams["go_goroutines"] == nil {
		t.Fatalf("scrape with a read-only token: %d, %d families", st, len(fams))
	}
	before := counter(fams, "ferry_events_total", "type", "admin_change")
	e.want(e.do("POST", "/api/v1/groups", root, map[string]any{"name": "g1"}), http.StatusCreated)
	if _, err := e.st.EnqueueOutbox(context.Background(), "hook", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	_, fams = scrape(t, e.url+"/metrics", ro.Token)
	if after := counter(fams, "ferry_events_total", "type", "admin_change"); after != before+1 {
		t.Errorf("admin_change events %v → %v, want +1", before, after)
	}
	if n := counter(fams, "ferry_webhook_outbox", "rule", "hook"); n != 1 {
		t.Errorf("outbox depth of hook: %v", n)
	}
	// /metrics is not part of the API: no JSON 404 under /api, not in OpenAPI.
	e.wantErr(e.do("GET", "/api/v1/metrics", root, nil), http.StatusNotFound, "not_found", "")

	// metrics_public serves it to anyone.
	o := e.opts
	o.MetricsPublic = true
	pub, err := adminapi.New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(pub)
	defer hs.Close()
	if st, fams := scrape(t, hs.URL+"/metrics", ""); st != http.StatusOK || fams["ferry_events_total"] == nil {
		t.Errorf("public scrape: %d", st)
	}
	// Without a handler there is no /metrics.
	o.Metrics = nil
	none, err := adminapi.New(o)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	none.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("no metrics handler: %d", rec.Code)
	}
}
