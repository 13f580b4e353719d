package sqldb

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

var _ roman.DashboardStore = (*DB)(nil)

// The dashboard's batched reads: each answers, for every card of a summary
// at once, what a per-card read answers for one card, in one statement.
// A summary then costs the same dozen statements however many cards it
// has; on PostgreSQL every statement is a round trip to another process,
// and on a busy machine each round trip waits for the scheduler, so a
// summary of fifty cards read card by card (about ten statements each) was
// slow however cheap each statement was.

// GetDeployments returns the deployments with the given ids that exist,
// keyed by the id as given (what GetDeployment returns for each; unknown
// and malformed ids are left out).
func (db *DB) GetDeployments(ctx context.Context, ids []string) (map[string]*roman.Deployment, error) {
	out := map[string]*roman.Deployment{}
	param, back := db.batchIDs(ids)
	if len(back) == 0 {
		return out, nil
	}
	cond := `deployment_id = ANY(?::uuid[])` // an index scan per id, whatever the estimate
	if db.dialect == DialectSQLite {
		cond = `deployment_id IN ` + db.idsIn()
	}
	ds, err := db.queryDeployments(ctx, `SELECT `+deploymentCols+` FROM deployments WHERE `+cond, param)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if given, ok := back[strings.ToLower(d.DeploymentID)]; ok {
			out[given] = d
		}
	}
	return out, nil
}

// LatestRollbackEvents returns the newest rollback event (initiated_at,
// then id) of each of the deployments that has one, keyed by the id as
// given: ListRollbackEvents with DeploymentID and Limit 1, for many
// deployments in one statement.
func (db *DB) LatestRollbackEvents(ctx context.Context, deploymentIDs []string) (map[string]*roman.RollbackEvent, error) {
	out := map[string]*roman.RollbackEvent{}
	param, back := db.batchIDs(deploymentIDs)
	if len(back) == 0 {
		return out, nil
	}
	// PostgreSQL reads each deployment's newest row from the
	// (deployment_id, initiated_at, id) index (LATERAL); SQLite looks each
	// up by its rowid, found in the same index.
	q := `SELECT r.* FROM unnest(?::uuid[]) AS ids(dv) CROSS JOIN LATERAL (SELECT ` + db.rollbackCols + `
		FROM rollback_events WHERE deployment_id = ids.dv ORDER BY initiated_at DESC, id DESC LIMIT 1) r`
	if db.dialect == DialectSQLite {
		q = `SELECT ` + db.rollbackCols + ` FROM (SELECT value AS dv FROM json_each(?)) ids
			JOIN rollback_events ON rollback_events.id = (SELECT x.id FROM rollback_events x
				WHERE x.deployment_id = ids.dv ORDER BY x.initiated_at DESC, x.id DESC LIMIT 1)`
	}
	evs, err := db.queryRollbackEvents(ctx, q, param)
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		if given, ok := back[strings.ToLower(e.DeploymentID)]; ok {
			out[given] = e
		}
	}
	return out, nil
}

// LatestScopeRollbackEvents returns the newest rollback event (initiated_at,
// then id) of each service and environment that has one: ListRollbackEvents
// with Service, Environment and Limit 1, for many of them in one statement.
func (db *DB) LatestScopeRollbackEvents(ctx context.Context, scopes []roman.ServiceEnvironment) (map[roman.ServiceEnvironment]*roman.RollbackEvent, error) {
	out := map[roman.ServiceEnvironment]*roman.RollbackEvent{}
	if len(scopes) == 0 {
		return out, nil
	}
	var q string
	var args []any
	if db.dialect == DialectSQLite {
		pairs := make([][2]string, len(scopes))
		for i, s := range scopes {
			pairs[i] = [2]string{s.Service, s.Environment}
		}
		raw, _ := json.Marshal(pairs) // strings always marshal
		args = []any{string(raw)}
		q = `SELECT ` + db.rollbackCols + ` FROM (SELECT json_extract(value, '$[0]') AS sv, json_extract(value, '$[1]') AS en FROM json_each(?)) sc
			JOIN rollback_events ON rollback_events.id = (SELECT x.id FROM rollback_events x
				WHERE x.service = sc.sv AND x.environment = sc.en ORDER BY x.initiated_at DESC, x.id DESC LIMIT 1)`
	} else {
		svs, ens := make([]string, len(scopes)), make([]string, len(scopes))
		for i, s := range scopes {
			svs[i], ens[i] = s.Service, s.Environment
		}
		args = []any{svs, ens}
		q = `SELECT r.* FROM unnest(?::text[], ?::text[]) AS sc(sv, en) CROSS JOIN LATERAL (SELECT ` + db.rollbackCols + `
			FROM rollback_events WHERE service = sc.sv AND environment = sc.en ORDER BY initiated_at DESC, id DESC LIMIT 1) r`
	}
	evs, err := db.queryRollbackEvents(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		out[roman.ServiceEnvironment{Service: e.Service, Environment: e.Environment}] = e
	}
	return out, nil
}

// queryRollbackEvents runs a read of rollback_events rows (rollbackCols).
func (db *DB) queryRollbackEvents(ctx context.Context, query string, args ...any) ([]*roman.RollbackEvent, error) {
	rows, err := db.queryRead(ctx, query, args...)
	if err != nil {
		return nil, internal("list rollback events", err)
	}
	defer rows.Close()
	var out []*roman.RollbackEvent
	for rows.Next() {
		e, err := scanRollbackEvent(rows)
		if err != nil {
			return nil, internal("list rollback events", err)
		}
		out = append(out, e)
	}
	return out, internal("list rollback events", rows.Err())
}

// DeploymentEventsBatch returns, for each of the deployments (the
// metadata's deployment_id, as given), its newest roman events (timestamp,
// then id) of the given types, at most limit each: ListRomanEvents with
// DeploymentID, EventTypes and Limit, for many deployments in one
// statement on PostgreSQL, which reads each deployment's rows through its
// index and stops at the limit (LATERAL). SQLite has no LATERAL, and a
// statement there costs no round trip: it reads deployment by deployment.
func (db *DB) DeploymentEventsBatch(ctx context.Context, deploymentIDs, types []string, limitEach int) (map[string][]*roman.RomanEvent, error) {
	out := map[string][]*roman.RomanEvent{}
	if len(deploymentIDs) == 0 || len(types) == 0 {
		return out, nil
	}
	if db.dialect == DialectSQLite {
		for _, id := range deploymentIDs {
			evs, err := db.ListRomanEvents(ctx, roman.RomanEventFilter{DeploymentID: id, EventTypes: types, Limit: limitEach})
			if err != nil {
				return nil, err
			}
			if len(evs) > 0 {
				out[id] = evs
			}
		}
		return out, nil
	}
	typeIn := "event_type IN (?" + strings.Repeat(", ?", len(types)-1) + ")"
	cols := `id, event_id, event_type, severity, message, metadata, "timestamp"`
	var args []any
	q := `SELECT ids.dv, e.* FROM unnest(?::text[]) AS ids(dv) CROSS JOIN LATERAL (SELECT ` + cols + `
			FROM roman_events WHERE metadata->>'deployment_id' = ids.dv AND ` + typeIn + `
			ORDER BY "timestamp" DESC, id DESC LIMIT ?) e ORDER BY ids.dv, e."timestamp" DESC, e.id DESC`
	args = append(args, deploymentIDs)
	for _, t := range types {
		args = append(args, t)
	}
	args = append(args, limit(limitEach))
	rows, err := db.queryRead(ctx, q, args...)
	if err != nil {
		return nil, internal("list roman events", err)
	}
	defer rows.Close()
	for rows.Next() {
		var dv string
		e := &roman.RomanEvent{}
		if err := rows.Scan(&dv, &e.ID, idScan{s: &e.EventID}, &e.EventType, &e.Severity, &e.Message,
			jsonScan{&e.Metadata}, scanTime(&e.Timestamp)); err != nil {
			return nil, internal("list roman events", err)
		}
		out[dv] = append(out[dv], e)
	}
	return out, internal("list roman events", rows.Err())
}

// ErrorBucketsBatch returns ErrorBuckets of each request, in order. The
// requests with a whole-second From and Step (every chart's) are read
// from the per-second counters in one statement; any other is read on its
// own.
func (db *DB) ErrorBucketsBatch(ctx context.Context, reqs []roman.BucketsRequest) ([][]int64, error) {
	out := make([][]int64, len(reqs))
	type item struct {
		K    int    `json:"k"`
		D    string `json:"d"`
		F    int64  `json:"f"`
		S    int64  `json:"s"`
		Lo   string `json:"lo"`
		Hi   string `json:"hi"`
		from time.Time
		to   time.Time
	}
	var items []item
	for i, r := range reqs {
		if r.N <= 0 || r.Step <= 0 {
			return nil, roman.Errorf(roman.EINVALID, "error buckets need a positive step and count")
		}
		out[i] = make([]int64, r.N)
		id, ok := lookupID(r.DeploymentID)
		if !ok {
			continue
		}
		from := roman.UTC(r.From)
		if !from.Equal(from.Truncate(time.Second)) || r.Step%time.Second != 0 {
			b, err := db.ErrorBuckets(ctx, r.DeploymentID, r.From, r.Step, r.N)
			if err != nil {
				return nil, err
			}
			out[i] = b
			continue
		}
		to := from.Add(time.Duration(r.N) * r.Step)
		items = append(items, item{K: i, D: id, F: from.Unix(), S: int64(r.Step / time.Second), from: from, to: to})
	}
	if len(items) == 0 {
		return out, nil
	}
	var q string
	var args []any
	if db.dialect == DialectPostgres {
		ks, ds, fs, ss := make([]int64, len(items)), make([]string, len(items)), make([]int64, len(items)), make([]int64, len(items))
		los, his := make([]time.Time, len(items)), make([]time.Time, len(items))
		for j, it := range items {
			ks[j], ds[j], fs[j], ss[j], los[j], his[j] = int64(it.K), it.D, it.F, it.S, it.from, it.to
		}
		// Each request reads its own range of the counters' primary key
		// (LATERAL): joined as sets, the planner may scan every counter.
		q = `SELECT r.k, c.b, c.n FROM unnest(?::bigint[], ?::uuid[], ?::bigint[], ?::bigint[], ?::timestamptz[], ?::timestamptz[]) AS r(k, dv, f, st, lo, hi)
			CROSS JOIN LATERAL (SELECT (extract(epoch from second)::bigint - r.f) / r.st AS b, sum(n) AS n
				FROM error_seconds WHERE deployment_id = r.dv AND second >= r.lo AND second < r.hi GROUP BY 1) c`
		args = []any{ks, ds, fs, ss, los, his}
	} else {
		for j := range items {
			items[j].Lo, items[j].Hi = db.secondKey(items[j].from).(string), db.secondKey(items[j].to).(string)
		}
		raw, err := json.Marshal(items)
		if err != nil {
			return nil, internal("error buckets", err)
		}
		q = `SELECT r.k, (CAST(strftime('%s', s.second) AS INTEGER) - r.f) / r.st AS b, sum(s.n)
			FROM (SELECT json_extract(value, '$.k') AS k, json_extract(value, '$.d') AS dv, json_extract(value, '$.f') AS f,
				json_extract(value, '$.s') AS st, json_extract(value, '$.lo') AS lo, json_extract(value, '$.hi') AS hi
				FROM json_each(?)) r
			JOIN error_seconds s ON s.deployment_id = r.dv AND s.second >= r.lo AND s.second < r.hi
			GROUP BY r.k, b`
		args = []any{string(raw)}
	}
	rows, err := db.queryRead(ctx, q, args...)
	if err != nil {
		return nil, internal("error buckets", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, b, c int64
		if err := rows.Scan(&k, &b, &c); err != nil {
			return nil, internal("error buckets", err)
		}
		if k >= 0 && k < int64(len(out)) && b >= 0 && b < int64(len(out[k])) {
			out[k][b] += c
		}
	}
	return out, internal("error buckets", rows.Err())
}

// DeploymentErrorsBatch returns DeploymentErrors of each of the
// deployments that has error groups, keyed by the id as given (unknown
// deployments and those without groups are left out). On
// PostgreSQL it is one statement (LATERAL, each deployment's groups read
// from its index up to the limit); on SQLite, where a statement costs no
// round trip, it is DeploymentErrors for each.
func (db *DB) DeploymentErrorsBatch(ctx context.Context, deploymentIDs []string, f roman.ErrorGroupFilter) (map[string][]roman.ErrorGroup, error) {
	out := map[string][]roman.ErrorGroup{}
	if db.dialect == DialectSQLite {
		for _, id := range deploymentIDs {
			gs, err := db.DeploymentErrors(ctx, id, f)
			if roman.ErrorCode(err) == roman.ENOTFOUND {
				continue
			} else if err != nil {
				return nil, err
			}
			out[id] = gs
		}
		return out, nil
	}
	param, back := db.batchIDs(deploymentIDs)
	if len(back) == 0 {
		return out, nil
	}
	cond := ""
	if f.NewOnly {
		cond = " AND f.first_deployment_id = g.deployment_id"
	}
	rows, err := db.queryRead(ctx, `SELECT d.deployment_id, e.* FROM unnest(?::uuid[]) AS ids(dv)
		JOIN deployments d ON d.deployment_id = ids.dv CROSS JOIN LATERAL (
			SELECT g.fingerprint, g.events, g.first_seen_at, g.last_seen_at, g.message, g.error_type,
				COALESCE(f.first_deployment_id = g.deployment_id, false) AS is_new, f.first_deployment_id
			FROM deployment_fingerprints g
			LEFT JOIN error_fingerprints f ON f.service = d.service AND f.environment = d.environment AND f.fingerprint = g.fingerprint
			WHERE g.deployment_id = d.deployment_id`+cond+`
			ORDER BY is_new DESC, g.events DESC, g.fingerprint
			LIMIT ?) e
		ORDER BY d.deployment_id, e.is_new DESC, e.events DESC, e.fingerprint`, param, limit(f.Limit))
	if err != nil {
		return nil, internal("deployment errors", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var g roman.ErrorGroup
		if err := rows.Scan(idScan{s: &id}, &g.Fingerprint, &g.Count, scanTime(&g.FirstSeen), scanTime(&g.LastSeen), &g.Message, &g.ErrorType,
			&g.New, idScan{s: &g.FirstDeploymentID}); err != nil {
			return nil, internal("deployment errors", err)
		}
		given := back[strings.ToLower(id)]
		out[given] = append(out[given], g)
	}
	return out, internal("deployment errors", rows.Err())
}
