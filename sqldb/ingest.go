package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/odyssey-1/roman"
)

// sqliteBatchRows is how many rows one multi-row INSERT carries on SQLite:
// large enough to amortise statement overhead, small enough that rows times
// columns stays far below SQLite's limit of 32766 variables.
const sqliteBatchRows = 500

// InsertErrorEvents stores a batch of error events in one transaction: one
// COPY on PostgreSQL, multi-row INSERTs on SQLite. A zero OccurredAt is now.
// EINVALID for a malformed deployment_id, ENOTFOUND (naming it) for an
// unknown one; on error nothing of the batch is stored.
func (db *DB) InsertErrorEvents(ctx context.Context, events []roman.ErrorEvent) error {
	if len(events) == 0 {
		return nil
	}
	ids, err := batchIDs(len(events), func(i int) string { return events[i].DeploymentID }, "error event")
	if err != nil {
		return err
	}
	cols := []string{"deployment_id", "environment", "occurred_at", "message", "severity", "fingerprint"}
	if db.dialect == DialectPostgres {
		rows := make([][]any, len(events))
		for i, e := range events {
			rows[i] = []any{pgUUID(ids[i]), e.Environment, db.orNow(e.OccurredAt), e.Message, e.Severity, e.Fingerprint}
		}
		return internal("insert error events", db.copyFrom(ctx, "error_events", cols, ids, rows))
	}
	return internal("insert error events", db.insertBatch(ctx, "error_events", cols, ids, func(i int, args []any) []any {
		e := &events[i]
		return append(args, ids[i], e.Environment, db.ts(db.orNow(e.OccurredAt)), e.Message, e.Severity, e.Fingerprint)
	}))
}

// InsertMetricSamples stores a batch of metric samples in one transaction,
// like InsertErrorEvents. A zero At is now.
func (db *DB) InsertMetricSamples(ctx context.Context, samples []roman.MetricSample) error {
	if len(samples) == 0 {
		return nil
	}
	ids, err := batchIDs(len(samples), func(i int) string { return samples[i].DeploymentID }, "metric sample")
	if err != nil {
		return err
	}
	cols := []string{"deployment_id", "environment", "name", "value", "at"}
	if db.dialect == DialectPostgres {
		rows := make([][]any, len(samples))
		for i, s := range samples {
			rows[i] = []any{pgUUID(ids[i]), s.Environment, s.Name, s.Value, db.orNow(s.At)}
		}
		return internal("insert metric samples", db.copyFrom(ctx, "metric_samples", cols, ids, rows))
	}
	return internal("insert metric samples", db.insertBatch(ctx, "metric_samples", cols, ids, func(i int, args []any) []any {
		s := &samples[i]
		return append(args, ids[i], s.Environment, s.Name, s.Value, db.ts(db.orNow(s.At)))
	}))
}

// batchIDs validates and normalises the deployment ids of a batch.
func batchIDs(n int, id func(i int) string, kind string) ([]string, error) {
	ids := make([]string, n)
	for i := range ids {
		v, err := normID("deployment_id", id(i))
		if err != nil || v == "" {
			return nil, roman.Errorf(roman.EINVALID, "%s %d: deployment_id must be a UUID", kind, i)
		}
		ids[i] = v
	}
	return ids, nil
}

// distinct returns the distinct values of ids in first-seen order.
func distinct(ids []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// checkDeployments returns ENOTFOUND naming the first of ids that is not a
// deployment. It is the ingest tables' foreign key, checked once per
// distinct deployment instead of once per row.
func (db *DB) checkDeployments(ctx context.Context, q queryRower, ids []string) error {
	for _, id := range distinct(ids) {
		var one int
		err := q.QueryRowContext(ctx, db.q(`SELECT 1 FROM deployments WHERE deployment_id = ?`), id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("deployment", id)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// queryRower is *sql.DB or *sql.Tx.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// pgUUID converts a validated uuid text for COPY's binary format.
func pgUUID(s string) pgtype.UUID {
	return pgtype.UUID{Bytes: uuid.MustParse(s), Valid: true}
}

// copyFrom checks the batch's deployments and COPYs rows into table, in one
// transaction on the pool connection's pgx.Conn.
func (db *DB) copyFrom(ctx context.Context, table string, cols, ids []string, rows [][]any) error {
	conn, err := db.wdb.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		tx, err := dc.(*stdlib.Conn).Conn().Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		for _, id := range distinct(ids) {
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM deployments WHERE deployment_id = $1`, id).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("deployment", id)
			} else if err != nil {
				return err
			}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{Schema, table}, cols, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}

// insertBatch checks the batch's deployments and inserts len(ids) rows into
// table in one transaction, with multi-row INSERTs of sqliteBatchRows rows
// whose statement is prepared once per DB. row appends the values of row i
// to args.
func (db *DB) insertBatch(ctx context.Context, table string, cols, ids []string, row func(i int, args []any) []any) error {
	n := len(ids)
	full, err := db.batchStmt(ctx, table, cols)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		if err := db.checkDeployments(ctx, tx, ids); err != nil {
			return err
		}
		var stmt *sql.Stmt
		args := make([]any, 0, min(n, sqliteBatchRows)*len(cols))
		for start := 0; start < n; start += sqliteBatchRows {
			end := min(start+sqliteBatchRows, n)
			args = args[:0]
			for i := start; i < end; i++ {
				args = row(i, args)
			}
			var err error
			if end-start == sqliteBatchRows {
				if stmt == nil {
					stmt = tx.StmtContext(ctx, full)
					defer stmt.Close()
				}
				_, err = stmt.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, insertSQL(table, cols, end-start), args...)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// batchStmt returns the prepared full-chunk INSERT of table on the write
// pool, preparing it on first use. It is closed by Close.
func (db *DB) batchStmt(ctx context.Context, table string, cols []string) (*sql.Stmt, error) {
	if s, ok := db.stmts.Load(table); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := db.wdb.PrepareContext(ctx, insertSQL(table, cols, sqliteBatchRows))
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(table, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

// insertSQL returns a multi-row INSERT of rows rows into table.
func insertSQL(table string, cols []string, rows int) string {
	one := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	var b strings.Builder
	b.Grow(len(table) + 40 + rows*(len(one)+2))
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}

// CountErrors returns how many error events of a deployment have occurred_at
// in (now-1m, now] and in (now-5m, now], in one query over the
// (deployment_id, occurred_at) index.
func (db *DB) CountErrors(ctx context.Context, deploymentID string, now time.Time) (lastMinute, last5Minutes int64, err error) {
	id, ok := lookupID(deploymentID)
	if !ok {
		return 0, 0, nil
	}
	err = db.db.QueryRowContext(ctx, db.q(`SELECT
		coalesce(sum(CASE WHEN occurred_at > ? THEN 1 ELSE 0 END), 0), count(*)
		FROM error_events WHERE deployment_id = ? AND occurred_at > ? AND occurred_at <= ?`),
		db.ts(now.Add(-time.Minute)), id, db.ts(now.Add(-5*time.Minute)), db.ts(now)).
		Scan(&lastMinute, &last5Minutes)
	if err != nil {
		return 0, 0, internal("count errors", err)
	}
	return lastMinute, last5Minutes, nil
}

// LatestMetrics returns, per metric name, the newest sample (by at, then id)
// of a deployment taken in (since, now].
func (db *DB) LatestMetrics(ctx context.Context, deploymentID string, since, now time.Time) (map[string]float64, error) {
	out := map[string]float64{}
	id, ok := lookupID(deploymentID)
	if !ok {
		return out, nil
	}
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT name, value FROM (
		SELECT name, value, row_number() OVER (PARTITION BY name ORDER BY at DESC, id DESC) AS rn
		FROM metric_samples WHERE deployment_id = ? AND at > ? AND at <= ?) latest WHERE rn = 1`),
		id, db.ts(since), db.ts(now))
	if err != nil {
		return nil, internal("latest metrics", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var v float64
		if err := rows.Scan(&name, &v); err != nil {
			return nil, internal("latest metrics", err)
		}
		out[name] = v
	}
	return out, internal("latest metrics", rows.Err())
}
