package main

import (
	"context"
	"strings"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/health"
	"github.com/odyssey-1/roman/ingest"
	"github.com/odyssey-1/roman/monitor"
	"github.com/odyssey-1/roman/sqldb"
)

// healthParts are the pieces of health checking the server shares between
// /check, the rollback service, ingest and the monitor.
type healthParts struct {
	pulled   *health.Pulled
	sources  *health.Sources
	breaches func(env string) int
}

// newHealthParts builds the pulled-source registry from the configuration.
// A postgres source without a url measures the application database:
// app_database when set, else roman's own database when it is PostgreSQL.
func (m *Main) newHealthParts() *healthParts {
	cfg := m.Config
	appURL := cfg.AppDatabase.Value()
	if appURL == "" {
		appURL = cfg.Database.Value()
	}
	return &healthParts{
		pulled: &health.Pulled{},
		sources: &health.Sources{
			Config:         func(env string) []config.HealthSource { return cfg.Environment(env).HealthSources },
			AppDatabaseURL: appURL,
		},
		breaches: func(env string) int { return cfg.Environment(env).ConsecutiveBreaches },
	}
}

// newIngest returns the ingest service.
func (m *Main) newIngest() *ingest.Service {
	return &ingest.Service{Store: m.Store, Hub: m.Hub, Clock: m.Clock}
}

// startMonitor writes the thresholds the SQL health function reads, starts
// the monitor and, on PostgreSQL, relays ops.error_events notifications
// (rows applications insert themselves) to it.
func (m *Main) startMonitor(ctx context.Context, hp *healthParts, checker *health.Checker,
	deployments roman.DeploymentService, rollbacks roman.RollbackService, ing *ingest.Service) error {
	cfg := m.Config
	settings := map[string]sqldb.HealthSettings{
		sqldb.DefaultSettingsEnvironment: {Thresholds: cfg.Thresholds, ConsecutiveBreaches: cfg.ConsecutiveBreaches},
	}
	for name, e := range cfg.Environments {
		settings[name] = sqldb.HealthSettings{Thresholds: e.Thresholds, ConsecutiveBreaches: e.ConsecutiveBreaches}
	}
	if err := m.Store.WriteHealthSettings(ctx, settings); err != nil {
		return err
	}
	m.Monitor = &monitor.Monitor{
		Store: m.Store, Rollbacks: rollbacks, Deployments: deployments, Checker: checker, Hub: m.Hub,
		Sampler: &health.Sampler{Sources: hp.sources.For, Pulled: hp.pulled, Logger: m.Logger,
			RecordErrors: func(ctx context.Context, evs []roman.ErrorEvent) error {
				_, err := ing.IngestErrors(ctx, roman.ErrorBatch{Events: evs, Batch: true})
				return err
			}},
		Settings: func(env string) monitor.Settings {
			e := cfg.Environment(env)
			return monitor.Settings{WatchWindow: e.WatchWindow, AutoRollback: e.AutoRollback, Cooldown: e.Cooldown, MaxAutoRollbacks: e.MaxAutoRollbacks}
		},
		Current:  m.Store.NewestSuccessfulDeployments,
		Interval: cfg.MonitorInterval,
		Clock:    m.Clock,
		Logger:   m.Logger,
	}
	if err := m.Monitor.Start(ctx); err != nil {
		return err
	}
	m.stopListen = m.Store.Listen(sqldb.IngestChannel, func(payload string) {
		table, ids, _ := strings.Cut(payload, ":")
		kind := roman.ChangeErrors
		if table == "metric_samples" {
			kind = roman.ChangeMetrics
		}
		if ids == "" {
			m.Monitor.Notify(roman.Change{Kind: kind})
			return
		}
		for _, id := range strings.Split(ids, ",") {
			m.Monitor.Notify(roman.Change{Kind: kind, DeploymentID: id})
		}
	})
	return nil
}

// stopMonitor stops the notification relay and the monitor (waiting for
// automatic rollbacks in flight, bounded by the caller's shutdown).
func (m *Main) stopMonitor() {
	if m.stopListen != nil {
		m.stopListen()
		m.stopListen = nil
	}
	if m.Monitor != nil {
		m.Monitor.Stop()
		m.Monitor = nil
	}
	if m.healthParts != nil {
		_ = m.healthParts.sources.Close()
		m.healthParts = nil
	}
}
