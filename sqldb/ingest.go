package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/odyssey-1/roman"
)

// sqliteChunks are the row counts of the prepared multi-row INSERTs a batch
// is cut into on SQLite, largest first: a batch takes the largest that fits,
// again and again, so that every statement is prepared once per table and
// size and no batch size compiles a statement of its own. 4,096 rows × 6
// columns stays under SQLite's limit of 32,766 variables; bigger statements
// insert faster (fewer calls into the driver) than the 500-row ones used
// before.
var sqliteChunks = [...]int{4096, 1024, 256, 64, 16, 4, 1}

// InsertErrorEvents stores a batch of error events in one transaction: one
// COPY on PostgreSQL, multi-row INSERTs on SQLite. A zero OccurredAt is now.
// In the same transaction it adds the events to their releases' groups by
// fingerprint and records each fingerprint's first sighting
// (fingerprints.go): a few rows per batch, whatever its size.
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
	groups := db.groupFingerprints(events, ids)
	if db.dialect == DialectPostgres {
		var box [6]boxer
		return internal("insert error events", db.copyFrom(ctx, "error_events", cols, ids, len(events), func(i int, row []any) {
			e := &events[i]
			row[0], row[1], row[2] = box[0].uuid(ids[i]), box[1].str(e.Environment), db.orNow(e.OccurredAt)
			row[3], row[4], row[5] = box[3].str(e.Message), box[4].str(e.Severity), box[5].str(e.Fingerprint)
		}, func(tx pgx.Tx) error { return trackPostgres(ctx, tx, groups) }))
	}
	times := db.sqliteTimes(len(events), func(i int) time.Time { return events[i].OccurredAt })
	var box [6]boxer
	// The batch's per-second counts go into error_seconds in the same
	// transaction (the rows say counted = 1, so the trigger for other
	// writers leaves them alone).
	addSeconds, err := db.errorSecondsAdder(ctx, ids, times)
	if err != nil {
		return internal("insert error events", err)
	}
	return internal("insert error events", db.insertBatch(ctx, "error_events", append(cols, "counted"), ids, func(i int, args []any) []any {
		e := &events[i]
		return append(args, box[0].str(ids[i]), box[1].str(e.Environment), box[2].str(times[i]),
			box[3].str(e.Message), box[4].str(e.Severity), box[5].str(e.Fingerprint), counted)
	}, func(tx *sql.Tx) error {
		if err := addSeconds(tx); err != nil {
			return err
		}
		return db.trackSQLite(ctx, tx, groups)
	}))
}

// counted is the value of error_events.counted for rows whose counts the
// store adds itself.
var counted any = int64(1)

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
		var box [3]boxer
		return internal("insert metric samples", db.copyFrom(ctx, "metric_samples", cols, ids, len(samples), func(i int, row []any) {
			s := &samples[i]
			row[0], row[1], row[2], row[3], row[4] = box[0].uuid(ids[i]), box[1].str(s.Environment), box[2].str(s.Name), s.Value, db.orNow(s.At)
		}, nil))
	}
	times := db.sqliteTimes(len(samples), func(i int) time.Time { return samples[i].At })
	var box [4]boxer
	return internal("insert metric samples", db.insertBatch(ctx, "metric_samples", cols, ids, func(i int, args []any) []any {
		s := &samples[i]
		return append(args, box[0].str(ids[i]), box[1].str(s.Environment), box[2].str(s.Name), s.Value, box[3].str(times[i]))
	}, nil))
}

// batchIDs validates and normalises the deployment ids of a batch. A batch
// usually belongs to one deployment: a repeated id is checked once.
func batchIDs(n int, id func(i int) string, kind string) ([]string, error) {
	ids := make([]string, n)
	var prev, prevNorm string
	for i := range ids {
		raw := id(i)
		if i > 0 && raw == prev {
			ids[i] = prevNorm
			continue
		}
		v, err := normID("deployment_id", raw)
		if err != nil || v == "" {
			return nil, roman.Errorf(roman.EINVALID, "%s %d: deployment_id must be a UUID", kind, i)
		}
		ids[i], prev, prevNorm = v, raw, v
	}
	return ids, nil
}

// boxer converts the values of one column to query arguments, reusing the
// last one when a row repeats the previous row's value: converting a string
// or a UUID to an interface allocates, and a batch's rows mostly share their
// deployment, environment and severity.
type boxer struct {
	s string
	v any
}

func (b *boxer) str(s string) any {
	if b.v == nil || s != b.s {
		b.s, b.v = s, s
	}
	return b.v
}

func (b *boxer) uuid(s string) any {
	if b.v == nil || s != b.s {
		b.s, b.v = s, pgUUID(s)
	}
	return b.v
}

// sqliteTimes returns the stored text of n timestamps (zero is now), all
// formatted into one string (one allocation instead of one per row).
func (db *DB) sqliteTimes(n int, at func(i int) time.Time) []string {
	buf := make([]byte, 0, n*len(sqliteTimeLayout))
	ends := make([]int, n)
	for i := 0; i < n; i++ {
		buf = appendSQLiteTime(buf, db.orNow(at(i)))
		ends[i] = len(buf)
	}
	all := string(buf)
	out := make([]string, n)
	start := 0
	for i, end := range ends {
		out[i], start = all[start:end], end
	}
	return out
}

// appendSQLiteTime appends t (UTC, microseconds) as t.Format(sqliteTimeLayout)
// would, without the general formatter's cost.
func appendSQLiteTime(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, sqliteTimeLayout)
	}
	hour, minute, sec := t.Clock()
	d2 := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = d2(d2(b, year/100), year%100)
	b = d2(append(b, '-'), int(month))
	b = d2(append(b, '-'), day)
	b = d2(append(b, 'T'), hour)
	b = d2(append(b, ':'), minute)
	b = d2(append(b, ':'), sec)
	us := t.Nanosecond() / 1000
	b = d2(d2(d2(append(b, '.'), us/10000), us/100%100), us%100)
	return append(b, 'Z')
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

// copyRows is a pgx.CopyFromSource of n rows that fill fills into one
// reused slice: pgx encodes each row before asking for the next.
type copyRows struct {
	n, i int
	row  []any
	fill func(i int, row []any)
}

func (r *copyRows) Next() bool             { r.i++; return r.i <= r.n }
func (r *copyRows) Values() ([]any, error) { r.fill(r.i-1, r.row); return r.row, nil }
func (r *copyRows) Err() error             { return nil }

// copyFrom checks the batch's deployments and COPYs n rows into table (fill
// sets row i's values), in one transaction on the pool connection's
// pgx.Conn; then, when set, after runs in the same transaction.
func (db *DB) copyFrom(ctx context.Context, table string, cols, ids []string, n int, fill func(i int, row []any), after func(tx pgx.Tx) error) error {
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
		rows := &copyRows{n: n, row: make([]any, len(cols)), fill: fill}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{Schema, table}, cols, rows); err != nil {
			return err
		}
		if after != nil {
			if err := after(tx); err != nil {
				return err
			}
		}
		return tx.Commit(ctx)
	})
}

// insertBatch checks the batch's deployments and inserts len(ids) rows into
// table in one transaction, cut into the prepared multi-row INSERTs of
// sqliteChunks. row appends the values of row i to args; after, when not
// nil, runs last in the same transaction.
func (db *DB) insertBatch(ctx context.Context, table string, cols, ids []string, row func(i int, args []any) []any, after func(tx *sql.Tx) error) error {
	// The statements are prepared before the transaction takes the write
	// pool's only connection, and then used on it as they are.
	type chunk struct {
		stmt *sql.Stmt
		rows int
	}
	var chunks []chunk
	for left := len(ids); left > 0; {
		size := sqliteChunks[len(sqliteChunks)-1]
		for _, c := range sqliteChunks {
			if c <= left {
				size = c
				break
			}
		}
		stmt, err := db.batchStmt(ctx, table, cols, size)
		if err != nil {
			return err
		}
		chunks = append(chunks, chunk{stmt, size})
		left -= size
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		if err := db.checkDeployments(ctx, tx, ids); err != nil {
			return err
		}
		args := make([]any, 0, chunks[0].rows*len(cols))
		inTx := map[*sql.Stmt]*sql.Stmt{}
		start := 0
		for _, c := range chunks {
			st := inTx[c.stmt]
			if st == nil {
				st = tx.StmtContext(ctx, c.stmt)
				inTx[c.stmt] = st
			}
			args = args[:0]
			for i := start; i < start+c.rows; i++ {
				args = row(i, args)
			}
			start += c.rows
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return err
			}
		}
		if after != nil {
			return after(tx)
		}
		return nil
	})
}

// batchStmt returns the prepared INSERT of rows rows into table on the
// write pool, preparing it on first use. It is closed by Close.
func (db *DB) batchStmt(ctx context.Context, table string, cols []string, rows int) (*sql.Stmt, error) {
	key := table + "/" + strconv.Itoa(rows)
	if s, ok := db.stmts.Load(key); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := db.wdb.PrepareContext(ctx, insertSQL(table, cols, rows))
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(key, s); loaded {
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

// LatestMetrics returns, per metric name, the newest sample (by at, then id)
// of a deployment taken in (since, now].
//
// The query skips through the (deployment_id, name, at) index: the
// recursive part finds each distinct name with one index seek, and each
// name's newest sample in the window is one more seek. It costs a few
// seeks per name however many samples the deployment has (a window
// function over every sample took 13 times as long on SQLite with 100
// samples per name; see BenchmarkCheckAt1000RPS in docs/benchmarks.md).
func (db *DB) LatestMetrics(ctx context.Context, deploymentID string, since, now time.Time) (map[string]float64, error) {
	out := map[string]float64{}
	id, ok := lookupID(deploymentID)
	if !ok {
		return out, nil
	}
	rows, err := db.queryRead(ctx, `WITH RECURSIVE names(name) AS (
		SELECT min(name) FROM metric_samples WHERE deployment_id = ?
		UNION ALL
		SELECT (SELECT min(name) FROM metric_samples WHERE deployment_id = ? AND name > names.name)
		FROM names WHERE names.name IS NOT NULL)
		SELECT name, (SELECT value FROM metric_samples s WHERE s.deployment_id = ? AND s.name = names.name
			AND s.at > ? AND s.at <= ? ORDER BY s.at DESC, s.id DESC LIMIT 1)
		FROM names WHERE name IS NOT NULL`,
		id, id, id, db.ts(since), db.ts(now))
	if err != nil {
		return nil, internal("latest metrics", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var v sql.NullFloat64
		if err := rows.Scan(&name, &v); err != nil {
			return nil, internal("latest metrics", err)
		}
		if v.Valid { // NULL: no sample of the name in the window
			out[name] = v.Float64
		}
	}
	return out, internal("latest metrics", rows.Err())
}
