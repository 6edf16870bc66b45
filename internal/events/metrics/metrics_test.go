package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ferrymft/ferry/internal/events/metrics"
	"github.com/ferrymft/ferry/internal/ferry"
)

// scrape GETs /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return fams
}

// value finds the sample of family name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Errorf("no %s", name)
		return -1
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Errorf("%s: no sample with labels %v", name, want)
	return -1
}

func TestScrape(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{
		Sessions:  func() map[string]int { return map[string]int{"sftp": 2, "ftp": 1} },
		Transfers: func() map[string]int { return map[string]int{"upload": 1} },
		Services: func(context.Context) []metrics.Service {
			return []metrics.Service{{Name: "ftp", Kind: "ftp", State: "running"}}
		},
		Outbox: func(context.Context) (map[string]int, map[string]int, error) {
			return map[string]int{"hook": 3}, map[string]int{"hook": 1}, nil
		},
		Dropped:   func() map[string]int64 { return map[string]int64{"xferlog": 0} },
		StorePing: func(context.Context) error { return nil },
	})
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	before := scrape(t, srv.URL)
	if _, ok := before["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}

	ctx := t.Context()
	for _, ev := range []ferry.Event{
		{Type: ferry.EventLogin, Protocol: ferry.SFTP, Status: "ok"},
		{Type: ferry.EventLoginFailed, Protocol: ferry.FTP},
		{Type: ferry.EventUpload, Protocol: ferry.SFTP, Size: 1000, Duration: time.Second, Status: "ok"},
		{Type: ferry.EventUpload, Protocol: ferry.SFTP, Size: 24, Duration: time.Second, Status: "connection reset"},
		{Type: ferry.EventDownload, Protocol: ferry.FTP, Size: 500, Duration: 2 * time.Second, Status: "ok"},
		{Type: ferry.EventBan},
	} {
		m.Handle(ctx, ev)
	}
	m.HookResult(ferry.ActionWebhook, "hook", errors.New("503"), false)
	m.HookResult(ferry.ActionExec, "scan", nil, false)

	f := scrape(t, srv.URL)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ferry_logins_total", map[string]string{"protocol": "sftp", "result": "ok"}, 1},
		{"ferry_logins_total", map[string]string{"protocol": "ftp", "result": "failed"}, 1},
		{"ferry_transfer_bytes_total", map[string]string{"protocol": "sftp", "direction": "upload"}, 1024},
		{"ferry_transfer_bytes_total", map[string]string{"protocol": "ftp", "direction": "download"}, 500},
		{"ferry_transfers_total", map[string]string{"protocol": "sftp", "direction": "upload", "outcome": "ok"}, 1},
		{"ferry_transfers_total", map[string]string{"protocol": "sftp", "direction": "upload", "outcome": "failed"}, 1},
		{"ferry_transfer_duration_seconds", map[string]string{"protocol": "sftp", "direction": "upload"}, 2},
		{"ferry_bans_total", nil, 1},
		{"ferry_events_total", map[string]string{"type": "upload"}, 2},
		{"ferry_hook_runs_total", map[string]string{"action": "webhook", "rule": "hook", "result": "failed"}, 1},
		{"ferry_hook_runs_total", map[string]string{"action": "exec", "rule": "scan", "result": "ok"}, 1},
		{"ferry_sessions", map[string]string{"protocol": "sftp"}, 2},
		{"ferry_active_transfers", map[string]string{"direction": "upload"}, 1},
		{"ferry_service_state", map[string]string{"service": "ftp", "state": "running"}, 1},
		{"ferry_webhook_outbox", map[string]string{"rule": "hook", "state": "pending"}, 3},
		{"ferry_webhook_outbox", map[string]string{"rule": "hook", "state": "dead"}, 1},
		{"ferry_store_up", nil, 1},
	} {
		if got := value(t, f, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
