// Package metrics is roman's Prometheus instrumentation: a
// registry of roman's own (never the global default one), served at
// GET /metrics in the Prometheus exposition format.
//
// Two kinds of metric live in it:
//
//   - State kept in the store is read at scrape time by a Collector, one
//     aggregate query per family: deployments by environment, service and status,
//     rollbacks by environment, service, trigger type and outcome, the rollback
//     duration histogram, validations by result, the current error rate of
//     each watched deployment and the alert outbox depth. They are exact,
//     survive restarts, and every replica sharing one PostgreSQL reports the
//     same values (aggregate them with max, not sum).
//   - Events of this process are counted as they happen: error events
//     ingested (AddErrorsIngested) and detection latency (ObserveDetection),
//     whether this replica leads the monitor (SetMonitorLeader), plus the
//     Go runtime and process collectors.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/odyssey-1/roman"
)

// Store is what the collector reads at scrape time; *sqldb.DB implements
// it.
type Store interface {
	roman.StatsStore
	// CountErrors returns a deployment's errors in the last minute and the
	// last five minutes before now.
	CountErrors(ctx context.Context, deploymentID string, now time.Time) (lastMinute, last5Minutes int64, err error)
}

// OutboxCounter counts the alert outbox; *sqldb.DB implements it. The
// outbox depth gauge is exported only when Config.Outbox is set.
type OutboxCounter interface {
	// OutboxDepth returns how many alerts wait for delivery.
	OutboxDepth(ctx context.Context) (int64, error)
}

// Config configures Metrics.
type Config struct {
	// Store is read at scrape time.
	Store Store
	// Outbox, when set, is counted at scrape time
	// (roman_alert_outbox_pending); nil leaves the gauge out.
	Outbox OutboxCounter
	// WatchWindow returns an environment's watch window; the current error
	// rate is exported for the deployments inside theirs.
	WatchWindow func(env string) time.Duration
	// Clock defaults to the system clock.
	Clock roman.Clock
	// Logger receives scrape errors; nil discards them.
	Logger *slog.Logger
	// ScrapeTimeout bounds the store queries of one scrape (default 10 s).
	ScrapeTimeout time.Duration
}

// DetectionBuckets are the detection latency histogram's upper bounds in
// seconds: the target is p99 < 100 ms, so the resolution is finest
// there.
var DetectionBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// RollbackDurationBuckets are the rollback duration histogram's upper
// bounds in seconds: from a record-only rollback (milliseconds) to a
// redeploy through CI with its verify window (many minutes).
var RollbackDurationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}

// Metrics is roman's registry and the instruments the rest of the program
// reports to. A nil *Metrics ignores every observation, so callers need no
// checks.
type Metrics struct {
	reg       *prometheus.Registry
	detection prometheus.Histogram
	ingested  prometheus.Counter
	leader    prometheus.Gauge
	logger    *slog.Logger
	// unattributed counts integration items tied to no release
	// (integrations.go).
	unattributed *prometheus.CounterVec
}

// New returns roman's registry with every collector registered.
func New(cfg Config) *Metrics {
	if cfg.Clock == nil {
		cfg.Clock = roman.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ScrapeTimeout <= 0 {
		cfg.ScrapeTimeout = 10 * time.Second
	}
	m := &Metrics{
		reg:    prometheus.NewRegistry(),
		logger: cfg.Logger,
		detection: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "roman_detection_latency_seconds",
			Help:    "Time from the ingest of the error that crossed a trigger to the automatic rollback event being recorded.",
			Buckets: DetectionBuckets,
		}),
		ingested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roman_error_events_ingested_total",
			Help: "Error events stored through the ingest API by this process.",
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roman_monitor_leader",
			Help: "1 while this replica leads the monitor (always on SQLite), 0 while another replica sharing the PostgreSQL does.",
		}),
	}
	m.unattributed = newUnattributed()
	m.reg.MustRegister(m.detection, m.ingested, m.leader, m.unattributed,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "roman_build_info",
			Help:        "Always 1; the version label names the running build.",
			ConstLabels: prometheus.Labels{"version": roman.Version},
		}, func() float64 { return 1 }),
	)
	if cfg.Store != nil {
		m.reg.MustRegister(newStoreCollector(cfg))
	}
	return m
}

// Registry returns the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format. A store
// query that fails is logged and its families are left out of that scrape
// (the rest is still served), so one slow table never blanks every metric.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slogLogger{m.logger},
		Registry:      m.reg,
	})
}

// ObserveDetection records one detection latency: from the ingest of the
// error that crossed a trigger to the automatic rollback event being
// recorded. The monitor calls it once per automatic rollback it starts.
func (m *Metrics) ObserveDetection(d time.Duration) {
	if m == nil {
		return
	}
	m.detection.Observe(d.Seconds())
}

// SetMonitorLeader records whether this replica leads the monitor.
func (m *Metrics) SetMonitorLeader(leading bool) {
	if m == nil {
		return
	}
	v := 0.0
	if leading {
		v = 1
	}
	m.leader.Set(v)
}

// AddErrorsIngested counts n error events stored by the ingest API.
func (m *Metrics) AddErrorsIngested(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.ingested.Add(float64(n))
}

// slogLogger adapts slog to promhttp's error log.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Println(v ...any) {
	s.l.Warn("metrics scrape", "err", v)
}
