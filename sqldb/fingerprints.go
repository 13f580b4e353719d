package sqldb

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odyssey-1/roman"
)

var _ roman.FingerprintStore = (*DB)(nil)

// maxFingerprint is the longest fingerprint MarkNewFingerprint accepts, as
// ingest does.
const maxFingerprint = 256

// fpGroup is a batch's events of one deployment and fingerprint: one row of
// deployment_fingerprints to add.
type fpGroup struct {
	id, fingerprint string
	events          int64
	first, last     time.Time
	message, typ    string
}

// fpRelease is what the first-seen rule needs of a deployment: its
// (service, environment) and its place in the release order.
type fpRelease struct {
	service, env string
	deployedAt   time.Time
	seq          int64
}

// fpFirst is a candidate first sighting: one row of error_fingerprints to
// upsert.
type fpFirst struct {
	service, env, fingerprint, id string
	deployedAt, seenAt            time.Time
	seq                           int64
}

// before reports whether release a comes before b in the release order.
func (a fpRelease) before(b fpRelease) bool {
	if !a.deployedAt.Equal(b.deployedAt) {
		return a.deployedAt.Before(b.deployedAt)
	}
	return a.seq < b.seq
}

// groupFingerprints groups a batch's events by deployment and fingerprint
// (ids are the normalised deployment ids); events without a fingerprint
// are left out. A batch usually has a handful of fingerprints, so this is
// a few map lookups per event.
func (db *DB) groupFingerprints(events []roman.ErrorEvent, ids []string) []*fpGroup {
	type key struct{ id, fp string }
	idx := map[key]*fpGroup{}
	var out []*fpGroup
	for i := range events {
		e := &events[i]
		if e.Fingerprint == "" {
			continue
		}
		k := key{ids[i], e.Fingerprint}
		at := db.orNow(e.OccurredAt)
		g := idx[k]
		if g == nil {
			g = &fpGroup{id: k.id, fingerprint: k.fp, first: at, last: at, message: e.Message, typ: e.ErrorType}
			idx[k] = g
			out = append(out, g)
		}
		g.events++
		if at.Before(g.first) {
			g.first, g.message = at, e.Message
			if e.ErrorType != "" {
				g.typ = e.ErrorType
			}
		}
		if at.After(g.last) {
			g.last = at
		}
		if g.typ == "" {
			g.typ = e.ErrorType
		}
	}
	// Concurrent batches upsert their rows in one order, so that on
	// PostgreSQL two of them never wait for each other's row locks in a
	// cycle.
	slices.SortFunc(out, func(a, b *fpGroup) int {
		return cmp.Or(strings.Compare(a.id, b.id), strings.Compare(a.fingerprint, b.fingerprint))
	})
	return out
}

// firstSightings reduces a batch's groups to one candidate per (service,
// environment, fingerprint): the earliest release of the batch that has
// it, seen first at its group's oldest event.
func firstSightings(groups []*fpGroup, rel map[string]fpRelease) []fpFirst {
	type key struct{ service, env, fp string }
	idx := map[key]int{}
	var out []fpFirst
	for _, g := range groups {
		r := rel[g.id]
		k := key{r.service, r.env, g.fingerprint}
		c := fpFirst{service: r.service, env: r.env, fingerprint: g.fingerprint, id: g.id, deployedAt: r.deployedAt, seq: r.seq, seenAt: g.first}
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			out = append(out, c)
			continue
		}
		prev := out[i]
		if r.before(fpRelease{deployedAt: prev.deployedAt, seq: prev.seq}) {
			out[i] = c
		}
	}
	slices.SortFunc(out, func(a, b fpFirst) int {
		return cmp.Or(strings.Compare(a.service, b.service), strings.Compare(a.env, b.env), strings.Compare(a.fingerprint, b.fingerprint))
	})
	return out
}

// upsertFirstSQL records a first sighting unless an earlier release of the
// (service, environment) has the fingerprint; for the same release it keeps
// the older first_seen_at.
const upsertFirstSQL = `INSERT INTO error_fingerprints AS f
	(service, environment, fingerprint, first_deployment_id, first_deployed_at, first_deployment_seq, first_seen_at)
	VALUES (?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (service, environment, fingerprint) DO UPDATE SET
		first_deployment_id = excluded.first_deployment_id,
		first_deployed_at = excluded.first_deployed_at,
		first_deployment_seq = excluded.first_deployment_seq,
		first_seen_at = CASE WHEN f.first_deployment_id = excluded.first_deployment_id AND f.first_seen_at < excluded.first_seen_at
			THEN f.first_seen_at ELSE excluded.first_seen_at END
	WHERE excluded.first_deployed_at < f.first_deployed_at
		OR (excluded.first_deployed_at = f.first_deployed_at AND excluded.first_deployment_seq < f.first_deployment_seq)
		OR (excluded.first_deployment_id = f.first_deployment_id AND excluded.first_seen_at < f.first_seen_at)`

// upsertGroupSQL adds a batch's events of one fingerprint to a release's
// group; the sample message stays the first one stored.
const upsertGroupSQL = `INSERT INTO deployment_fingerprints AS g
	(deployment_id, fingerprint, events, first_seen_at, last_seen_at, message, error_type)
	VALUES (?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (deployment_id, fingerprint) DO UPDATE SET
		events = g.events + excluded.events,
		first_seen_at = CASE WHEN excluded.first_seen_at < g.first_seen_at THEN excluded.first_seen_at ELSE g.first_seen_at END,
		last_seen_at = CASE WHEN excluded.last_seen_at > g.last_seen_at THEN excluded.last_seen_at ELSE g.last_seen_at END,
		error_type = CASE WHEN g.error_type = '' THEN excluded.error_type ELSE g.error_type END`

// The PostgreSQL forms take the whole batch as arrays, in one statement
// each.
const (
	// pgInsertFirstSQL and pgUpdateFirstSQL are upsertFirstSQL in two
	// statements: a fingerprint already known from an earlier (or the same)
	// release, the usual case, is neither written nor locked, so batches
	// of one release running at once do not queue on its rows. The second
	// statement's snapshot sees what a concurrent batch inserted and
	// committed while the first waited on it.
	pgInsertFirstSQL = `INSERT INTO error_fingerprints
	(service, environment, fingerprint, first_deployment_id, first_deployed_at, first_deployment_seq, first_seen_at)
	SELECT s, e, fp, d::uuid, da, seq, sa FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::bigint[], $7::timestamptz[])
		AS u(s, e, fp, d, da, seq, sa)
	ON CONFLICT (service, environment, fingerprint) DO NOTHING`
	pgUpdateFirstSQL = `UPDATE error_fingerprints AS f SET
		first_deployment_id = u.d::uuid, first_deployed_at = u.da, first_deployment_seq = u.seq,
		first_seen_at = CASE WHEN f.first_deployment_id = u.d::uuid AND f.first_seen_at < u.sa THEN f.first_seen_at ELSE u.sa END
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::bigint[], $7::timestamptz[])
		AS u(s, e, fp, d, da, seq, sa)
	WHERE f.service = u.s AND f.environment = u.e AND f.fingerprint = u.fp
		AND (u.da < f.first_deployed_at
			OR (u.da = f.first_deployed_at AND u.seq < f.first_deployment_seq)
			OR (f.first_deployment_id = u.d::uuid AND u.sa < f.first_seen_at))`
	pgUpsertGroupSQL = `INSERT INTO deployment_fingerprints AS g
	(deployment_id, fingerprint, events, first_seen_at, last_seen_at, message, error_type)
	SELECT d::uuid, fp, n, fs, ls, m, t FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[], $6::text[], $7::text[])
		AS u(d, fp, n, fs, ls, m, t)
	ON CONFLICT (deployment_id, fingerprint) DO UPDATE SET
		events = g.events + excluded.events,
		first_seen_at = CASE WHEN excluded.first_seen_at < g.first_seen_at THEN excluded.first_seen_at ELSE g.first_seen_at END,
		last_seen_at = CASE WHEN excluded.last_seen_at > g.last_seen_at THEN excluded.last_seen_at ELSE g.last_seen_at END,
		error_type = CASE WHEN g.error_type = '' THEN excluded.error_type ELSE g.error_type END`
)

const releaseSQL = `SELECT service, environment, deployed_at, id FROM deployments WHERE deployment_id = ?`

// trackSQLite records a batch's fingerprints in tx (SQLite): the groups,
// then the first sightings, in multi-row upserts.
func (db *DB) trackSQLite(ctx context.Context, tx *sql.Tx, groups []*fpGroup) error {
	if len(groups) == 0 {
		return nil
	}
	rel := map[string]fpRelease{}
	for _, g := range groups {
		if _, ok := rel[g.id]; ok {
			continue
		}
		var r fpRelease
		if err := tx.QueryRowContext(ctx, releaseSQL, g.id).Scan(&r.service, &r.env, scanTime(&r.deployedAt), &r.seq); err != nil {
			return err
		}
		rel[g.id] = r
	}
	// Multi-row upserts, largest first, as insertBatch cuts events: a
	// batch of many distinct fingerprints costs a few statements, not two
	// per fingerprint.
	if err := db.upsertRows(ctx, tx, upsertGroupSQL, len(groups), func(i int, args []any) []any {
		g := groups[i]
		return append(args, g.id, g.fingerprint, g.events, db.ts(g.first), db.ts(g.last), g.message, g.typ)
	}); err != nil {
		return err
	}
	cs := firstSightings(groups, rel)
	return db.upsertRows(ctx, tx, upsertFirstSQL, len(cs), func(i int, args []any) []any {
		c := cs[i]
		return append(args, c.service, c.env, c.fingerprint, c.id, db.ts(c.deployedAt), c.seq, db.ts(c.seenAt))
	})
}

// upsertChunks are the row counts of the multi-row upserts of trackSQLite
// (7 columns × 256 rows stays far under SQLite's 32,766 variables).
var upsertChunks = [...]int{256, 16, 1}

// upsertRows runs the single-row upsert query (its VALUES list one tuple
// of 7 placeholders) for n rows in tx, cut into multi-row statements
// prepared once per size; row appends the values of row i.
func (db *DB) upsertRows(ctx context.Context, tx *sql.Tx, query string, n int, row func(i int, args []any) []any) error {
	const tuple = "(?, ?, ?, ?, ?, ?, ?)"
	args := make([]any, 0, upsertChunks[0]*7)
	stmts := map[int]*sql.Stmt{}
	for start := 0; start < n; {
		size := upsertChunks[len(upsertChunks)-1]
		for _, c := range upsertChunks {
			if c <= n-start {
				size = c
				break
			}
		}
		st := stmts[size]
		if st == nil {
			// Prepared on the transaction: the write pool's only
			// connection is the transaction's.
			q := strings.Replace(query, tuple, strings.TrimSuffix(strings.Repeat(tuple+", ", size), ", "), 1)
			var err error
			if st, err = tx.PrepareContext(ctx, q); err != nil {
				return err
			}
			defer st.Close()
			stmts[size] = st
		}
		args = args[:0]
		for i := start; i < start+size; i++ {
			args = row(i, args)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
		start += size
	}
	return nil
}

// trackPostgres records a batch's fingerprints in tx (PostgreSQL): one
// statement for the groups and two for the first sightings.
func trackPostgres(ctx context.Context, tx pgx.Tx, groups []*fpGroup) error {
	if len(groups) == 0 {
		return nil
	}
	rel := map[string]fpRelease{}
	for _, g := range groups {
		if _, ok := rel[g.id]; ok {
			continue
		}
		var r fpRelease
		if err := tx.QueryRow(ctx, rebind(releaseSQL), g.id).Scan(&r.service, &r.env, &r.deployedAt, &r.seq); err != nil {
			return err
		}
		rel[g.id] = r
	}
	n := len(groups)
	ids, fps, msgs, typs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	counts, firsts, lasts := make([]int64, n), make([]time.Time, n), make([]time.Time, n)
	for i, g := range groups {
		ids[i], fps[i], msgs[i], typs[i] = g.id, g.fingerprint, g.message, g.typ
		counts[i], firsts[i], lasts[i] = g.events, g.first, g.last
	}
	if _, err := tx.Exec(ctx, pgUpsertGroupSQL, ids, fps, counts, firsts, lasts, msgs, typs); err != nil {
		return err
	}
	cs := firstSightings(groups, rel)
	m := len(cs)
	svcs, envs, cfps, cids := make([]string, m), make([]string, m), make([]string, m), make([]string, m)
	deployed, seqs, seen := make([]time.Time, m), make([]int64, m), make([]time.Time, m)
	for i, c := range cs {
		svcs[i], envs[i], cfps[i], cids[i] = c.service, c.env, c.fingerprint, c.id
		deployed[i], seqs[i], seen[i] = c.deployedAt, c.seq, c.seenAt
	}
	if _, err := tx.Exec(ctx, pgInsertFirstSQL, svcs, envs, cfps, cids, deployed, seqs, seen); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, pgUpdateFirstSQL, svcs, envs, cfps, cids, deployed, seqs, seen)
	return err
}

// MarkNewFingerprint implements roman.FingerprintStore.
func (db *DB) MarkNewFingerprint(ctx context.Context, deploymentID, fingerprint string, at time.Time) error {
	id, err := normID("deployment_id", deploymentID)
	if err != nil {
		return err
	}
	if id == "" {
		return roman.Errorf(roman.EINVALID, "deployment_id: required")
	}
	switch {
	case strings.TrimSpace(fingerprint) == "":
		return roman.Errorf(roman.EINVALID, "fingerprint: required")
	case len(fingerprint) > maxFingerprint:
		return roman.Errorf(roman.EINVALID, "fingerprint: longer than %d bytes", maxFingerprint)
	}
	if p := roman.TextProblem(fingerprint); p != "" {
		return roman.Errorf(roman.EINVALID, "fingerprint: %s", p)
	}
	at = db.orNow(at)
	err = db.write(ctx, func(tx *sql.Tx) error {
		var r fpRelease
		err := tx.QueryRowContext(ctx, db.q(releaseSQL), id).Scan(&r.service, &r.env, scanTime(&r.deployedAt), &r.seq)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("deployment", id)
		} else if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(upsertFirstSQL), r.service, r.env, fingerprint, id, db.ts(r.deployedAt), r.seq, db.ts(at))
		return err
	})
	return internal("mark new fingerprint", err)
}

// NewErrorsBatch implements roman.FingerprintStore: one grouped query over
// the releases' groups, each joined to its fingerprint's first sighting by
// primary key. A service's first release in an environment has no earlier
// release to compare with: it has no new errors.
func (db *DB) NewErrorsBatch(ctx context.Context, deploymentIDs []string) (map[string]roman.NewErrorCounts, error) {
	out := map[string]roman.NewErrorCounts{}
	param, back := db.batchIDs(deploymentIDs)
	if len(back) == 0 {
		return out, nil
	}
	rows, err := db.queryRead(ctx, `SELECT g.deployment_id, sum(g.events), count(*)
		FROM deployment_fingerprints g
		JOIN deployments d ON d.deployment_id = g.deployment_id
		JOIN error_fingerprints f ON f.service = d.service AND f.environment = d.environment AND f.fingerprint = g.fingerprint
		WHERE g.deployment_id IN `+db.idsIn()+` AND f.first_deployment_id = g.deployment_id
			AND EXISTS (SELECT 1 FROM deployments p WHERE p.service = d.service AND p.environment = d.environment
				AND (p.deployed_at < d.deployed_at OR p.deployed_at = d.deployed_at AND p.id < d.id))
		GROUP BY g.deployment_id`, param)
	if err != nil {
		return nil, internal("new errors", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var c roman.NewErrorCounts
		if err := rows.Scan(idScan{s: &id}, &c.Events, &c.Fingerprints); err != nil {
			return nil, internal("new errors", err)
		}
		out[back[strings.ToLower(id)]] = c
	}
	return out, internal("new errors", rows.Err())
}

// DeploymentErrors implements roman.FingerprintStore.
func (db *DB) DeploymentErrors(ctx context.Context, deploymentID string, f roman.ErrorGroupFilter) ([]roman.ErrorGroup, error) {
	id, ok := lookupID(deploymentID)
	if !ok {
		return nil, notFound("deployment", deploymentID)
	}
	var one int
	err := db.queryReadRow(ctx, `SELECT 1 FROM deployments WHERE deployment_id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("deployment", id)
	} else if err != nil {
		return nil, internal("deployment errors", err)
	}
	cond := ""
	if f.NewOnly {
		cond = " AND f.first_deployment_id = g.deployment_id"
	}
	// A group whose fingerprint has no first sighting yet cannot exist
	// (both are written in one transaction); the LEFT JOIN only keeps the
	// list whole if one ever went missing, counting it as known.
	rows, err := db.queryRead(ctx, `SELECT g.fingerprint, g.events, g.first_seen_at, g.last_seen_at, g.message, g.error_type,
			COALESCE(f.first_deployment_id = g.deployment_id, false) AS is_new, f.first_deployment_id
		FROM deployment_fingerprints g
		JOIN deployments d ON d.deployment_id = g.deployment_id
		LEFT JOIN error_fingerprints f ON f.service = d.service AND f.environment = d.environment AND f.fingerprint = g.fingerprint
		WHERE g.deployment_id = ?`+cond+`
		ORDER BY is_new DESC, g.events DESC, g.fingerprint
		LIMIT ?`, id, limit(f.Limit))
	if err != nil {
		return nil, internal("deployment errors", err)
	}
	defer rows.Close()
	out := []roman.ErrorGroup{}
	for rows.Next() {
		var g roman.ErrorGroup
		if err := rows.Scan(&g.Fingerprint, &g.Count, scanTime(&g.FirstSeen), scanTime(&g.LastSeen), &g.Message, &g.ErrorType,
			&g.New, idScan{s: &g.FirstDeploymentID}); err != nil {
			return nil, internal("deployment errors", err)
		}
		out = append(out, g)
	}
	return out, internal("deployment errors", rows.Err())
}
