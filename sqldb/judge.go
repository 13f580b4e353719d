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
// (deployment_id, occurred_at) and (deployment_id, name, at), in one
// statement (one round trip on the evaluation path): the error count as an
// uncorrelated subquery on every row of the samples, left-joined to one row
// so that a window without samples still returns the count. The samples are
// summed here, in the order they come, as before.
func (db *DB) JudgeCounts(ctx context.Context, deploymentID string, from, to time.Time) (roman.JudgeCounts, error) {
	var c roman.JudgeCounts
	id, ok := lookupID(deploymentID)
	if !ok {
		return c, nil
	}
	f, t := db.ts(from), db.ts(to)
	rows, err := db.queryRead(ctx, `SELECT (SELECT count(*) FROM error_events
			WHERE deployment_id = ? AND occurred_at >= ? AND occurred_at <= ?), m.value, m.at
		FROM (SELECT 1 AS one) o LEFT JOIN metric_samples m
			ON m.deployment_id = ? AND m.name = ? AND m.at > ? AND m.at <= ?`,
		id, f, t, id, roman.MetricRequests, f, t)
	if err != nil {
		return c, internal("count errors and requests", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v sql.NullFloat64
		var at *time.Time
		if err := rows.Scan(&c.Errors, &v, scanTimePtr(&at)); err != nil {
			return c, internal("count errors and requests", err)
		}
		if at == nil {
			continue // no sample: the one row of the count alone
		}
		c.Requests += v.Float64
		c.RequestSamples++
		if at.After(c.RequestsUntil) {
			c.RequestsUntil = *at
		}
	}
	return c, internal("count errors and requests", rows.Err())
}
