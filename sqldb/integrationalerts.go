package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

var _ roman.IntegrationAlertStore = (*DB)(nil)

// The statements of RecordIntegrationAlerts.
const (
	insertAlertSQL = `INSERT INTO integration_alerts (source, fingerprint, starts_at, ends_at,
		status, alertname, summary, labelled_trigger, deployment_id, service, environment, attribution_rule,
		group_key, labels, annotations, received_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (source, fingerprint, starts_at) DO NOTHING RETURNING id`
	resolveAlertSQL = `UPDATE integration_alerts SET status = 'resolved', ends_at = ?,
		updated_at = ? WHERE source = ? AND fingerprint = ? AND starts_at = ? AND status = 'firing'
		RETURNING id, deployment_id, service, environment, attribution_rule`
)

// RecordIntegrationAlerts records a group of alerts in one transaction,
// deduplicated by (source, fingerprint, starts_at): see
// roman.IntegrationAlertStore. Each alert is first inserted if its identity
// is new; otherwise a resolved one marks a firing row resolved; anything
// else is a duplicate. Each statement decides atomically, so concurrent
// requests and replicas record each transition once.
func (db *DB) RecordIntegrationAlerts(ctx context.Context, alerts []*roman.IntegrationAlert, events func(i int, outcome string) []*roman.RomanEvent) ([]string, error) {
	outcomes := make([]string, len(alerts))
	now := roman.UTC(db.now())
	if db.dialect == DialectPostgres {
		// One statement per group (integrationalerts_pg.go), unless an
		// audit row needs more than its own row written.
		out, handled, err := db.recordAlertsPG(ctx, alerts, events, now)
		switch {
		case roman.ErrorCode(err) == roman.EINVALID:
			return nil, err
		case err != nil:
			return nil, internal("record integration alerts", err)
		case handled:
			return out, nil
		}
	}
	// A re-sent group (most of what Alertmanager sends) is known already:
	// found by reads alone, it takes no write transaction.
	if known, err := db.allKnown(ctx, alerts); err != nil {
		return nil, internal("record integration alerts", err)
	} else if known {
		for i := range outcomes {
			outcomes[i] = roman.AlertOutcomeDuplicate
		}
		return outcomes, nil
	}
	// Prepared before the transaction takes the write connection.
	db.prepareWrite(ctx, insertAlertSQL, resolveAlertSQL)
	err := db.write(ctx, func(tx *sql.Tx) error {
		for i, a := range alerts {
			if a.ReceivedAt.IsZero() {
				a.ReceivedAt = now
			}
			a.UpdatedAt = a.ReceivedAt
			dep, err := normID("deployment_id", a.DeploymentID)
			if err != nil {
				return err
			}
			err = db.txQueryRow(ctx, tx, insertAlertSQL,
				a.Source, a.Fingerprint, db.ts(a.StartsAt), db.tsPtr(a.EndsAt), a.Status, a.AlertName, a.Summary,
				a.Labelled, idArg(dep), a.Service, a.Environment, a.Rule, a.GroupKey, jsonArg(a.Labels),
				jsonArg(a.Annotations), db.ts(a.ReceivedAt), db.ts(a.UpdatedAt)).Scan(&a.ID)
			switch {
			case err == nil:
				outcomes[i] = roman.AlertOutcomeNew
			case !errors.Is(err, sql.ErrNoRows):
				return err
			case a.Status == roman.AlertResolved:
				// Known: a firing row turns resolved, once.
				err = db.txQueryRow(ctx, tx, resolveAlertSQL,
					db.tsPtr(a.EndsAt), db.ts(a.UpdatedAt), a.Source, a.Fingerprint, db.ts(a.StartsAt)).Scan(
					&a.ID, idScan{s: &a.DeploymentID}, &a.Service, &a.Environment, &a.Rule)
				switch {
				case err == nil:
					outcomes[i] = roman.AlertOutcomeResolved
				case errors.Is(err, sql.ErrNoRows):
					outcomes[i] = roman.AlertOutcomeDuplicate
				default:
					return err
				}
			default:
				outcomes[i] = roman.AlertOutcomeDuplicate
			}
			if outcomes[i] == roman.AlertOutcomeDuplicate || events == nil {
				continue
			}
			for _, e := range events(i, outcomes[i]) {
				if e.EventID == "" {
					e.EventID = roman.NewUUID()
				}
				e.Timestamp = db.orNow(e.Timestamp)
				if err := db.insertEvent(ctx, tx, e); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if roman.ErrorCode(err) == roman.EINVALID {
		return nil, err
	}
	if err != nil {
		return nil, internal("record integration alerts", err)
	}
	return outcomes, nil
}

// MaxFiringAlerts is how many firing alerts per deployment FiringAlerts
// returns at most: an evaluation reads a bounded set however many alerts
// fire at once.
const MaxFiringAlerts = 50

// alertColumns are the integration_alerts columns FiringAlerts reads.
const alertColumns = `id, source, fingerprint, starts_at, ends_at, status, alertname, summary,
	labelled_trigger, deployment_id, service, environment, attribution_rule, group_key, received_at, updated_at`

// FiringAlerts returns the firing alerts attributed to each of the
// deployments, at most MaxFiringAlerts of each. The alerts that may be
// triggers come first (labelled roman_trigger="true" or named in triggers,
// and started at or after the deployment), so a trigger is never crowded
// out by warnings; within each kind the oldest first. One query finds the
// deployments with any firing alert; each of those is read by index ranges
// that stop at the cap, so an evaluation costs the same with ten or ten
// thousand alerts firing.
func (db *DB) FiringAlerts(ctx context.Context, deploymentIDs []string, triggers []string) (map[string][]*roman.IntegrationAlert, error) {
	ids := make([]any, 0, len(deploymentIDs))
	given := make(map[string]string, len(deploymentIDs))
	for _, id := range deploymentIDs {
		if l, ok := lookupID(id); ok {
			if _, dup := given[l]; !dup {
				ids = append(ids, l)
			}
			given[l] = id
		}
	}
	out := map[string][]*roman.IntegrationAlert{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.queryRead(ctx, `SELECT d.deployment_id, d.deployed_at FROM deployments d
		WHERE d.deployment_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`) AND EXISTS (SELECT 1 FROM integration_alerts a
		WHERE a.deployment_id = d.deployment_id AND a.status = 'firing')`, ids...)
	if err != nil {
		return nil, internal("list firing alerts", err)
	}
	type firing struct {
		id       string
		deployed time.Time
	}
	var with []firing
	for rows.Next() {
		var f firing
		if err := rows.Scan(idScan{s: &f.id}, scanTime(&f.deployed)); err != nil {
			rows.Close()
			return nil, internal("list firing alerts", err)
		}
		with = append(with, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, internal("list firing alerts", err)
	}
	for _, f := range with {
		as, err := db.firingOf(ctx, f.id, f.deployed, triggers)
		if err != nil {
			return nil, internal("list firing alerts", err)
		}
		out[given[strings.ToLower(f.id)]] = as
	}
	return out, nil
}

// firingOf reads at most MaxFiringAlerts firing alerts of one deployment:
// the labelled triggers and the named ones started since deployedAt first,
// then the oldest of all; each part is an index range with a limit.
func (db *DB) firingOf(ctx context.Context, id string, deployedAt time.Time, triggers []string) ([]*roman.IntegrationAlert, error) {
	q := `SELECT * FROM (SELECT ` + alertColumns + ` FROM integration_alerts WHERE deployment_id = ? AND status = 'firing'
		AND labelled_trigger AND starts_at >= ? ORDER BY starts_at, id LIMIT ?) l`
	args := []any{id, db.ts(deployedAt), MaxFiringAlerts}
	if len(triggers) > 0 {
		q += ` UNION ALL SELECT * FROM (SELECT ` + alertColumns + ` FROM integration_alerts WHERE deployment_id = ?
			AND status = 'firing' AND alertname IN (?` + strings.Repeat(", ?", len(triggers)-1) + `) AND starts_at >= ?
			ORDER BY starts_at, id LIMIT ?) n`
		args = append(args, id)
		for _, t := range triggers {
			args = append(args, t)
		}
		args = append(args, db.ts(deployedAt), MaxFiringAlerts)
	}
	q += ` UNION ALL SELECT * FROM (SELECT ` + alertColumns + ` FROM integration_alerts WHERE deployment_id = ?
		AND status = 'firing' ORDER BY starts_at, id LIMIT ?) o`
	args = append(args, id, MaxFiringAlerts)
	rows, err := db.queryRead(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var triggerish, rest []*roman.IntegrationAlert
	seen := map[int64]bool{}
	for rows.Next() {
		a := &roman.IntegrationAlert{}
		if err := rows.Scan(&a.ID, &a.Source, &a.Fingerprint, scanTime(&a.StartsAt), scanTimePtr(&a.EndsAt), &a.Status,
			&a.AlertName, &a.Summary, &a.Labelled, idScan{s: &a.DeploymentID}, &a.Service, &a.Environment, &a.Rule,
			&a.GroupKey, scanTime(&a.ReceivedAt), scanTime(&a.UpdatedAt)); err != nil {
			return nil, err
		}
		if seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		if (a.Labelled || slices.Contains(triggers, a.AlertName)) && !a.StartsAt.Before(deployedAt) {
			triggerish = append(triggerish, a)
		} else {
			rest = append(rest, a)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sortAlerts(triggerish)
	sortAlerts(rest)
	out := append(triggerish, rest...)
	if len(out) > MaxFiringAlerts {
		out = out[:MaxFiringAlerts]
	}
	return out, nil
}

// sortAlerts orders alerts oldest first.
func sortAlerts(as []*roman.IntegrationAlert) {
	sort.SliceStable(as, func(i, j int) bool {
		if !as[i].StartsAt.Equal(as[j].StartsAt) {
			return as[i].StartsAt.Before(as[j].StartsAt)
		}
		return as[i].ID < as[j].ID
	})
}

// allKnown reports whether every alert's state is stored already: its
// (source, fingerprint, starts_at) exists with the same status, or
// resolved.
func (db *DB) allKnown(ctx context.Context, alerts []*roman.IntegrationAlert) (bool, error) {
	for _, a := range alerts {
		var status string
		err := db.queryReadRow(ctx, `SELECT status FROM integration_alerts WHERE source = ? AND fingerprint = ? AND starts_at = ?`,
			a.Source, a.Fingerprint, db.ts(a.StartsAt)).Scan(&status)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return false, nil
		case err != nil:
			return false, err
		case status != a.Status && status != roman.AlertResolved:
			return false, nil
		}
	}
	return true, nil
}

// writeStmtKey is the key of a prepared write statement in db.stmts.
type writeStmtKey string

// prepareWrite prepares, on SQLite, the write statements that txQueryRow
// will run, once per process, on the write pool: the driver would
// otherwise parse them on every call. It must not be called inside a write
// transaction (the pool's one connection is then taken). A failed prepare
// is left to txQueryRow, which runs the statement unprepared and reports
// its error.
func (db *DB) prepareWrite(ctx context.Context, queries ...string) {
	if db.dialect != DialectSQLite {
		return
	}
	for _, q := range queries {
		key := writeStmtKey(q)
		if _, ok := db.stmts.Load(key); ok {
			continue
		}
		p, err := db.wdb.PrepareContext(context.WithoutCancel(ctx), q)
		if err != nil {
			continue
		}
		if _, loaded := db.stmts.LoadOrStore(key, p); loaded {
			p.Close()
		}
	}
}

// txQueryRow runs a statement that returns at most one row in tx, through
// the statement prepareWrite prepared when there is one (pgx caches
// prepared statements by itself).
func (db *DB) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if db.dialect == DialectSQLite {
		if st, ok := db.stmts.Load(writeStmtKey(query)); ok {
			return tx.StmtContext(ctx, st.(*sql.Stmt)).QueryRowContext(ctx, args...)
		}
	}
	return tx.QueryRowContext(ctx, db.q(query), args...)
}
