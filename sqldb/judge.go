package sqldb

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

var _ roman.JudgeStore = (*DB)(nil)

// PreviousDeployment returns the deployment d replaced: the newest of its
// (service, environment) deployed before it whose status is success, or nil.
func (db *DB) PreviousDeployment(ctx context.Context, d *roman.Deployment) (*roman.Deployment, error) {
	return db.newest(ctx, `SELECT `+deploymentCols+` FROM deployments
		WHERE service = ? AND environment = ? AND status = 'success' AND deployed_at < ? AND deployment_id <> ?
		ORDER BY deployed_at DESC, id DESC LIMIT 1`,
		roman.ServiceOrDefault(d.Service), d.Environment, db.ts(d.DeployedAt), strings.ToLower(d.DeploymentID))
}

// JudgeCounts returns a deployment's errors with occurred_at in [from, to]
// and its request samples with at in (from, to], over the indexes on
// (deployment_id, occurred_at) and (deployment_id, name, at).
func (db *DB) JudgeCounts(ctx context.Context, deploymentID string, from, to time.Time) (roman.JudgeCounts, error) {
	var c roman.JudgeCounts
	id, ok := lookupID(deploymentID)
	if !ok {
		return c, nil
	}
	if err := db.queryReadRow(ctx, `SELECT count(*) FROM error_events
		WHERE deployment_id = ? AND occurred_at >= ? AND occurred_at <= ?`, id, db.ts(from), db.ts(to)).Scan(&c.Errors); err != nil {
		return c, internal("count errors", err)
	}
	rows, err := db.queryRead(ctx, `SELECT value, at FROM metric_samples
		WHERE deployment_id = ? AND name = ? AND at > ? AND at <= ?`, id, roman.MetricRequests, db.ts(from), db.ts(to))
	if err != nil {
		return c, internal("sum requests", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v sql.NullFloat64
		var at time.Time
		if err := rows.Scan(&v, scanTime(&at)); err != nil {
			return c, internal("sum requests", err)
		}
		c.Requests += v.Float64
		c.RequestSamples++
		if at.After(c.RequestsUntil) {
			c.RequestsUntil = at
		}
	}
	return c, internal("sum requests", rows.Err())
}
