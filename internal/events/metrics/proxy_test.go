package metrics_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/ferrymft/ferry/internal/events/metrics"
	"github.com/ferrymft/ferry/internal/ferry"
)

func TestProxyMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	ctx := context.Background()
	px := ferry.Protocol("ftp-proxy")
	for _, ev := range []ferry.Event{
		{Type: ferry.EventProxyConnect, Protocol: px, Service: "px", Status: "ok"},
		{Type: ferry.EventProxyConnect, Protocol: px, Service: "px", Status: "ok"},
		{Type: ferry.EventProxyConnect, Protocol: px, Service: "px", Status: "refused: client address banned"},
		{Type: ferry.EventLogin, Protocol: px, Service: "px", User: "alice"},
		{Type: ferry.EventProxyData, Protocol: px, Service: "px", Target: "client_to_server", Size: 1000, Status: "ok"},
		{Type: ferry.EventProxyData, Protocol: px, Service: "px", Target: "server_to_client", Size: 300, Status: "ok"},
		{Type: ferry.EventProxyData, Protocol: px, Service: "px", Target: "server_to_client", Size: 20, Status: "connection reset"},
		{Type: ferry.EventProxyDisconnect, Protocol: px, Service: "px", User: "alice"},
	} {
		m.Handle(ctx, ev)
	}
	fams := scrape(t, srv.URL)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ferry_proxy_connections_total", map[string]string{"service": "px", "result": "ok"}, 2},
		{"ferry_proxy_connections_total", map[string]string{"service": "px", "result": "refused"}, 1},
		{"ferry_proxy_sessions", map[string]string{"service": "px"}, 1},
		{"ferry_proxy_bytes_total", map[string]string{"service": "px", "direction": "client_to_server"}, 1000},
		{"ferry_proxy_bytes_total", map[string]string{"service": "px", "direction": "server_to_client"}, 320},
		{"ferry_proxy_data_connections_total", map[string]string{"direction": "server_to_client", "outcome": "failed"}, 1},
		{"ferry_logins_total", map[string]string{"protocol": "ftp-proxy", "result": "ok"}, 1},
	} {
		if got := value(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
