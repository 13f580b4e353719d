package sqldb

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/odyssey-1/roman"
)

var _ roman.CheckReader = (*DB)(nil)

// ReadCheck implements roman.CheckReader. On PostgreSQL it is one
// statement (checkReadPG): every reading of a check in one round trip,
// which matters at a thousand checks a second, where each round trip costs
// both processes a few tens of microseconds of CPU and a wait for the pool.
// On SQLite, in process, it is three prepared statements
// (readCheckSQLite) instead of the eight separate reads.
func (db *DB) ReadCheck(ctx context.Context, q roman.CheckQuery) (*roman.CheckRead, error) {
	if db.dialect == DialectPostgres {
		return db.readCheckPG(ctx, q)
	}
	return db.readCheckSQLite(ctx, q)
}

// checkReadSQLiteSQL is the first of ReadCheck's three statements on
// SQLite: the deployment row and, beside it, as scalar subqueries, what
// CountErrors, NewErrorsBatch, FiringAlerts' first question and the two
// newest suppression rows (ListRomanEvents) read, each an index range.
// ?1 is the deployment, ?3–?8 the raw edges of the error windows, ?9–?11
// their whole seconds, numbered as in the PostgreSQL statement (whose ?2,
// the deployment as text, SQLite does not need).
const checkReadSQLiteSQL = `SELECT d.id, d.deployment_id, d.service, d.environment, d.version, d.git_commit, d.git_branch,
	d.deployed_by, d.deployed_at, d.status, d.rollback_from, coalesce(d.health_check_passed, FALSE),
	d.health_check_details, d.constitutional_validation, d.metadata, d.completed_at, d.rolled_back_at,
	(SELECT count(*) FROM error_events WHERE deployment_id = ?1 AND occurred_at > ?3 AND occurred_at < ?4),
	(SELECT count(*) FROM error_events WHERE deployment_id = ?1 AND occurred_at > ?5 AND occurred_at < ?6),
	(SELECT count(*) FROM error_events WHERE deployment_id = ?1 AND occurred_at >= ?7 AND occurred_at <= ?8),
	(SELECT coalesce(sum(n), 0) FROM error_seconds WHERE deployment_id = ?1 AND second >= ?9 AND second < ?11),
	(SELECT coalesce(sum(n), 0) FROM error_seconds WHERE deployment_id = ?1 AND second >= ?10 AND second < ?11),
	n.events, n.fingerprints,
	EXISTS (SELECT 1 FROM integration_alerts WHERE deployment_id = ?1 AND status = 'firing'),
	(SELECT message FROM roman_events WHERE event_type = 'auto_rollback_suppressed' AND metadata->>'deployment_id' = ?1
		ORDER BY "timestamp" DESC, id DESC LIMIT 1),
	(SELECT metadata FROM roman_events WHERE event_type = 'auto_rollback_suppressed' AND metadata->>'deployment_id' = ?1
		ORDER BY "timestamp" DESC, id DESC LIMIT 1),
	(SELECT "timestamp" FROM roman_events WHERE event_type = 'auto_rollback_suppressed' AND metadata->>'deployment_id' = ?1
		ORDER BY "timestamp" DESC, id DESC LIMIT 1),
	(SELECT message FROM roman_events WHERE event_type = 'manual_intervention_required' AND metadata->>'deployment_id' = ?1
		ORDER BY "timestamp" DESC, id DESC LIMIT 1),
	(SELECT metadata FROM roman_events WHERE event_type = 'manual_intervention_required' AND metadata->>'deployment_id' = ?1
		ORDER BY "timestamp" DESC, id DESC LIMIT 1),
	(SELECT "timestamp" FROM roman_events WHERE event_type = 'manual_intervention_required' AND metadata->>'deployment_id' = ?1
		ORDER BY "timestamp" DESC, id DESC LIMIT 1)
FROM deployments d, (SELECT coalesce(sum(g.events), 0) AS events, count(*) AS fingerprints
	FROM deployments d
	JOIN deployment_fingerprints g ON g.deployment_id = d.deployment_id
	JOIN error_fingerprints f ON f.service = d.service AND f.environment = d.environment AND f.fingerprint = g.fingerprint
	WHERE d.deployment_id = ?1 AND f.first_deployment_id = g.deployment_id
		AND EXISTS (SELECT 1 FROM deployments p WHERE p.service = d.service AND p.environment = d.environment
			AND (p.deployed_at < d.deployed_at OR p.deployed_at = d.deployed_at AND p.id < d.id))) n
WHERE d.deployment_id = ?1`

// readCheckSQLite is ReadCheck on SQLite: checkReadSQLiteSQL, then the
// metrics (LatestMetrics) and the judgement rows (ListRomanEvents), each a
// prepared statement.
func (db *DB) readCheckSQLite(ctx context.Context, q roman.CheckQuery) (*roman.CheckRead, error) {
	id, ok := lookupID(q.DeploymentID)
	if !ok {
		return nil, notFound("deployment", q.DeploymentID)
	}
	now := roman.UTC(q.Now)
	tail := now.Truncate(time.Second)
	m1, m5 := db.splitWindow(now.Add(-time.Minute), now), db.splitWindow(now.Add(-5*time.Minute), now)
	var (
		edge1, edge5, last, sec1, sec5 int64
		sup, mi                        checkEventScan
		r                              roman.CheckRead
	)
	row := db.queryReadRow(ctx, checkReadSQLiteSQL, id, id, m1.from, m1.fromEnd, m5.from, m5.fromEnd, db.ts(tail), db.ts(now),
		m1.first, m5.first, db.secondKey(tail))
	d, err := scanDeployment(scanMore{row, []any{&edge1, &edge5, &last, &sec1, &sec5,
		&r.NewErrors.Events, &r.NewErrors.Fingerprints, &r.AlertsFiring,
		&sup.message, jsonScan{&sup.metadata}, scanTimePtr(&sup.at),
		&mi.message, jsonScan{&mi.metadata}, scanTimePtr(&mi.at)}})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("deployment", q.DeploymentID)
	}
	if err != nil {
		return nil, internal("read check", err)
	}
	r.Deployment = d
	r.Errors = roman.ErrorCounts{LastMinute: edge1 + last + sec1, Last5Minutes: edge5 + last + sec5}
	r.Suppressed, r.Intervention = sup.event(), mi.event()
	if r.Metrics, err = db.LatestMetrics(ctx, d.DeploymentID, q.MetricsSince, q.Now); err != nil {
		return nil, err
	}
	evs, err := db.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventHealthJudgement,
		DeploymentID: d.DeploymentID, Limit: roman.CheckJudgementRows})
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		r.Judgements = append(r.Judgements, e.Metadata)
	}
	return &r, nil
}

// checkReadPGSQL is the one statement of ReadCheck on PostgreSQL: the
// deployment row and, beside it, each reading as the separate reads make
// it (CountErrors, LatestMetrics, NewErrorsBatch, FiringAlerts' first
// question, ListRomanEvents), each an index range of its own:
//
//	$1 the deployment (uuid), $2 the same as text (roman_events metadata)
//	$3–$8 the raw edges of the error windows, $9–$11 their whole seconds
//	$12 the start of the metrics window ($8, now, ends it)
//
// The newest sample of a metric is the newest time's (max(at): one index
// seek) highest id, so no plan sorts a metric's samples. Metric values travel as the hex of their eight bytes (float8send), so no
// value is rounded whatever extra_float_digits says, and NaN or infinities
// written straight into the table come through as they are. Of the
// judgement rows only those up to the first that holds an object
// judgement not marked shadow are returned: the one the check most likely
// takes, and the rows newer than it, which the check looks at first.
var checkReadPGSQL = `SELECT d.id, d.deployment_id, d.service, d.environment, d.version, d.git_commit, d.git_branch,
	d.deployed_by, d.deployed_at, d.status, d.rollback_from, coalesce(d.health_check_passed, FALSE),
	d.health_check_details, d.constitutional_validation, d.metadata, d.completed_at, d.rolled_back_at,
	e.edge1, e.edge5, e.last, s.sec1, s.sec5, m.metrics, n.events, n.fingerprints,
	EXISTS (SELECT 1 FROM integration_alerts a WHERE a.deployment_id = $1 AND a.status = 'firing'),
	sup.message, sup.metadata, sup."timestamp", mi.message, mi.metadata, mi."timestamp",
	j.rows, j.n, j.total
FROM deployments d
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE occurred_at > $3 AND occurred_at < $4) AS edge1,
		count(*) FILTER (WHERE occurred_at > $5 AND occurred_at < $6) AS edge5,
		count(*) FILTER (WHERE occurred_at >= $7) AS last
	FROM error_events WHERE deployment_id = $1 AND (occurred_at > $3 AND occurred_at < $4
		OR occurred_at > $5 AND occurred_at < $6 OR occurred_at >= $7 AND occurred_at <= $8)) e
CROSS JOIN LATERAL (SELECT coalesce(sum(n) FILTER (WHERE second >= $9), 0) AS sec1, coalesce(sum(n), 0) AS sec5
	FROM error_seconds WHERE deployment_id = $1 AND second >= $10 AND second < $11) s
CROSS JOIN LATERAL (WITH RECURSIVE names(name) AS (
		SELECT min(name) FROM metric_samples WHERE deployment_id = $1
		UNION ALL
		SELECT (SELECT min(name) FROM metric_samples WHERE deployment_id = $1 AND name > names.name)
		FROM names WHERE names.name IS NOT NULL)
	SELECT json_object_agg(x.name, encode(float8send(x.v), 'hex')) FILTER (WHERE x.v IS NOT NULL) AS metrics
	FROM (SELECT names.name, (SELECT value FROM metric_samples ms WHERE ms.deployment_id = $1 AND ms.name = names.name
			AND ms.at = (SELECT max(mx.at) FROM metric_samples mx WHERE mx.deployment_id = $1 AND mx.name = names.name
				AND mx.at > $12 AND mx.at <= $8)
			ORDER BY ms.id DESC LIMIT 1) AS v
		FROM names WHERE names.name IS NOT NULL) x) m
CROSS JOIN LATERAL (SELECT coalesce(sum(g.events), 0)::bigint AS events, count(*) AS fingerprints
	FROM deployment_fingerprints g
	JOIN error_fingerprints f ON f.service = d.service AND f.environment = d.environment AND f.fingerprint = g.fingerprint
	WHERE g.deployment_id = $1 AND f.first_deployment_id = g.deployment_id
		AND EXISTS (SELECT 1 FROM deployments p WHERE p.service = d.service AND p.environment = d.environment
			AND (p.deployed_at < d.deployed_at OR p.deployed_at = d.deployed_at AND p.id < d.id))) n
LEFT JOIN LATERAL (SELECT message, metadata, "timestamp" FROM roman_events
	WHERE event_type = 'auto_rollback_suppressed' AND metadata->>'deployment_id' = $2
	ORDER BY "timestamp" DESC, id DESC LIMIT 1) sup ON TRUE
LEFT JOIN LATERAL (SELECT message, metadata, "timestamp" FROM roman_events
	WHERE event_type = 'manual_intervention_required' AND metadata->>'deployment_id' = $2
	ORDER BY "timestamp" DESC, id DESC LIMIT 1) mi ON TRUE
CROSS JOIN LATERAL (SELECT json_agg(w.metadata ORDER BY w."timestamp" DESC, w.id DESC) AS rows,
		count(*) AS n, coalesce(max(w.total), 0) AS total
	FROM (SELECT r.metadata, r."timestamp", r.id, count(*) OVER () AS total,
			count(*) FILTER (WHERE r.cand) OVER (ORDER BY r."timestamp" DESC, r.id DESC
				ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
		FROM (SELECT metadata, "timestamp", id, jsonb_typeof(metadata->'judgement') = 'object'
				AND (metadata->'judgement'->'shadow') IS DISTINCT FROM 'true'::jsonb AS cand
			FROM roman_events WHERE event_type = 'health_judgement' AND metadata->>'deployment_id' = $2
			ORDER BY "timestamp" DESC, id DESC LIMIT ` + strconv.Itoa(roman.CheckJudgementRows) + `) r) w
	WHERE w.before = 0) j
WHERE d.deployment_id = $1`

// readCheckPG is ReadCheck on PostgreSQL: checkReadPGSQL on the check
// pool, or for work marked by roman.ForDecisions on the decision check
// pool (the same generic plan: on the decision pool, where PostgreSQL
// planned it at every execution, the statement cost the database three
// times the CPU of the reads it replaces).
func (db *DB) readCheckPG(ctx context.Context, q roman.CheckQuery) (*roman.CheckRead, error) {
	pool := db.cdb
	if roman.IsDecision(ctx) {
		pool = db.dcdb
	}
	return db.readCheckPGOn(ctx, pool, q)
}

// readCheckPGOn runs checkReadPGSQL on pool.
func (db *DB) readCheckPGOn(ctx context.Context, pool *sql.DB, q roman.CheckQuery) (*roman.CheckRead, error) {
	id, ok := lookupID(q.DeploymentID)
	if !ok {
		return nil, notFound("deployment", q.DeploymentID)
	}
	now := roman.UTC(q.Now)
	tail := now.Truncate(time.Second)
	m1, m5 := db.splitWindow(now.Add(-time.Minute), now), db.splitWindow(now.Add(-5*time.Minute), now)
	var (
		edge1, edge5, last, sec1, sec5 int64
		metrics, judgements            []byte
		judgementRows, judgementTotal  int64
		sup, mi                        checkEventScan
		r                              roman.CheckRead
	)
	row := pool.QueryRowContext(ctx, checkReadPGSQL,
		id, id, m1.from, m1.fromEnd, m5.from, m5.fromEnd, db.ts(tail), db.ts(now),
		m1.first, m5.first, db.secondKey(tail), db.ts(q.MetricsSince))
	d, err := scanDeployment(scanMore{row, []any{&edge1, &edge5, &last, &sec1, &sec5, &metrics,
		&r.NewErrors.Events, &r.NewErrors.Fingerprints, &r.AlertsFiring,
		&sup.message, jsonScan{&sup.metadata}, scanTimePtr(&sup.at),
		&mi.message, jsonScan{&mi.metadata}, scanTimePtr(&mi.at),
		&judgements, &judgementRows, &judgementTotal}})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("deployment", q.DeploymentID)
	}
	if err != nil {
		return nil, internal("read check", err)
	}
	r.Deployment = d
	r.Errors = roman.ErrorCounts{LastMinute: edge1 + last + sec1, Last5Minutes: edge5 + last + sec5}
	if r.Metrics, err = decodeMetricTexts(metrics); err != nil {
		return nil, internal("read check", err)
	}
	if len(judgements) > 0 {
		if err := json.Unmarshal(judgements, &r.Judgements); err != nil {
			return nil, internal("read check", err)
		}
	}
	r.JudgementsCut = judgementRows < judgementTotal
	r.Suppressed, r.Intervention = sup.event(), mi.event()
	return &r, nil
}

// pgCheckConns is the size of the check pool (cdb): a check is one
// statement of well under a millisecond, so a few sessions keep up with
// thousands a second, and more would only contend for the same cores.
const pgCheckConns = 4

// pgDecisionCheckConns is the size of the decision check pool (dcdb):
// the reads of the rollbacks running at once (a few per rollback).
const pgDecisionCheckConns = 3

// openCheckPool opens the pool of ReadCheck on PostgreSQL. Its sessions
// run with plan_cache_mode = force_generic_plan: left to itself,
// PostgreSQL plans the statement anew at every execution (its custom
// plans look cheaper than the generic one because they see the times),
// and planning it costs twice what running it does. The generic plan is
// the same index ranges (see TestCheckReadPlan). Only this statement runs
// on these sessions, so no other query's plan changes. Its connections are
// kept open, so bursts do not pay for new sessions.
func openCheckPool(cfg *pgx.ConnConfig, conns int) *sql.DB {
	cfg = cfg.Copy()
	cfg.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	p := stdlib.OpenDB(*cfg)
	p.SetMaxOpenConns(conns)
	p.SetMaxIdleConns(conns)
	p.SetConnMaxIdleTime(5 * time.Minute)
	return p
}

// scanMore is a row whose Scan also fills more destinations after the
// ones it is given: a deployment row with readings beside it.
type scanMore struct {
	r    rowScanner
	more []any
}

// Scan implements rowScanner.
func (s scanMore) Scan(dest ...any) error { return s.r.Scan(append(dest, s.more...)...) }

// checkEventScan is a nullable roman_events row of checkReadPGSQL.
type checkEventScan struct {
	message  sql.NullString
	metadata json.RawMessage
	at       *time.Time
}

// event returns the row, or nil when there was none.
func (c checkEventScan) event() *roman.RomanEvent {
	if c.at == nil {
		return nil
	}
	return &roman.RomanEvent{Message: c.message.String, Metadata: c.metadata, Timestamp: *c.at}
}

// decodeMetricTexts decodes a JSON object of metric names and the hex of
// their float8 bytes (NULL: no metric) into values.
func decodeMetricTexts(raw []byte) (map[string]float64, error) {
	out := map[string]float64{}
	if len(raw) == 0 {
		return out, nil
	}
	var texts map[string]string
	if err := json.Unmarshal(raw, &texts); err != nil {
		return nil, err
	}
	for name, t := range texts {
		b, err := hex.DecodeString(t)
		if err != nil || len(b) != 8 {
			return nil, fmt.Errorf("sqldb: bad float8 bytes %q", t)
		}
		out[name] = math.Float64frombits(binary.BigEndian.Uint64(b))
	}
	return out, nil
}
