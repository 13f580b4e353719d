package sqldb

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

// seconds returns the dialect's SQL expression for the number of seconds
// from timestamp column `from` to timestamp column `to`, as a float.
func (db *DB) seconds(from, to string) string {
	if db.dialect == DialectPostgres {
		return fmt.Sprintf("extract(epoch from (%s - %s))::float8", to, from)
	}
	return fmt.Sprintf("((julianday(%s) - julianday(%s)) * 86400.0)", to, from)
}

// ActiveDeployments returns the newest successful deployment of every
// service in every environment, ordered by environment and service, in one
// query.
func (db *DB) ActiveDeployments(ctx context.Context) ([]*roman.Deployment, error) {
	return db.queryDeployments(ctx, `SELECT `+deploymentCols+` FROM (
		SELECT deployments.*, row_number() OVER (PARTITION BY service, environment ORDER BY deployed_at DESC, id DESC) AS rn
		FROM deployments WHERE status = 'success') active WHERE rn = 1 ORDER BY environment, service`)
}

// CountDeployments returns the number of deployments per environment,
// service and status.
func (db *DB) CountDeployments(ctx context.Context) ([]roman.DeploymentCount, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT environment, service, status, count(*) FROM deployments
		GROUP BY environment, service, status ORDER BY environment, service, status`)
	if err != nil {
		return nil, internal("count deployments", err)
	}
	defer rows.Close()
	out := []roman.DeploymentCount{}
	for rows.Next() {
		var c roman.DeploymentCount
		if err := rows.Scan(&c.Environment, &c.Service, &c.Status, &c.Count); err != nil {
			return nil, internal("count deployments", err)
		}
		out = append(out, c)
	}
	return out, internal("count deployments", rows.Err())
}

// RollbackOutcomes aggregates finished rollback events by environment,
// service, trigger type and status, counting durations into the given cumulative
// buckets, in one query.
func (db *DB) RollbackOutcomes(ctx context.Context, buckets []float64) ([]roman.RollbackOutcome, error) {
	var sel strings.Builder
	args := make([]any, 0, len(buckets))
	for _, b := range buckets {
		sel.WriteString(", coalesce(sum(CASE WHEN d <= ? THEN 1 ELSE 0 END), 0)")
		args = append(args, b)
	}
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT environment, service, trigger_type, status, count(*),
		coalesce(sum(d), 0)`+sel.String()+` FROM (
		SELECT environment, service, trigger_type, status, coalesce(`+db.seconds("initiated_at", "completed_at")+`, 0) AS d
		FROM rollback_events WHERE status IN ('success', 'failed', 'aborted')) finished
		GROUP BY environment, service, trigger_type, status ORDER BY environment, service, trigger_type, status`), args...)
	if err != nil {
		return nil, internal("rollback outcomes", err)
	}
	defer rows.Close()
	out := []roman.RollbackOutcome{}
	for rows.Next() {
		o := roman.RollbackOutcome{Buckets: make([]int64, len(buckets))}
		dest := []any{&o.Environment, &o.Service, &o.TriggerType, &o.Status, &o.Count, &o.DurationSum}
		for i := range o.Buckets {
			dest = append(dest, &o.Buckets[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, internal("rollback outcomes", err)
		}
		out = append(out, o)
	}
	return out, internal("rollback outcomes", rows.Err())
}

// rejectedSeverities are the roman_events severities of a rollback
// validation that rejected (error when rejected, info when
// approved).
const rejectedSeverities = `('error', 'critical')`

// RollbackStats summarises the rollback events initiated at or after since
// and the rollback validations logged since then.
func (db *DB) RollbackStats(ctx context.Context, since time.Time) (roman.RollbackStats, error) {
	var s roman.RollbackStats
	var avg *float64
	err := db.queryReadRow(ctx, `SELECT count(*),
		coalesce(sum(CASE WHEN status = 'success' THEN 1 ELSE 0 END), 0),
		coalesce(sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0),
		coalesce(sum(CASE WHEN status = 'aborted' THEN 1 ELSE 0 END), 0),
		coalesce(sum(CASE WHEN status IN ('pending', 'in_progress') THEN 1 ELSE 0 END), 0),
		avg(CASE WHEN status = 'success' THEN `+db.seconds("initiated_at", "completed_at")+` END)
		FROM rollback_events WHERE initiated_at >= ?`, db.ts(since)).
		Scan(&s.Total, &s.Succeeded, &s.Failed, &s.Aborted, &s.Unfinished, &avg)
	if err != nil {
		return s, internal("rollback stats", err)
	}
	s.AverageDurationSeconds = avg
	if ran := s.Succeeded + s.Failed; ran > 0 {
		s.SuccessRate = ratio(s.Succeeded, ran)
	}
	err = db.queryReadRow(ctx, `SELECT count(*),
		coalesce(sum(CASE WHEN severity IN `+rejectedSeverities+` THEN 0 ELSE 1 END), 0)
		FROM roman_events WHERE event_type = ? AND "timestamp" >= ?`,
		roman.EventRollbackValidation, db.ts(since)).Scan(&s.Validations, &s.Approved)
	if err != nil {
		return s, internal("rollback stats", err)
	}
	if s.Validations > 0 {
		s.ApprovalRate = ratio(s.Approved, s.Validations)
	}
	return s, nil
}

func ratio(a, b int64) *float64 {
	r := float64(a) / float64(b)
	return &r
}

// CountValidations returns how many rollback validations roman_events
// holds, approved and rejected.
func (db *DB) CountValidations(ctx context.Context) (approved, rejected int64, err error) {
	err = db.db.QueryRowContext(ctx, db.q(`SELECT
		coalesce(sum(CASE WHEN severity IN `+rejectedSeverities+` THEN 0 ELSE 1 END), 0),
		coalesce(sum(CASE WHEN severity IN `+rejectedSeverities+` THEN 1 ELSE 0 END), 0)
		FROM roman_events WHERE event_type = ?`), roman.EventRollbackValidation).Scan(&approved, &rejected)
	return approved, rejected, internal("count validations", err)
}

// ErrorBuckets counts a deployment's error events in n buckets of width
// step from `from`. Buckets of whole seconds (the dashboard's chart) add up
// the per-second counters of error_seconds, so an hour costs at most 3,600
// counters however many errors it had; other buckets group the raw rows
// over the (deployment_id, occurred_at) index. An unknown or malformed id
// has no errors.
func (db *DB) ErrorBuckets(ctx context.Context, deploymentID string, from time.Time, step time.Duration, n int) ([]int64, error) {
	if n <= 0 || step <= 0 {
		return nil, roman.Errorf(roman.EINVALID, "error buckets need a positive step and count")
	}
	out := make([]int64, n)
	id, ok := lookupID(deploymentID)
	if !ok {
		return out, nil
	}
	from = roman.UTC(from)
	to := from.Add(time.Duration(n) * step)
	if from.Equal(from.Truncate(time.Second)) && step%time.Second == 0 {
		return db.errorSecondBuckets(ctx, id, from, to, step, out)
	}
	// The bucket index is integer arithmetic on microseconds since the
	// epoch, so that an event exactly on a bucket's edge lands in the later
	// bucket, as the range [from, from+step) says. SQLite's fixed-width
	// text gives the whole seconds and the six digits of microseconds.
	micros := `(CAST(strftime('%s', occurred_at) AS INTEGER) * 1000000 + CAST(substr(occurred_at, 21, 6) AS INTEGER))`
	if db.dialect == DialectPostgres {
		micros = `(extract(epoch from occurred_at) * 1000000)::bigint`
	}
	bucket := "((" + micros + " - ?) / ?)"
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT `+bucket+` AS b, count(*) FROM error_events
		WHERE deployment_id = ? AND occurred_at >= ? AND occurred_at < ? GROUP BY b`),
		from.UnixMicro(), step.Microseconds(), id, db.ts(from), db.ts(to))
	if err != nil {
		return nil, internal("error buckets", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b, c int64
		if err := rows.Scan(&b, &c); err != nil {
			return nil, internal("error buckets", err)
		}
		// Floating-point rounding may put an event at an edge one bucket
		// out; it belongs to the nearest bucket inside the range.
		b = min(max(b, 0), int64(n-1))
		out[b] += c
	}
	return out, internal("error buckets", rows.Err())
}

// OutboxDepth returns how many alerts of alert_outbox wait for delivery:
// neither delivered nor given up.
func (db *DB) OutboxDepth(ctx context.Context) (int64, error) {
	var n int64
	err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM alert_outbox WHERE delivered_at IS NULL AND failed_at IS NULL`).Scan(&n)
	return n, internal("outbox depth", err)
}

// errorSecondBuckets is ErrorBuckets for a whole-second from and step: the
// counters of the seconds in [from, to), grouped by bucket.
func (db *DB) errorSecondBuckets(ctx context.Context, id string, from, to time.Time, step time.Duration, out []int64) ([]int64, error) {
	epoch := `CAST(strftime('%s', second) AS INTEGER)`
	if db.dialect == DialectPostgres {
		epoch = `extract(epoch from second)::bigint`
	}
	rows, err := db.queryRead(ctx, `SELECT (`+epoch+` - ?) / ? AS b, sum(n) FROM error_seconds
		WHERE deployment_id = ? AND second >= ? AND second < ? GROUP BY b`,
		from.Unix(), int64(step/time.Second), id, db.secondKey(from), db.secondKey(to))
	if err != nil {
		return nil, internal("error buckets", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b, c int64
		if err := rows.Scan(&b, &c); err != nil {
			return nil, internal("error buckets", err)
		}
		if b >= 0 && b < int64(len(out)) {
			out[b] += c
		}
	}
	return out, internal("error buckets", rows.Err())
}
