package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

// batchIDs returns the ids to query as one parameter (a JSON array on
// SQLite, an array literal on PostgreSQL) and the map from the stored
// (lower-case) form back to the ids as given; ids that are not UUIDs are
// left out.
func (db *DB) batchIDs(ids []string) (any, map[string]string) {
	back := make(map[string]string, len(ids))
	list := make([]string, 0, len(ids))
	for _, given := range ids {
		id, ok := lookupID(given)
		if !ok {
			continue
		}
		if _, dup := back[id]; !dup {
			list = append(list, id)
		}
		back[id] = given
	}
	if db.dialect == DialectPostgres {
		return "{" + strings.Join(list, ",") + "}", back
	}
	raw, _ := json.Marshal(list) // strings always marshal
	return string(raw), back
}

// idsIn returns the dialect's set of the ids of one batchIDs parameter.
func (db *DB) idsIn() string {
	if db.dialect == DialectPostgres {
		return `(SELECT unnest(?::uuid[]))`
	}
	return `(SELECT value FROM json_each(?))`
}

// latestMetricsBatchSQL is the query of LatestMetricsBatch by dialect. On
// SQLite it skips through the (deployment_id, name, at) index as
// LatestMetrics does, for every deployment at once. On PostgreSQL the same
// recursive query is estimated so expensive that the planner JIT-compiles
// it (a quarter of a second per run), so it reads the deployments' samples
// in the window from the same index and keeps the newest per name with
// DISTINCT ON.
var latestMetricsBatchSQL = map[string]string{
	DialectSQLite: `WITH RECURSIVE ids(d) AS (SELECT value FROM json_each(?)),
		names(d, name) AS (
			SELECT d, (SELECT min(name) FROM metric_samples WHERE deployment_id = ids.d) FROM ids
			UNION ALL
			SELECT d, (SELECT min(name) FROM metric_samples WHERE deployment_id = names.d AND name > names.name)
			FROM names WHERE names.name IS NOT NULL)
		SELECT d, name, (SELECT value FROM metric_samples s WHERE s.deployment_id = names.d AND s.name = names.name
			AND s.at > ? AND s.at <= ? ORDER BY s.at DESC, s.id DESC LIMIT 1)
		FROM names WHERE name IS NOT NULL`,
	DialectPostgres: `SELECT DISTINCT ON (deployment_id, name) deployment_id, name, value
		FROM metric_samples WHERE deployment_id = ANY(?::uuid[]) AND at > ? AND at <= ?
		ORDER BY deployment_id, name, at DESC, id DESC`,
}

// LatestMetricsBatch returns LatestMetrics of each of the deployments with
// one query (latestMetricsBatchSQL).
func (db *DB) LatestMetricsBatch(ctx context.Context, deploymentIDs []string, since, now time.Time) (map[string]map[string]float64, error) {
	out := map[string]map[string]float64{}
	param, back := db.batchIDs(deploymentIDs)
	if len(back) == 0 {
		return out, nil
	}
	rows, err := db.queryRead(ctx, latestMetricsBatchSQL[db.dialect], param, db.ts(since), db.ts(now))
	if err != nil {
		return nil, internal("latest metrics batch", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		var v sql.NullFloat64
		if err := rows.Scan(&id, &name, &v); err != nil {
			return nil, internal("latest metrics batch", err)
		}
		if !v.Valid { // no sample of the name in the window
			continue
		}
		given := back[strings.ToLower(id)]
		if out[given] == nil {
			out[given] = map[string]float64{}
		}
		out[given][name] = v.Float64
	}
	return out, internal("latest metrics batch", rows.Err())
}

// errorPeaksScan is ErrorPeaks by streaming the deployment's error times
// in [from, to] in order over the (deployment_id, occurred_at) index and
// sliding a one-minute and a five-minute window over them, keeping only the
// errors inside the longer window in memory. ErrorPeaks uses it for small
// ranges and when the per-second counters cannot narrow the search.
func (db *DB) errorPeaksScan(ctx context.Context, id string, from, to time.Time) (roman.ErrorPeaks, error) {
	var p roman.ErrorPeaks
	rows, err := db.queryRead(ctx, `SELECT occurred_at FROM error_events
		WHERE deployment_id = ? AND occurred_at >= ? AND occurred_at <= ? ORDER BY occurred_at`,
		id, db.ts(from), db.ts(to))
	if err != nil {
		return p, internal("error peaks", err)
	}
	defer rows.Close()
	var window []time.Time // the errors of the last five minutes, oldest first
	minuteStart := 0       // index in window of the oldest error of the last minute
	for rows.Next() {
		var t time.Time
		if err := rows.Scan(scanTime(&t)); err != nil {
			return p, internal("error peaks", err)
		}
		window = append(window, t)
		drop := 0
		for drop < len(window) && !window[drop].After(t.Add(-5*time.Minute)) {
			drop++
		}
		if drop > 0 {
			window = window[drop:]
			minuteStart = max(minuteStart-drop, 0)
		}
		for minuteStart < len(window) && !window[minuteStart].After(t.Add(-time.Minute)) {
			minuteStart++
		}
		if n := int64(len(window) - minuteStart); n > p.Minute {
			p.Minute, p.MinuteAt = n, t
		}
		if n := int64(len(window)); n > p.FiveMinutes {
			p.FiveMinutes, p.FiveMinutesAt = n, t
		}
	}
	return p, internal("error peaks", rows.Err())
}
