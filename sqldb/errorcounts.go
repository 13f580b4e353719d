package sqldb

import (
	"context"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

// The error counts of the health windows come from two places (migration
// 00017): error_seconds, the number of a deployment's error events in each
// whole second, kept by triggers in the transaction of every insert and
// delete, and the raw rows of error_events for the partial seconds at a
// window's edges. A window (from, to] is
//
//	the raw rows in (from, ⌊from⌋+1s)  — the rest of from's second
//	+ the counts of the seconds [⌊from⌋+1s, ⌊to⌋)
//	+ the raw rows in [⌊to⌋, to]       — the start of to's second
//
// which is exactly the raw count of (from, to], at the cost of one second
// of raw rows at each edge and one counter per second, whatever the rate.

// secondKey returns the error_seconds key of the second that starts at t
// (t must be a whole second): 'YYYY-MM-DDTHH:MM:SS' on SQLite, the
// timestamp on PostgreSQL.
func (db *DB) secondKey(t time.Time) any {
	t = roman.UTC(t)
	if db.dialect == DialectSQLite {
		return t.Format(sqliteTimeLayout)[:19]
	}
	return t
}

// window is the arguments of one window (from, to] split at whole seconds.
type window struct {
	from, fromEnd any // raw rows in (from, fromEnd)
	first         any // first whole second's key
}

// splitWindow returns the split of (from, to] for a window at least a
// second long, and the shared tail: the raw rows in [tailStart, to] and
// the last key (exclusive) of the whole seconds.
func (db *DB) splitWindow(from, to time.Time) window {
	next := roman.UTC(from).Truncate(time.Second).Add(time.Second)
	return window{from: db.ts(from), fromEnd: db.ts(next), first: db.secondKey(next)}
}

// CountErrors returns how many error events of a deployment have occurred_at
// in (now-1m, now] and in (now-5m, now]: whole seconds from error_seconds,
// the partial seconds at the edges from error_events, in one statement.
func (db *DB) CountErrors(ctx context.Context, deploymentID string, now time.Time) (lastMinute, last5Minutes int64, err error) {
	id, ok := lookupID(deploymentID)
	if !ok {
		return 0, 0, nil
	}
	now = roman.UTC(now)
	tail := now.Truncate(time.Second)
	m1, m5 := db.splitWindow(now.Add(-time.Minute), now), db.splitWindow(now.Add(-5*time.Minute), now)
	var edge1, edge5, last, sec1, sec5 int64
	if db.dialect == DialectPostgres {
		// One pass over the three raw ranges (a BitmapOr of the index)
		// and one over the counters: PostgreSQL plans each execution,
		// and fewer subqueries plan faster.
		err = db.queryReadRow(ctx, `SELECT e.*, s.* FROM
			(SELECT count(*) FILTER (WHERE occurred_at > ? AND occurred_at < ?),
				count(*) FILTER (WHERE occurred_at > ? AND occurred_at < ?),
				count(*) FILTER (WHERE occurred_at >= ?)
			FROM error_events WHERE deployment_id = ? AND (occurred_at > ? AND occurred_at < ?
				OR occurred_at > ? AND occurred_at < ? OR occurred_at >= ? AND occurred_at <= ?)) e,
			(SELECT coalesce(sum(n) FILTER (WHERE second >= ?), 0), coalesce(sum(n), 0)
			FROM error_seconds WHERE deployment_id = ? AND second >= ? AND second < ?) s`,
			m1.from, m1.fromEnd, m5.from, m5.fromEnd, db.ts(tail), id,
			m1.from, m1.fromEnd, m5.from, m5.fromEnd, db.ts(tail), db.ts(now),
			m1.first, id, m5.first, db.secondKey(tail)).
			Scan(&edge1, &edge5, &last, &sec1, &sec5)
	} else {
		err = db.queryReadRow(ctx, `SELECT
			(SELECT count(*) FROM error_events WHERE deployment_id = ? AND occurred_at > ? AND occurred_at < ?),
			(SELECT count(*) FROM error_events WHERE deployment_id = ? AND occurred_at > ? AND occurred_at < ?),
			(SELECT count(*) FROM error_events WHERE deployment_id = ? AND occurred_at >= ? AND occurred_at <= ?),
			(SELECT coalesce(sum(n), 0) FROM error_seconds WHERE deployment_id = ? AND second >= ? AND second < ?),
			(SELECT coalesce(sum(n), 0) FROM error_seconds WHERE deployment_id = ? AND second >= ? AND second < ?)`,
			id, m1.from, m1.fromEnd, id, m5.from, m5.fromEnd, id, db.ts(tail), db.ts(now),
			id, m1.first, db.secondKey(tail), id, m5.first, db.secondKey(tail)).
			Scan(&edge1, &edge5, &last, &sec1, &sec5)
	}
	if err != nil {
		return 0, 0, internal("count errors", err)
	}
	return edge1 + last + sec1, edge5 + last + sec5, nil
}

// CountErrorsBatch returns CountErrors of each of the deployments with two
// grouped queries: the raw rows of the partial seconds at the windows'
// edges, and the per-second counters in between.
func (db *DB) CountErrorsBatch(ctx context.Context, deploymentIDs []string, now time.Time) (map[string]roman.ErrorCounts, error) {
	out := map[string]roman.ErrorCounts{}
	param, back := db.batchIDs(deploymentIDs)
	if len(back) == 0 {
		return out, nil
	}
	now = roman.UTC(now)
	tail := now.Truncate(time.Second)
	m1, m5 := db.splitWindow(now.Add(-time.Minute), now), db.splitWindow(now.Add(-5*time.Minute), now)
	counts := map[string]*roman.ErrorCounts{}
	add := func(id string, one, five int64) {
		c := counts[id]
		if c == nil {
			c = &roman.ErrorCounts{}
			counts[id] = c
		}
		c.LastMinute += one
		c.Last5Minutes += five
	}
	ids := db.idsIn()
	rows, err := db.queryRead(ctx, `SELECT deployment_id, k, count(*) FROM (
			SELECT deployment_id, 1 AS k FROM error_events WHERE deployment_id IN `+ids+` AND occurred_at > ? AND occurred_at < ?
			UNION ALL
			SELECT deployment_id, 5 AS k FROM error_events WHERE deployment_id IN `+ids+` AND occurred_at > ? AND occurred_at < ?
			UNION ALL
			SELECT deployment_id, 0 AS k FROM error_events WHERE deployment_id IN `+ids+` AND occurred_at >= ? AND occurred_at <= ?
		) edges GROUP BY deployment_id, k`,
		param, m1.from, m1.fromEnd, param, m5.from, m5.fromEnd, param, db.ts(tail), db.ts(now))
	if err != nil {
		return nil, internal("count errors batch", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var k, n int64
		if err := rows.Scan(&id, &k, &n); err != nil {
			return nil, internal("count errors batch", err)
		}
		switch k {
		case 1:
			add(id, n, 0)
		case 5:
			add(id, 0, n)
		default:
			add(id, n, n)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, internal("count errors batch", err)
	}
	rows.Close()
	rows, err = db.queryRead(ctx, `SELECT deployment_id, coalesce(sum(n) FILTER (WHERE second >= ?), 0), sum(n)
		FROM error_seconds WHERE deployment_id IN `+ids+` AND second >= ? AND second < ?
		GROUP BY deployment_id`,
		m1.first, param, m5.first, db.secondKey(tail))
	if err != nil {
		return nil, internal("count errors batch", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var one, five int64
		if err := rows.Scan(&id, &one, &five); err != nil {
			return nil, internal("count errors batch", err)
		}
		add(id, one, five)
	}
	if err := rows.Err(); err != nil {
		return nil, internal("count errors batch", err)
	}
	for id, c := range counts {
		if c.Last5Minutes > 0 {
			out[back[strings.ToLower(id)]] = *c
		}
	}
	return out, nil
}
