package sqldb

import (
	"context"
	"database/sql"
	"sort"
	"strconv"
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

// peaksScanBelow is how many errors in a range ErrorPeaks simply scans:
// fewer rows than the counters would save.
var peaksScanBelow int64 = 5000

// peaksMaxSeconds bounds the ranges ErrorPeaks narrows with the counters
// (one slot per second in memory); longer ones are scanned.
const peaksMaxSeconds = 7 * 24 * 3600

// ErrorPeaks returns the busiest minute and five minutes of the
// deployment's errors with occurred_at in [from, to], each window ending at
// one of those errors' times (the earliest, when several windows tie).
//
// A window ending at a time t in second s holds the errors of the whole
// seconds between s−W and s (from error_seconds), those of second s up to
// t, and those of second s−W after t−W. So the window's count for the
// best t in s lies between L(s), the whole seconds plus all of second s,
// and U(s) = L(s) plus all of second s−W. Only the seconds whose U reaches
// the best L are refined exactly from the raw rows of their two partial
// seconds; a small range, or one where that would read more rows than a
// scan, is scanned as before. Either way the answer is exactly the scan's.
func (db *DB) ErrorPeaks(ctx context.Context, deploymentID string, from, to time.Time) (roman.ErrorPeaks, error) {
	id, ok := lookupID(deploymentID)
	if !ok {
		return roman.ErrorPeaks{}, nil
	}
	from, to = roman.UTC(from), roman.UTC(to)
	first, last := from.Truncate(time.Second), to.Truncate(time.Second)
	span := int(last.Sub(first)/time.Second) + 1
	if to.Before(from) || span < 3 || span > peaksMaxSeconds {
		return db.errorPeaksScan(ctx, id, from, to)
	}
	pk := &peaks{db: db, id: id, from: from, to: to, first: first, b: make([]int64, span), times: map[int][]time.Time{}}
	if err := pk.readCounters(ctx); err != nil {
		return roman.ErrorPeaks{}, err
	}
	var total int64
	for _, n := range pk.b {
		total += n
	}
	if total < peaksScanBelow {
		return db.errorPeaksScan(ctx, id, from, to)
	}
	c1, ok1 := pk.candidates(60, total)
	c5, ok5 := pk.candidates(300, total)
	if !ok1 || !ok5 {
		return db.errorPeaksScan(ctx, id, from, to)
	}
	var p roman.ErrorPeaks
	var err error
	if p.Minute, p.MinuteAt, err = pk.best(ctx, 60, c1); err != nil {
		return roman.ErrorPeaks{}, err
	}
	if p.FiveMinutes, p.FiveMinutesAt, err = pk.best(ctx, 300, c5); err != nil {
		return roman.ErrorPeaks{}, err
	}
	return p, nil
}

// peaks is the state of one ErrorPeaks narrowed by the counters: b[i] is
// the number of errors in [from, to] in the second first+i.
type peaks struct {
	db       *DB
	id       string
	from, to time.Time
	first    time.Time
	b        []int64
	prefix   []int64             // prefix[i] = b[0] + … + b[i-1]
	times    map[int][]time.Time // raw times of the seconds read, in order
}

// readCounters fills b from error_seconds, with the two edge seconds
// counted from the raw rows inside [from, to].
func (pk *peaks) readCounters(ctx context.Context) error {
	db := pk.db
	n := len(pk.b)
	rows, err := db.queryRead(ctx, `SELECT second, n FROM error_seconds WHERE deployment_id = ? AND second > ? AND second < ?`,
		pk.id, db.secondKey(pk.first), db.secondKey(pk.first.Add(time.Duration(n-1)*time.Second)))
	if err != nil {
		return internal("error peaks", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sec time.Time
		var c int64
		if db.dialect == DialectSQLite {
			var key string
			if err := rows.Scan(&key, &c); err != nil {
				return internal("error peaks", err)
			}
			if sec, err = time.Parse("2006-01-02T15:04:05", key); err != nil {
				return internal("error peaks", err)
			}
		} else if err := rows.Scan(scanTime(&sec), &c); err != nil {
			return internal("error peaks", err)
		}
		if i := int(sec.Sub(pk.first) / time.Second); i > 0 && i < n-1 {
			pk.b[i] = c
		}
	}
	if err := rows.Err(); err != nil {
		return internal("error peaks", err)
	}
	for _, i := range []int{0, n - 1} {
		ts, err := pk.second(ctx, i)
		if err != nil {
			return err
		}
		pk.b[i] = int64(len(ts))
	}
	pk.prefix = make([]int64, n+1)
	for i, c := range pk.b {
		pk.prefix[i+1] = pk.prefix[i] + c
	}
	return nil
}

// second returns the raw error times of the second first+i inside
// [from, to], in order, reading them once.
func (pk *peaks) second(ctx context.Context, i int) ([]time.Time, error) {
	if ts, ok := pk.times[i]; ok {
		return ts, nil
	}
	lo := pk.first.Add(time.Duration(i) * time.Second)
	hi := lo.Add(time.Second - time.Microsecond)
	if lo.Before(pk.from) {
		lo = pk.from
	}
	if hi.After(pk.to) {
		hi = pk.to
	}
	rows, err := pk.db.queryRead(ctx, `SELECT occurred_at FROM error_events
		WHERE deployment_id = ? AND occurred_at >= ? AND occurred_at <= ? ORDER BY occurred_at`,
		pk.id, pk.db.ts(lo), pk.db.ts(hi))
	if err != nil {
		return nil, internal("error peaks", err)
	}
	defer rows.Close()
	var ts []time.Time
	for rows.Next() {
		var t time.Time
		if err := rows.Scan(scanTime(&t)); err != nil {
			return nil, internal("error peaks", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, internal("error peaks", err)
	}
	pk.times[i] = ts
	return ts, nil
}

// sum is the number of errors in the seconds [i, j) (clamped to the range).
func (pk *peaks) sum(i, j int) int64 {
	i, j = max(i, 0), min(j, len(pk.b))
	if i >= j {
		return 0
	}
	return pk.prefix[j] - pk.prefix[i]
}

// candidates returns the seconds whose window of w seconds may hold the
// most errors (U ≥ the best L), ordered by U descending then time, or false
// when refining them would read more raw rows than the whole range has.
func (pk *peaks) candidates(w int, total int64) ([]int, bool) {
	var lb int64
	for i, c := range pk.b {
		if c > 0 {
			lb = max(lb, pk.sum(i-w+1, i+1))
		}
	}
	var out []int
	var reads int64
	for i, c := range pk.b {
		if c == 0 {
			continue
		}
		if u := pk.sum(i-w, i+1); u >= lb {
			out = append(out, i)
			reads += c
			if i-w >= 0 {
				reads += pk.b[i-w]
			}
		}
	}
	if reads > total {
		return nil, false
	}
	sort.SliceStable(out, func(a, b int) bool {
		return pk.sum(out[a]-w, out[a]+1) > pk.sum(out[b]-w, out[b]+1)
	})
	return out, true
}

// best refines the candidate seconds of a window of w seconds exactly and
// returns the largest count and the earliest error time that reaches it.
func (pk *peaks) best(ctx context.Context, w int, cands []int) (int64, time.Time, error) {
	var top int64
	var at time.Time
	window := time.Duration(w) * time.Second
	for _, i := range cands {
		u := pk.sum(i-w, i+1)
		if u < top || u == top && !at.IsZero() && pk.first.Add(time.Duration(i)*time.Second).After(at) {
			continue // cannot beat the best, nor tie it earlier
		}
		cur, err := pk.second(ctx, i)
		if err != nil {
			return 0, time.Time{}, err
		}
		var old []time.Time
		if i-w >= 0 && pk.b[i-w] > 0 {
			if old, err = pk.second(ctx, i-w); err != nil {
				return 0, time.Time{}, err
			}
		}
		whole := pk.sum(i-w+1, i)
		for k := 0; k < len(cur); k++ {
			t := cur[k]
			for k+1 < len(cur) && cur[k+1].Equal(t) {
				k++ // the window at t holds every error at t
			}
			// Errors of second i−w after t−window.
			edge := t.Add(-window)
			after := len(old) - sort.Search(len(old), func(j int) bool { return old[j].After(edge) })
			n := int64(after) + whole + int64(k+1)
			if n > top || n == top && t.Before(at) {
				top, at = n, t
			}
		}
	}
	return top, at, nil
}

// errorSecondsAdder returns what adds, in a transaction, the per-second
// counts of a SQLite batch of error events (deployment ids and stored
// times, row by row) to error_seconds: one upsert row per deployment and
// second, in multi-row statements. The statements are prepared here,
// before the transaction takes the write pool's only connection.
func (db *DB) errorSecondsAdder(ctx context.Context, ids, times []string) (func(tx *sql.Tx) error, error) {
	type key struct{ id, sec string }
	counts := map[key]int64{}
	var order []key
	for i := range ids {
		k := key{ids[i], times[i][:19]}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	type chunk struct {
		st   *sql.Stmt
		args []any
	}
	var chunks []chunk
	for left := order; len(left) > 0; {
		size := secondsChunks[len(secondsChunks)-1]
		for _, c := range secondsChunks {
			if c <= len(left) {
				size = c
				break
			}
		}
		st, err := db.secondsStmt(ctx, size)
		if err != nil {
			return nil, err
		}
		args := make([]any, 0, 3*size)
		for _, k := range left[:size] {
			args = append(args, k.id, k.sec, counts[k])
		}
		chunks = append(chunks, chunk{st, args})
		left = left[size:]
	}
	return func(tx *sql.Tx) error {
		for _, c := range chunks {
			if _, err := tx.StmtContext(ctx, c.st).ExecContext(ctx, c.args...); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// secondsChunks are the row counts of the prepared counter upserts, largest
// first, as sqliteChunks are for the inserts.
var secondsChunks = [...]int{1024, 256, 64, 16, 4, 1}

// secondsStmt returns the prepared upsert of n counters on the write pool
// (closed by Close).
func (db *DB) secondsStmt(ctx context.Context, n int) (*sql.Stmt, error) {
	key := "error_seconds/" + strconv.Itoa(n)
	if s, ok := db.stmts.Load(key); ok {
		return s.(*sql.Stmt), nil
	}
	q := strings.TrimSuffix(insertSQL("error_seconds", []string{"deployment_id", "second", "n"}, n), ";") +
		" ON CONFLICT (deployment_id, second) DO UPDATE SET n = n + excluded.n"
	s, err := db.wdb.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(key, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

// pruneErrorEventsSQLite is PruneErrorEvents on SQLite: one batch of the
// oldest error events before `before` is deleted and, in the same
// transaction, their counters: the batch is the oldest rows, so every
// second before the newest deleted row's second has no rows left and its
// counters go as a whole (by the second index); in that second itself the
// deleted rows are subtracted.
func (db *DB) pruneErrorEventsSQLite(ctx context.Context, before time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM error_events WHERE id IN
			(SELECT id FROM error_events WHERE occurred_at < ? ORDER BY occurred_at LIMIT ?)
			RETURNING deployment_id, occurred_at`, db.ts(before), limit)
		if err != nil {
			return err
		}
		var newest string
		var deleted [][2]string
		for rows.Next() {
			var id, at string
			if err := rows.Scan(&id, &at); err != nil {
				rows.Close()
				return err
			}
			deleted = append(deleted, [2]string{id, at})
			newest = max(newest, at)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		n = int64(len(deleted))
		if n == 0 {
			return nil
		}
		last := newest[:min(19, len(newest))]
		if _, err := tx.ExecContext(ctx, `DELETE FROM error_seconds WHERE second < ?`, last); err != nil {
			return err
		}
		inLast := map[string]int64{}
		for _, d := range deleted {
			if d[1][:min(19, len(d[1]))] == last {
				inLast[d[0]]++
			}
		}
		for id, c := range inLast {
			if _, err := tx.ExecContext(ctx, `UPDATE error_seconds SET n = n - ? WHERE deployment_id = ? AND second = ?`, c, id, last); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM error_seconds WHERE second = ? AND n <= 0`, last)
		return err
	})
	if err != nil {
		return 0, internal("prune error events", err)
	}
	return n, nil
}
