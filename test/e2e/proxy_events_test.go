package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestFTPProxyEventsAndMetrics: an ftp-proxy service under ferry serve
// publishes its sessions like any service — proxy_connect, login,
// proxy_data with both ends and the bytes, proxy_disconnect in the JSON
// transfer log — and /metrics counts them.
func TestFTPProxyEventsAndMetrics(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	logPath := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(filepath.Join(s.Dir, "ferry.yaml"),
		[]byte("transfer_logs:\n  - format: json\n    path: "+logPath+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.AddUser("alice", "alice-pw")
	s.AddService("ftp", "ftp", "--tls", "off")
	s.AddService("admin", "admin", "--option", "metrics_public=true")
	s.Start()
	s.MustFerry("service", "add", "front", "--protocol", "ftp-proxy", "--listen", "127.0.0.1:0",
		"--option", "backend="+s.Addr("ftp"), "--option", "backend_tls=off")
	var addr string
	WaitFor(t, "the ftp-proxy service to run", func() bool {
		st, ok := s.status()
		for _, svc := range st.Services {
			if ok && svc.Name == "front" && svc.State == "running" {
				addr = svc.Address
				return true
			}
		}
		return false
	})

	data := make([]byte, 200000)
	rand.Read(data)
	c, err := ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stor("/p.bin", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	r, err := c.Retr("/p.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("download through the proxy: %d bytes", len(got))
	}
	c.Quit()

	type event struct {
		Type, User, Protocol, Remote, Target, Detail, Status, Service string
		Size                                                          int64
	}
	var evs []event
	WaitFor(t, "proxy_disconnect in the JSON log", func() bool {
		evs = nil
		f, err := os.Open(logPath)
		if err != nil {
			return false
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		done := false
		for sc.Scan() {
			var ev event
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Protocol == "ftp-proxy" {
				evs = append(evs, ev)
				done = done || ev.Type == "proxy_disconnect"
			}
		}
		return done
	})
	var connect, login, up, down bool
	for _, ev := range evs {
		switch ev.Type {
		case "proxy_connect":
			connect = ev.Status == "ok" && strings.HasPrefix(ev.Remote, "127.0.0.1:") && ev.Service == "front"
		case "login":
			login = ev.User == "alice" && strings.Contains(ev.Detail, "server="+s.Addr("ftp"))
		case "proxy_data":
			if !strings.Contains(ev.Detail, "client=127.0.0.1:") || !strings.Contains(ev.Detail, "server=127.0.0.1:") {
				t.Errorf("data event without both ends: %+v", ev)
			}
			up = up || ev.Target == "client_to_server" && ev.Size == int64(len(data))
			down = down || ev.Target == "server_to_client" && ev.Size == int64(len(data))
		}
	}
	if !connect || !login || !up || !down {
		t.Errorf("proxy events connect=%v login=%v upload=%v download=%v:\n%+v", connect, login, up, down, evs)
	}

	resp, err := http.Get("http://" + s.Addr("admin") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	sum := func(name string, want map[string]string) float64 {
		total := 0.0
	next:
		for _, m := range fams[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
		return total
	}
	if v := sum("ferry_proxy_bytes_total", map[string]string{"service": "front", "direction": "client_to_server"}); v < float64(len(data)) {
		t.Errorf("ferry_proxy_bytes_total client_to_server = %v", v)
	}
	if v := sum("ferry_proxy_connections_total", map[string]string{"service": "front", "result": "ok"}); v < 1 {
		t.Errorf("ferry_proxy_connections_total = %v", v)
	}
	if v := sum("ferry_logins_total", map[string]string{"protocol": "ftp-proxy", "result": "ok"}); v < 1 {
		t.Errorf("ferry_logins_total{protocol=ftp-proxy} = %v", v)
	}
}
