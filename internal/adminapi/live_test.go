package adminapi_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
)

type svcView struct {
	ferry.Service
	State    string `json:"state"`
	Address  string `json:"address"`
	Error    string `json:"error"`
	Sessions int    `json:"sessions"`
}

// waitState polls GET /services/{name} until its state is want; the
// service manager applies store changes on its own schedule.
func (e *env) waitState(tok, name, want string) svcView {
	e.t.Helper()
	var v svcView
	for range 500 {
		v = svcView{}
		e.want(e.do("GET", "/api/v1/services/"+name, tok, nil), http.StatusOK).json(e.t, &v)
		if v.State == want && v.Error == "" || v.State == want && want == "failed" {
			return v
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("service %s: state %q (%s), want %q", name, v.State, v.Error, want)
	return v
}

func TestServices(t *testing.T) {
	e := newEnv(t)
	tok := e.token(rootAdmin)
	e.want(e.do("POST", "/api/v1/services", tok, map[string]any{"name": "ftp1", "protocol": "ftp", "listen": "127.0.0.1:0"}), http.StatusCreated)
	v := e.waitState(tok, "ftp1", "running")
	c, err := net.Dial("tcp", v.Address)
	if err != nil {
		t.Fatalf("the added service does not answer at %s: %v", v.Address, err)
	}
	c.Close()

	var stopped svcView
	e.want(e.do("POST", "/api/v1/services/ftp1/stop", tok, nil), http.StatusOK).json(t, &stopped)
	if stopped.Enabled {
		t.Error("stop left the service enabled")
	}
	e.waitState(tok, "ftp1", "disabled")
	e.want(e.do("POST", "/api/v1/services/ftp1/start", tok, nil), http.StatusOK)
	e.waitState(tok, "ftp1", "running")
	if e.pub.find("/services/ftp1", "start") == nil || e.pub.find("/services/ftp1", "stop") == nil {
		t.Error("no start/stop events")
	}

	// A port in use: the service fails with the reason, others run.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	e.want(e.do("POST", "/api/v1/services", tok, map[string]any{"name": "ftp2", "protocol": "ftp", "listen": busy.Addr().String()}), http.StatusCreated)
	f := e.waitState(tok, "ftp2", "failed")
	if f.Error == "" {
		t.Error("failed service has no reason")
	}
	e.waitState(tok, "ftp1", "running")

	// Update moves it to a free port: it restarts and runs.
	var cur svcView
	r := e.want(e.do("GET", "/api/v1/services/ftp2", tok, nil), http.StatusOK)
	r.json(t, &cur)
	e.want(e.do("PATCH", "/api/v1/services/ftp2", tok, map[string]any{"listen": "127.0.0.1:0"}, "If-Match: "+r.header.Get("ETag")), http.StatusOK)
	e.waitState(tok, "ftp2", "running")
	e.wantErr(e.do("PATCH", "/api/v1/services/ftp2", tok, map[string]any{"listen": "x"}, "If-Match: "+r.header.Get("ETag")), http.StatusPreconditionFailed, "precondition_failed", "version")

	var list struct{ Items []svcView }
	e.want(e.do("GET", "/api/v1/services", tok, nil), http.StatusOK).json(t, &list)
	if len(list.Items) != 2 || list.Items[0].State != "running" {
		t.Errorf("services %+v", list.Items)
	}
	e.want(e.do("DELETE", "/api/v1/services/ftp1", tok, nil), http.StatusNoContent)
	for range 500 {
		if c, err := net.Dial("tcp", v.Address); err != nil {
			break
		} else {
			c.Close()
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.wantErr(e.do("GET", "/api/v1/services/ftp1", tok, nil), http.StatusNotFound, "not_found", "")
	e.wantErr(e.do("POST", "/api/v1/services/ftp1/start", tok, nil), http.StatusNotFound, "not_found", "")
}

func TestServiceValidation(t *testing.T) {
	e := newEnv(t)
	tok := e.token(rootAdmin)
	for _, tt := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"bad name", map[string]any{"name": "a/b", "protocol": "ftp", "listen": ":0"}, "name"},
		{"bad protocol", map[string]any{"name": "s", "protocol": "gopher", "listen": ":0"}, "protocol"},
		{"bad listen", map[string]any{"name": "s", "protocol": "ftp", "listen": "nowhere"}, "listen"},
		{"bad port", map[string]any{"name": "s", "protocol": "ftp", "listen": ":99999"}, "listen"},
		{"unknown option", map[string]any{"name": "s", "protocol": "ftp", "listen": ":0", "options": map[string]string{"colour": "red"}}, "options.colour"},
		{"bad option value", map[string]any{"name": "s", "protocol": "ftp", "listen": ":0", "options": map[string]string{"banner": "bad"}}, "options.banner"},
		{"kind not built", map[string]any{"name": "s", "protocol": "ftp-proxy", "listen": ":0"}, "protocol"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.wantErr(e.do("POST", "/api/v1/services", tok, tt.body), http.StatusBadRequest, "invalid", tt.field)
		})
	}
}

func TestSessions(t *testing.T) {
	e := newEnv(t)
	tok := e.token(umAdmin)
	login := func() (*core.Session, chan struct{}) {
		kicked := make(chan struct{})
		var once sync.Once
		s, err := e.eng.Engine.Login(context.Background(), core.LoginRequest{
			Protocol: ferry.SFTP, User: "alice", Password: "pw", Service: "sftp",
			Remote: netip.MustParseAddrPort("192.0.2.9:5000"), Disconnect: func() { once.Do(func() { close(kicked) }) },
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s, kicked
	}
	s1, kicked1 := login()
	_, kicked2 := login()
	_, kicked3 := login()
	up, err := s1.OpenWrite(context.Background(), "/f.bin", core.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort(nil)
	if _, err := up.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}

	var list struct {
		Items []struct {
			ID, User, State string
			Transfer        *core.TransferInfo
			Progress        *struct{ Rate int64 }
		}
	}
	e.want(e.do("GET", "/api/v1/sessions?user=alice", tok, nil), http.StatusOK).json(t, &list)
	if len(list.Items) != 3 {
		t.Fatalf("sessions %+v", list.Items)
	}
	var busy int
	for _, it := range list.Items {
		if it.Transfer != nil {
			busy++
			if it.State != "transferring" || it.Transfer.Bytes != 1000 || it.Transfer.Path != "/f.bin" || it.Progress == nil {
				t.Errorf("transfer %+v %+v", it, it.Transfer)
			}
		}
	}
	if busy != 1 {
		t.Errorf("%d sessions transferring, want 1", busy)
	}
	e.want(e.do("GET", "/api/v1/sessions?user=bob", tok, nil), http.StatusOK).json(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("filter by user: %+v", list.Items)
	}
	e.want(e.do("GET", "/api/v1/sessions/"+s1.ID(), tok, nil), http.StatusOK)
	e.want(e.do("DELETE", "/api/v1/sessions/"+s1.ID(), tok, nil), http.StatusNoContent)
	<-kicked1
	e.wantErr(e.do("DELETE", "/api/v1/sessions/nope", tok, nil), http.StatusNotFound, "not_found", "")
	e.wantErr(e.do("DELETE", "/api/v1/sessions", tok, nil), http.StatusBadRequest, "invalid", "user")
	var kicked struct{ Kicked int }
	e.want(e.do("DELETE", "/api/v1/sessions?user=alice", tok, nil), http.StatusOK).json(t, &kicked)
	if kicked.Kicked < 2 {
		t.Errorf("kicked %d sessions, want at least 2", kicked.Kicked)
	}
	<-kicked2
	<-kicked3
	e.wantErr(e.do("DELETE", "/api/v1/sessions?user=alice", e.token(viewerAdmin), nil), http.StatusForbidden, "forbidden", "")
}

func TestBans(t *testing.T) {
	e := newEnv(t)
	tok := e.token(rootAdmin)
	var b ferry.Ban
	e.want(e.do("POST", "/api/v1/bans", tok, map[string]any{"network": "192.0.2.7", "reason": "scanner", "duration": "1h"}), http.StatusCreated).json(t, &b)
	if b.Network != "192.0.2.7/32" || b.ExpiresAt.IsZero() {
		t.Errorf("ban %+v", b)
	}
	e.want(e.do("POST", "/api/v1/bans", tok, map[string]any{"network": "2001:db8::/32"}), http.StatusCreated)
	e.wantErr(e.do("POST", "/api/v1/bans", tok, map[string]any{"network": "bogus"}), http.StatusBadRequest, "invalid", "network")
	e.wantErr(e.do("POST", "/api/v1/bans", tok, map[string]any{}), http.StatusBadRequest, "invalid", "network")
	e.wantErr(e.do("POST", "/api/v1/bans", tok, map[string]any{"network": "192.0.2.8", "duration": "forever"}), http.StatusBadRequest, "invalid", "duration")
	var list struct{ Items []ferry.Ban }
	e.want(e.do("GET", "/api/v1/bans", tok, nil), http.StatusOK).json(t, &list)
	if len(list.Items) != 2 {
		t.Errorf("bans %+v", list.Items)
	}
	e.want(e.do("DELETE", "/api/v1/bans/192.0.2.7/32", tok, nil), http.StatusNoContent)
	e.want(e.do("DELETE", "/api/v1/bans/2001:db8::%2F32", tok, nil), http.StatusNoContent)
	e.wantErr(e.do("DELETE", "/api/v1/bans/192.0.2.7", tok, nil), http.StatusNotFound, "not_found", "")
	if e.pub.find("/bans/192.0.2.7/32", "ban") == nil {
		t.Error("no ban event")
	}
}

func TestEventsAndStatus(t *testing.T) {
	e := newEnv(t)
	tok := e.token(rootAdmin)
	for _, n := range []string{"a", "b", "c"} {
		e.want(e.do("POST", "/api/v1/users", tok, map[string]any{"name": n}), http.StatusCreated)
	}
	var evs struct {
		Items      []ferry.Event
		NextOffset *int `json:"next_offset"`
	}
	e.want(e.do("GET", "/api/v1/events?type=admin_change&limit=2", tok, nil), http.StatusOK).json(t, &evs)
	if len(evs.Items) != 2 || evs.Items[0].Path != "/users/c" || evs.NextOffset == nil {
		t.Fatalf("events %+v", evs)
	}
	e.want(e.do("GET", "/api/v1/events?type=admin_change&offset=2", tok, nil), http.StatusOK).json(t, &evs)
	if len(evs.Items) != 1 || evs.Items[0].Path != "/users/a" {
		t.Fatalf("second page %+v", evs.Items)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	e.want(e.do("GET", "/api/v1/events?since="+future, tok, nil), http.StatusOK).json(t, &evs)
	if len(evs.Items) != 0 {
		t.Errorf("since the future: %+v", evs.Items)
	}
	e.want(e.do("GET", "/api/v1/events?user=root&type=login", tok, nil), http.StatusOK).json(t, &evs)
	if len(evs.Items) != 0 {
		t.Errorf("no login events expected: %+v", evs.Items)
	}
	e.wantErr(e.do("GET", "/api/v1/events?since=yesterday", tok, nil), http.StatusBadRequest, "invalid", "since")

	var st map[string]any
	e.want(e.do("GET", "/api/v1/status", tok, nil), http.StatusOK).json(t, &st)
	if st["version"] != "test" || st["node"] != "node1" || st["store"] != "sqlite" || st["admin"] != rootAdmin {
		t.Errorf("status %v", st)
	}
}

func TestUnknownRoutes(t *testing.T) {
	e := newEnv(t)
	tok := e.token(rootAdmin)
	e.wantErr(e.do("GET", "/api/v1/nothing", tok, nil), http.StatusNotFound, "not_found", "")
	r := e.do("PUT", "/api/v1/status", tok, nil)
	e.wantErr(r, http.StatusMethodNotAllowed, "method_not_allowed", "")
	if r.header.Get("Allow") != "GET" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	big := map[string]string{"name": string(make([]byte, 2<<20))}
	b, _ := json.Marshal(big)
	e.wantErr(e.do("POST", "/api/v1/users", tok, string(b)), http.StatusRequestEntityTooLarge, "too_large", "")
}
