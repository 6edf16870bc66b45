// Package metrics keeps Ferry's Prometheus metrics: counters and
// histograms fed from the event bus, gauges read from the running server
// when scraped, and the Go runtime and process collectors. Handler serves
// them in the Prometheus text format for the admin service's /metrics.
// Only app imports it.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Service is a service's state as the manager reports it.
type Service struct {
	Name, Kind, State string
}

// Options give the metrics read at scrape time; each is optional.
type Options struct {
	// Sessions counts live sessions by protocol.
	Sessions func() map[string]int
	// Transfers counts running transfers by direction (upload, download).
	Transfers func() map[string]int
	// Services lists the services and their states.
	Services func(ctx context.Context) []Service
	// Outbox counts webhook deliveries pending and dead by rule.
	Outbox func(ctx context.Context) (pending, dead map[string]int, err error)
	// Dropped counts events each bus subscriber lost to a full queue.
	Dropped func() map[string]int64
	// StorePing makes one round trip to the store; its time is reported.
	StorePing func(ctx context.Context) error
}

// Metrics is the registry and the instruments fed from events.
type Metrics struct {
	reg       *prometheus.Registry
	events    *prometheus.CounterVec
	logins    *prometheus.CounterVec
	bytes     *prometheus.CounterVec
	transfers *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	bans      prometheus.Counter
	hooks     *prometheus.CounterVec
	proxy     proxyMetrics
}

// New registers every metric.
func New(opts Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_events_total",
		Help: "Events published, by type."}, []string{"type"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_logins_total",
		Help: "Login attempts by protocol and result (ok, failed)."}, []string{"protocol", "result"})
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_transfer_bytes_total",
		Help: "Bytes moved by finished transfers, by protocol and direction (upload, download)."}, []string{"protocol", "direction"})
	m.transfers = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_transfers_total",
		Help: "Finished transfers by protocol, direction and outcome (ok, failed)."}, []string{"protocol", "direction", "outcome"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ferry_transfer_duration_seconds",
		Help:    "Transfer durations by protocol and direction.",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}, []string{"protocol", "direction"})
	m.bans = prometheus.NewCounter(prometheus.CounterOpts{Name: "ferry_bans_total",
		Help: "Addresses banned (by the defender or an admin)."})
	m.hooks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_hook_runs_total",
		Help: "Rule actions run (exec) or delivery attempts (webhook), by action, rule and result (ok, failed, dead)."},
		[]string{"action", "rule", "result"})
	m.proxy = newProxyMetrics(m.reg)
	m.reg.MustRegister(m.events, m.logins, m.bytes, m.transfers, m.duration, m.bans, m.hooks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&live{opts: opts})
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handle counts one event; subscribe it to the bus.
func (m *Metrics) Handle(_ context.Context, ev ferry.Event) {
	m.events.WithLabelValues(string(ev.Type)).Inc()
	proto := string(ev.Protocol)
	switch ev.Type {
	case ferry.EventLogin:
		m.logins.WithLabelValues(proto, "ok").Inc()
	case ferry.EventLoginFailed:
		m.logins.WithLabelValues(proto, "failed").Inc()
	case ferry.EventUpload, ferry.EventDownload:
		dir := string(ev.Type)
		outcome := "ok"
		if ev.Status != "ok" && ev.Status != "" {
			outcome = "failed"
		}
		m.bytes.WithLabelValues(proto, dir).Add(float64(ev.Size))
		m.transfers.WithLabelValues(proto, dir, outcome).Inc()
		m.duration.WithLabelValues(proto, dir).Observe(ev.Duration.Seconds())
	case ferry.EventBan:
		m.bans.Inc()
	case ferry.EventProxyConnect, ferry.EventProxyDisconnect, ferry.EventProxyData:
		m.proxy.handle(ev)
	}
}

// HookResult counts one rule action's outcome.
func (m *Metrics) HookResult(action ferry.ActionKind, rule string, err error, dead bool) {
	result := "ok"
	switch {
	case dead:
		result = "dead"
	case err != nil:
		result = "failed"
	}
	m.hooks.WithLabelValues(string(action), rule, result).Inc()
}

// live collects the gauges read from the server at scrape time.
type live struct{ opts Options }

var (
	sessionsDesc  = prometheus.NewDesc("ferry_sessions", "Live sessions by protocol.", []string{"protocol"}, nil)
	transfersDesc = prometheus.NewDesc("ferry_active_transfers", "Transfers running now, by direction.", []string{"direction"}, nil)
	serviceDesc   = prometheus.NewDesc("ferry_service_state", "1 for each service's current state (running, stopped, failed…).", []string{"service", "kind", "state"}, nil)
	outboxDesc    = prometheus.NewDesc("ferry_webhook_outbox", "Webhook deliveries waiting (pending) or given up (dead), by rule.", []string{"rule", "state"}, nil)
	droppedDesc   = prometheus.NewDesc("ferry_event_sink_dropped_total", "Events a slow sink lost to its full queue.", []string{"sink"}, nil)
	storeDesc     = prometheus.NewDesc("ferry_store_latency_seconds", "Time of one store round trip, measured at scrape.", nil, nil)
	storeUpDesc   = prometheus.NewDesc("ferry_store_up", "1 when the store answered the scrape's round trip.", nil, nil)
)

func (l *live) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sessionsDesc, transfersDesc, serviceDesc, outboxDesc, droppedDesc, storeDesc, storeUpDesc} {
		ch <- d
	}
}

func (l *live) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	o := l.opts
	if o.Sessions != nil {
		for p, n := range o.Sessions() {
			ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(n), p)
		}
	}
	if o.Transfers != nil {
		for d, n := range o.Transfers() {
			ch <- prometheus.MustNewConstMetric(transfersDesc, prometheus.GaugeValue, float64(n), d)
		}
	}
	if o.Services != nil {
		for _, s := range o.Services(ctx) {
			ch <- prometheus.MustNewConstMetric(serviceDesc, prometheus.GaugeValue, 1, s.Name, s.Kind, s.State)
		}
	}
	if o.Outbox != nil {
		if pending, dead, err := o.Outbox(ctx); err == nil {
			for r, n := range pending {
				ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(n), r, "pending")
			}
			for r, n := range dead {
				ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(n), r, "dead")
			}
		}
	}
	if o.Dropped != nil {
		for s, n := range o.Dropped() {
			ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(n), s)
		}
	}
	if o.StorePing != nil {
		start := time.Now()
		err := o.StorePing(ctx)
		up := 1.0
		if err != nil {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(storeDesc, prometheus.GaugeValue, time.Since(start).Seconds())
		ch <- prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, up)
	}
}
