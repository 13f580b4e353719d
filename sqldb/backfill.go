package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/odyssey-1/roman"
)

var _ roman.FingerprintBackfiller = (*DB)(nil)

// unmarkedSQL reads the oldest events without a fingerprint over the
// partial index error_events_unfingerprinted_idx (migration 00019), with
// whether their deployment exists (error_events has no foreign key).
const unmarkedSQL = `SELECT e.id, e.deployment_id, e.occurred_at, e.message, d.deployment_id IS NOT NULL
	FROM error_events e LEFT JOIN deployments d ON d.deployment_id = e.deployment_id
	WHERE e.fingerprint = '' ORDER BY e.id LIMIT ?`

// pgUnmarkedSQL is unmarkedSQL on PostgreSQL, the id as text for pgx.
const pgUnmarkedSQL = `SELECT e.id, e.deployment_id::text, e.occurred_at, e.message, d.deployment_id IS NOT NULL
	FROM error_events e LEFT JOIN deployments d ON d.deployment_id = e.deployment_id
	WHERE e.fingerprint = '' ORDER BY e.id LIMIT $1`

// unmarked is one event without a fingerprint.
type unmarked struct {
	id       int64
	dep      string
	at       time.Time
	message  string
	known    bool
	computed string
}

// FingerprintUnmarked implements roman.FingerprintBackfiller: in one write
// transaction it reads up to limit events without a fingerprint, sets
// roman's fingerprint of each (only where it is still empty, so a
// concurrent writer's rows are not counted twice), and adds the events it
// set to their groups and first sightings with the code ingest uses
// (fingerprints.go).
func (db *DB) FingerprintUnmarked(ctx context.Context, limit int) (int, []string, error) {
	if limit <= 0 {
		return 0, nil, nil
	}
	// The usual case, nothing to do, is one read over an empty partial
	// index: no write transaction (on SQLite the writer's lock) is taken.
	var one int
	if err := db.queryReadRow(ctx, `SELECT 1 FROM error_events WHERE fingerprint = '' LIMIT 1`).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	} else if err != nil {
		return 0, nil, internal("fingerprint unmarked error events", err)
	}
	var n int
	var deps []string
	done := func(rows []unmarked) ([]roman.ErrorEvent, []string) {
		var evs []roman.ErrorEvent
		var ids []string
		seen := map[string]bool{}
		for _, r := range rows {
			n++
			if !r.known {
				continue
			}
			evs = append(evs, roman.ErrorEvent{DeploymentID: r.dep, OccurredAt: r.at, Message: r.message, Fingerprint: r.computed})
			ids = append(ids, r.dep)
			if !seen[r.dep] {
				seen[r.dep] = true
				deps = append(deps, r.dep)
			}
		}
		return evs, ids
	}
	var err error
	if db.dialect == DialectPostgres {
		err = db.pgWrite(ctx, func(tx pgx.Tx) error {
			rows, err := readUnmarked(func() (scanRows, error) { return pgRows(tx.Query(ctx, pgUnmarkedSQL, limit)) })
			if err != nil || len(rows) == 0 {
				return err
			}
			ids, fps := make([]int64, len(rows)), make([]string, len(rows))
			for i, r := range rows {
				ids[i], fps[i] = r.id, r.computed
			}
			res, err := tx.Query(ctx, `UPDATE error_events e SET fingerprint = u.fp
				FROM unnest($1::bigint[], $2::text[]) AS u(id, fp) WHERE e.id = u.id AND e.fingerprint = '' RETURNING e.id`, ids, fps)
			if err != nil {
				return err
			}
			set, err := pgx.CollectRows(res, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			evs, evIDs := done(onlySet(rows, set))
			return trackPostgres(ctx, tx, db.groupFingerprints(evs, evIDs))
		})
	} else {
		err = db.write(ctx, func(tx *sql.Tx) error {
			rows, err := readUnmarked(func() (scanRows, error) { return tx.QueryContext(ctx, unmarkedSQL, limit) })
			if err != nil || len(rows) == 0 {
				return err
			}
			st, err := tx.PrepareContext(ctx, `UPDATE error_events SET fingerprint = ? WHERE id = ? AND fingerprint = ''`)
			if err != nil {
				return err
			}
			defer st.Close()
			var set []int64
			for _, r := range rows {
				res, err := st.ExecContext(ctx, r.computed, r.id)
				if err != nil {
					return err
				}
				if k, err := res.RowsAffected(); err != nil {
					return err
				} else if k == 1 {
					set = append(set, r.id)
				}
			}
			evs, evIDs := done(onlySet(rows, set))
			return db.trackSQLite(ctx, tx, db.groupFingerprints(evs, evIDs))
		})
	}
	if err != nil {
		return 0, nil, internal("fingerprint unmarked error events", err)
	}
	return n, deps, nil
}

// scanRows is what readUnmarked needs of *sql.Rows and pgx.Rows.
type scanRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// pgxRows adapts pgx.Rows (whose Close returns nothing) to scanRows.
type pgxRows struct{ pgx.Rows }

func (r pgxRows) Close() error { r.Rows.Close(); return nil }

func pgRows(rows pgx.Rows, err error) (scanRows, error) {
	if err != nil {
		return nil, err
	}
	return pgxRows{rows}, nil
}

// readUnmarked reads the rows of unmarkedSQL and computes each one's
// fingerprint: roman's own of its message, as ingest computes it for an
// event that has neither a fingerprint, an error_type nor a stack.
func readUnmarked(query func() (scanRows, error)) ([]unmarked, error) {
	rows, err := query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []unmarked
	for rows.Next() {
		var r unmarked
		if err := rows.Scan(&r.id, idScan{s: &r.dep}, scanTime(&r.at), &r.message, &r.known); err != nil {
			return nil, err
		}
		r.computed = roman.Fingerprint("", r.message, "")
		out = append(out, r)
	}
	return out, rows.Err()
}

// onlySet keeps the rows whose id is in set.
func onlySet(rows []unmarked, set []int64) []unmarked {
	in := make(map[int64]bool, len(set))
	for _, id := range set {
		in[id] = true
	}
	out := rows[:0]
	for _, r := range rows {
		if in[r.id] {
			out = append(out, r)
		}
	}
	return out
}

// pgWrite runs fn in a transaction on a write-pool connection's pgx.Conn
// (PostgreSQL), committing when it returns nil.
func (db *DB) pgWrite(ctx context.Context, fn func(tx pgx.Tx) error) error {
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
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}
