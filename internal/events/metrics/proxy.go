package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrymft/ferry/internal/ferry"
)

// proxyMetrics count the FTP proxy's sessions and data connections, fed
// from its proxy_connect, proxy_disconnect and proxy_data events. Its
// logins are in ferry_logins_total{protocol="ftp-proxy"}.
type proxyMetrics struct {
	connections *prometheus.CounterVec // by service and result (ok, refused)
	active      *prometheus.GaugeVec   // by service
	data        *prometheus.CounterVec // by service, direction and outcome
	bytes       *prometheus.CounterVec // by service and direction
}

func newProxyMetrics(reg *prometheus.Registry) proxyMetrics {
	p := proxyMetrics{
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_proxy_connections_total",
			Help: "FTP proxy client connections by service and result (ok, refused)."}, []string{"service", "result"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ferry_proxy_sessions",
			Help: "FTP proxy sessions open now, by service."}, []string{"service"}),
		data: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_proxy_data_connections_total",
			Help: "FTP proxy data connections by service, direction (client_to_server, server_to_client) and outcome (ok, failed)."},
			[]string{"service", "direction", "outcome"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_proxy_bytes_total",
			Help: "Bytes relayed on FTP proxy data connections, by service and direction."}, []string{"service", "direction"}),
	}
	reg.MustRegister(p.connections, p.active, p.data, p.bytes)
	return p
}

func (p proxyMetrics) handle(ev ferry.Event) {
	switch ev.Type {
	case ferry.EventProxyConnect:
		if strings.HasPrefix(ev.Status, "refused") {
			p.connections.WithLabelValues(ev.Service, "refused").Inc()
			return
		}
		p.connections.WithLabelValues(ev.Service, "ok").Inc()
		p.active.WithLabelValues(ev.Service).Inc()
	case ferry.EventProxyDisconnect:
		p.active.WithLabelValues(ev.Service).Dec()
	case ferry.EventProxyData:
		outcome := "ok"
		if ev.Status != "ok" && ev.Status != "" {
			outcome = "failed"
		}
		p.data.WithLabelValues(ev.Service, ev.Target, outcome).Inc()
		p.bytes.WithLabelValues(ev.Service, ev.Target).Add(float64(ev.Size))
	}
}
