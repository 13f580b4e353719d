package server

import (
	"context"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/metrics"
	"github.com/odyssey-1/roman/web"
)

// openDashboard builds the Prometheus registry, the dashboard's session
// store, the limit of failed authentications and the dashboard itself. It runs before the API server
// is built, which needs the sessions to accept the dashboard's cookie.
func (m *Server) openDashboard(keyring *roman.Keyring, checker web.HealthChecker) {
	cfg := m.Config
	window := func(env string) time.Duration { return cfg.Environment(env).WatchWindow }
	m.Metrics = metrics.New(metrics.Config{Store: m.Store, Outbox: m.Store, WatchWindow: window, Clock: m.Clock, Logger: m.Logger})
	m.sessions = web.NewSessions(keyring, 0, cfg.DashboardSessionsPerKey, m.Clock)
	// One limit of failed authentications for the API and the dashboard's
	// sign-in, so a guesser gains nothing by switching doors.
	m.authLimiter = api.NewAuthLimiter(cfg.AuthFailureBurst, cfg.AuthFailuresPerMinute, m.Clock)
	// config.Load validated the list, so it parses.
	proxies, _ := config.ParseTrustedProxies(cfg.TrustedProxies)
	m.authLimiter.TrustProxies(proxies)
	m.Dashboard = web.New(web.Config{
		Store: m.Store, Health: checker, Sessions: m.sessions, Limiter: m.authLimiter, Hub: m.Hub,
		Thresholds:  func(env string) roman.Thresholds { return cfg.Environment(env).Thresholds },
		WatchWindow: window, Clock: m.Clock, Logger: m.Logger, Fingerprints: m.Store,
	})
}

// mountDashboard adds the dashboard's pages and assets to the API server
// (its summary, live stream and /metrics are API routes, served through
// api.Deps).
func (m *Server) mountDashboard() { m.Dashboard.Register(m.API) }

// countIngest wraps the ingest service so that every error event the API
// stores is counted in roman_error_events_ingested_total.
func (m *Server) countIngest(s roman.IngestService) roman.IngestService {
	return countingIngest{IngestService: s, metrics: m.Metrics}
}

type countingIngest struct {
	roman.IngestService
	metrics *metrics.Metrics
}

// IngestErrors stores the batch as decision work (roman.ForDecisions): its
// reads and writes use the store's decision connections, which dashboard
// and history reads cannot take.
func (c countingIngest) IngestErrors(ctx context.Context, b roman.ErrorBatch) (*roman.IngestResult, error) {
	res, err := c.IngestService.IngestErrors(roman.ForDecisions(ctx), b)
	if err == nil && res != nil {
		c.metrics.AddErrorsIngested(res.Accepted)
	}
	return res, err
}

// IngestMetrics stores the batch as decision work, like IngestErrors.
func (c countingIngest) IngestMetrics(ctx context.Context, b roman.MetricBatch) (*roman.IngestResult, error) {
	return c.IngestService.IngestMetrics(roman.ForDecisions(ctx), b)
}
