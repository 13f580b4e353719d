package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"sort"
	"time"

	"github.com/odyssey-1/roman"
)

// NewestSuccessfulDeployments returns the newest deployment with status
// success of every (service, environment) that has one, ordered by
// environment and service: what
// the monitor watches after a restart.
func (db *DB) NewestSuccessfulDeployments(ctx context.Context) ([]*roman.Deployment, error) {
	return db.queryDeployments(ctx, `SELECT `+deploymentCols+` FROM (
		SELECT deployments.*, row_number() OVER (PARTITION BY service, environment ORDER BY deployed_at DESC, id DESC) AS rn
		FROM deployments WHERE status = 'success') newest WHERE rn = 1 ORDER BY environment, service`)
}

// RecentMetrics returns, per metric name, the values of the newest n samples
// of a deployment taken in (since, now], newest first. The health checker
// uses the newest as the signal's value and all n to decide whether a
// breach is sustained (consecutive_breaches).
func (db *DB) RecentMetrics(ctx context.Context, deploymentID string, since, now time.Time, n int) (map[string][]float64, error) {
	out := map[string][]float64{}
	id, ok := lookupID(deploymentID)
	if !ok {
		return out, nil
	}
	n = max(n, 1)
	rows, err := db.reader(ctx).QueryContext(ctx, db.q(`SELECT name, value FROM (
		SELECT name, value, row_number() OVER (PARTITION BY name ORDER BY at DESC, id DESC) AS rn
		FROM metric_samples WHERE deployment_id = ? AND at > ? AND at <= ?) latest
		WHERE rn <= ? ORDER BY name, rn`),
		id, db.ts(since), db.ts(now), n)
	if err != nil {
		return nil, internal("recent metrics", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var v float64
		if err := rows.Scan(&name, &v); err != nil {
			return nil, internal("recent metrics", err)
		}
		out[name] = append(out[name], v)
	}
	return out, internal("recent metrics", rows.Err())
}

// HealthSettings are the thresholds of one environment as the health
// function in SQL reads them (table health_settings).
type HealthSettings struct {
	Thresholds          roman.Thresholds
	ConsecutiveBreaches int
	// AlertTriggers are the environment's alert_triggers: the names of the
	// Alertmanager alerts that are rollback triggers.
	AlertTriggers []string
}

// DefaultSettingsEnvironment is the health_settings row that holds the
// defaults of every environment without its own row.
const DefaultSettingsEnvironment = "*"

// WriteHealthSettings replaces the rows of health_settings with the given
// settings by environment (DefaultSettingsEnvironment for the defaults), in
// one transaction, so that ops.get_deployment_health on PostgreSQL uses the
// thresholds and alert triggers the server runs with.
func (db *DB) WriteHealthSettings(ctx context.Context, settings map[string]HealthSettings) error {
	names := make([]string, 0, len(settings))
	for name := range settings {
		names = append(names, name)
	}
	sort.Strings(names)
	now := db.ts(db.now())
	err := db.write(ctx, func(tx *sql.Tx) error {
		if db.dialect == DialectPostgres {
			// Replicas starting together each replace the rows: one at a
			// time, so no two insert the same environment. Readers are
			// not blocked.
			if _, err := tx.ExecContext(ctx, `LOCK TABLE health_settings IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM health_settings`); err != nil {
			return err
		}
		for _, name := range names {
			s := settings[name]
			t := s.Thresholds
			triggers, err := json.Marshal(append([]string{}, s.AlertTriggers...))
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO health_settings (environment, error_rate,
				recent_errors, db_connections, warn_error_rate, warn_p95_ms, warn_memory_percent,
				consecutive_breaches, alert_triggers, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				name, t.ErrorRate, t.RecentErrors, t.DBConnections, t.WarnErrorRate, t.WarnP95MS,
				t.WarnMemoryPercent, max(s.ConsecutiveBreaches, 1), string(triggers), now); err != nil {
				return err
			}
		}
		return nil
	})
	return internal("write health settings", err)
}
