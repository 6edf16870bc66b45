package e2e

import (
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// adminCurl runs curl against the admin API and decodes the JSON answer;
// it returns the HTTP status.
func adminCurl(t *testing.T, v any, args ...string) int {
	t.Helper()
	out, err := run(t, "", "curl", append([]string{"-sS", "-w", "\n%{http_code}"}, args...)...)
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	i := strings.LastIndexByte(out, '\n')
	body, code := out[:i], out[i+1:]
	if v != nil && body != "" {
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("curl %v: decode %q: %v", args, body, err)
		}
	}
	var status int
	for _, c := range code {
		status = status*10 + int(c-'0')
	}
	return status
}

// TestAdminAPICurl signs in with curl, creates a user and an FTP service
// through the API, sees the service running, uses it with curl as that
// user, and stops it again — without the CLI.
func TestAdminAPICurl(t *testing.T) {
	requireTool(t, "curl")
	t.Parallel()
	s := newServer(t)
	s.AddService("admin", "admin")
	s.Start()
	api := "http://" + s.Addr("admin") + "/api/v1"

	var tok struct{ Token string }
	if st := adminCurl(t, &tok, "-X", "POST", "-u", "admin:"+AdminPassword, api+"/auth/token"); st != 201 || tok.Token == "" {
		t.Fatalf("token: status %d %+v", st, tok)
	}
	auth := "Authorization: Bearer " + tok.Token
	var e struct{ Error struct{ Code, Field string } }
	if st := adminCurl(t, &e, "-X", "POST", "-u", "admin:wrong", api+"/auth/token"); st != 401 || e.Error.Code != "unauthorized" {
		t.Fatalf("bad password: %d %+v", st, e)
	}

	if st := adminCurl(t, nil, "-X", "POST", "-H", auth, "-d", `{"name":"partner","password":"pw-partner","perms":[{"path":"/","perms":"all"}]}`,
		api+"/users"); st != 201 {
		t.Fatalf("create user: %d", st)
	}
	if st := adminCurl(t, &e, "-X", "POST", "-H", auth, "-d", `{"name":"ftp1","protocol":"ftp","listen":"127.0.0.1:0","options":{"tls":"nope"}}`,
		api+"/services"); st != 400 || e.Error.Field != "options.tls" {
		t.Fatalf("bad option: %d %+v", st, e)
	}
	if st := adminCurl(t, nil, "-X", "POST", "-H", auth, "-d", `{"name":"ftp1","protocol":"ftp","listen":"127.0.0.1:0"}`,
		api+"/services"); st != 201 {
		t.Fatalf("create service: %d", st)
	}
	var svc struct{ State, Address, Error string }
	WaitFor(t, "ftp1 running", func() bool {
		svc.State, svc.Address = "", ""
		adminCurl(t, &svc, "-H", auth, api+"/services/ftp1")
		return svc.State == "running"
	})

	// The new user uploads through the new service with a real client.
	src := filepath.Join(t.TempDir(), "hello.txt")
	if err := os.WriteFile(src, []byte("hello from the admin API\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "", "curl", "-sS", "-T", src, "ftp://partner:pw-partner@"+svc.Address+"/hello.txt"); err != nil {
		t.Fatalf("ftp upload: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(s.Home("partner", "hello.txt")); err != nil || string(b) != "hello from the admin API\n" {
		t.Fatalf("uploaded file: %q %v", b, err)
	}
	var evs struct {
		Items []struct{ Type, User, Path string }
	}
	adminCurl(t, &evs, "-H", auth, api+"/events?type=upload&user=partner")
	if len(evs.Items) != 1 || evs.Items[0].Path != "/hello.txt" {
		t.Errorf("upload events %+v", evs.Items)
	}

	// A service on a port in use fails with the reason; the others run.
	if st := adminCurl(t, nil, "-X", "POST", "-H", auth, "-d", `{"name":"clash","protocol":"ftp","listen":"`+svc.Address+`"}`,
		api+"/services"); st != 201 {
		t.Fatalf("create clash: %d", st)
	}
	WaitFor(t, "clash failed", func() bool {
		svc.State, svc.Error = "", ""
		adminCurl(t, &svc, "-H", auth, api+"/services/clash")
		return svc.State == "failed" && strings.Contains(svc.Error, "in use")
	})

	var stopped struct{ State, Address string }
	addr := s.Addr("ftp1")
	if st := adminCurl(t, &stopped, "-X", "POST", "-H", auth, api+"/services/ftp1/stop"); st != 200 {
		t.Fatalf("stop: %d", st)
	}
	WaitFor(t, "ftp1 closed", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if st := adminCurl(t, nil, "-X", "DELETE", "-H", auth, api+"/auth/token"); st != 204 {
		t.Fatalf("sign out: %d", st)
	}
	if st := adminCurl(t, nil, "-H", auth, api+"/status"); st != 401 {
		t.Errorf("revoked token still works: %d", st)
	}
}

// TestAdminRulesOutboxMetrics adds a webhook rule through the API, sees an
// upload's delivery become a dead letter while the receiver is down,
// replays it through the API once it is up, and scrapes /metrics with the
// Prometheus text parser (refused without a token).
func TestAdminRulesOutboxMetrics(t *testing.T) {
	requireTool(t, "curl")
	t.Parallel()
	recv := &hookReceiver{t: t, secret: "e2e-admin-secret", down: true}
	hs := httptest.NewServer(recv)
	defer hs.Close()
	s := newServer(t)
	s.AddService("admin", "admin")
	s.AddService("ftp", "ftp")
	s.AddUser("alice", "alice-pw")
	s.Start()
	base := "http://" + s.Addr("admin")
	api := base + "/api/v1"
	var tok struct{ Token string }
	if st := adminCurl(t, &tok, "-X", "POST", "-u", "admin:"+AdminPassword, api+"/auth/token"); st != 201 {
		t.Fatalf("token: %d", st)
	}
	auth := "Authorization: Bearer " + tok.Token

	var e struct{ Error struct{ Code, Field string } }
	if st := adminCurl(t, &e, "-X", "POST", "-H", auth, "-d", `{"name":"notify","events":["upload"],"action":"webhook","url":"ftp://nope"}`,
		api+"/rules"); st != 400 || e.Error.Field != "url" {
		t.Fatalf("bad url: %d %+v", st, e)
	}
	var rule map[string]any
	if st := adminCurl(t, &rule, "-X", "POST", "-H", auth, "-d",
		`{"name":"notify","events":["upload"],"action":"webhook","url":"`+hs.URL+`","secret":"e2e-admin-secret","max_attempts":1}`,
		api+"/rules"); st != 201 || rule["has_secret"] != true || rule["secret"] != nil {
		t.Fatalf("create rule: %d %v", st, rule)
	}

	src := filepath.Join(t.TempDir(), "r.txt")
	if err := os.WriteFile(src, []byte("rule me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The server re-reads rules within 250ms; upload until the delivery
	// shows up as a dead letter (the receiver is down, one attempt).
	var dead struct {
		Items []struct {
			ID   int64
			Rule string
		}
	}
	WaitFor(t, "a dead letter", func() bool {
		if out, err := run(t, "", "curl", "-sS", "-T", src, "ftp://alice:alice-pw@"+s.Addr("ftp")+"/r.txt"); err != nil {
			t.Fatalf("ftp upload: %v\n%s", err, out)
		}
		adminCurl(t, &dead, "-H", auth, api+"/outbox?dead=true&rule=notify")
		return len(dead.Items) > 0
	})
	recv.set(false, 0)
	var n struct{ Replayed int }
	if st := adminCurl(t, &n, "-X", "POST", "-H", auth, "-d", `{"ids":[`+strconv.FormatInt(dead.Items[0].ID, 10)+`]}`,
		api+"/outbox/replay"); st != 200 || n.Replayed != 1 {
		t.Fatalf("replay: %d %+v", st, n)
	}
	WaitFor(t, "the replayed delivery", func() bool { return len(recv.paths()) > 0 })
	if p := recv.paths()[0]; p != "/r.txt" {
		t.Errorf("delivered %q", p)
	}

	if st := adminCurl(t, nil, base+"/metrics"); st != 401 {
		t.Errorf("anonymous scrape: %d, want 401", st)
	}
	out, err := run(t, "", "curl", "-sS", "-f", "-H", auth, base+"/metrics")
	if err != nil {
		t.Fatalf("scrape: %v\n%s", err, out)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(out))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	var uploads float64
	for _, m := range fams["ferry_transfers_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["protocol"] == "ftp" && labels["direction"] == "upload" && labels["outcome"] == "ok" {
			uploads = m.GetCounter().GetValue()
		}
	}
	if uploads < 1 || fams["ferry_service_state"] == nil || fams["go_goroutines"] == nil {
		t.Errorf("metrics: ftp uploads %v, %d families", uploads, len(fams))
	}
	if st := adminCurl(t, nil, "-X", "DELETE", "-H", auth, api+"/rules/notify"); st != 204 {
		t.Errorf("delete rule: %d", st)
	}
}
