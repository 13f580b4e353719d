package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/odyssey-1/roman"
)

// recordAlertsPGSQL records a group of alerts and the audit rows of those
// that turn out new in one statement (PostgreSQL): the alerts travel as
// arrays, each is inserted unless its identity is known (ON CONFLICT DO
// NOTHING decides atomically, as the single-row insert does), and the
// audit rows built in advance for each alert are inserted only for the
// alerts the insert returned. It answers the ordinal (1-based) and id of
// each inserted alert, then the event_id and id of each inserted audit row
// (ordinal 0). Alerts are inserted in the order given, so ids follow
// arrival as with one insert per alert.
//
//	$1–$16 the alerts' columns (labels, annotations and deployment ids as
//	text, NULL for none), $17–$23 the audit rows: the ordinal of their
//	alert, then their columns.
const recordAlertsPGSQL = `WITH i AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[], $7::text[],
		$8::boolean[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::timestamptz[])
		WITH ORDINALITY AS t(source, fingerprint, starts_at, ends_at, status, alertname, summary, labelled_trigger, deployment_id,
			service, environment, attribution_rule, group_key, labels, annotations, received_at, ord)
), ins AS (
	INSERT INTO integration_alerts (source, fingerprint, starts_at, ends_at, status, alertname, summary, labelled_trigger,
		deployment_id, service, environment, attribution_rule, group_key, labels, annotations, received_at, updated_at)
	SELECT source, fingerprint, starts_at, ends_at, status, alertname, summary, labelled_trigger, deployment_id::uuid,
		service, environment, attribution_rule, group_key, labels::jsonb, annotations::jsonb, received_at, received_at
	FROM i ORDER BY ord
	ON CONFLICT (source, fingerprint, starts_at) DO NOTHING
	RETURNING id, source, fingerprint, starts_at
), ev AS (
	INSERT INTO roman_events (event_id, event_type, severity, message, metadata, "timestamp")
	SELECT e.event_id::uuid, e.event_type, e.severity, e.message, e.metadata::jsonb, e.ts
	FROM unnest($17::bigint[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::timestamptz[])
		WITH ORDINALITY AS e(alert, event_id, event_type, severity, message, metadata, ts, n)
	JOIN i ON i.ord = e.alert
	JOIN ins ON ins.source = i.source AND ins.fingerprint = i.fingerprint AND ins.starts_at = i.starts_at
	ORDER BY e.n
	RETURNING id, event_id
)
SELECT i.ord, ins.id, NULL::text FROM ins JOIN i ON ins.source = i.source AND ins.fingerprint = i.fingerprint
	AND ins.starts_at = i.starts_at
UNION ALL SELECT 0, ev.id, ev.event_id::text FROM ev`

// knownAlertSQL reads the stored status of one alert identity. A lookup
// per alert, sent together in one round trip, rather than a join with the
// group: a join's cached plan, made while the table was small, may scan
// the whole table long after it grew; an equality on the unique identity
// index stays an index lookup.
const knownAlertSQL = `SELECT status FROM integration_alerts WHERE source = $1 AND fingerprint = $2 AND starts_at = $3`

// alertIdentity is an alert's identity as the store keys it.
type alertIdentity struct {
	source, fingerprint string
	startsAt            time.Time
}

// queryer runs a statement on a pool or in a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// recordAlertsPG is RecordIntegrationAlerts on PostgreSQL: a round trip
// or two per group instead of one per alert and audit row. A re-sent
// group is found by one round trip of reads (knownAlertSQL) and writes
// nothing.
// Otherwise the first alert of each identity and the audit rows it gets if
// it is new go in one statement (recordAlertsPGSQL), which alone, outside
// a transaction, is the whole write of a group of firing alerts. A group
// with resolved alerts runs that statement and then, in the same
// transaction and in arrival order, marks resolved the firing rows of the
// resolved alerts the statement did not insert, as the single-row path
// does. Audit rows that ask for more than their own row (an alert for the
// outbox, a mirror's rows) take that single-row path instead.
func (db *DB) recordAlertsPG(ctx context.Context, alerts []*roman.IntegrationAlert, events func(i int, outcome string) []*roman.RomanEvent, now time.Time) ([]string, bool, error) {
	n := len(alerts)
	outcomes := make([]string, n)
	deps := make([]*string, n)
	firstOf := make(map[alertIdentity]int, n)
	var in []int // the first alert of each identity, in arrival order
	resolved := false
	for i, a := range alerts {
		if a.ReceivedAt.IsZero() {
			a.ReceivedAt = now
		}
		a.UpdatedAt = a.ReceivedAt
		dep, err := normID("deployment_id", a.DeploymentID)
		if err != nil {
			return nil, true, err
		}
		if dep != "" {
			deps[i] = &dep
		}
		k := alertIdentity{a.Source, a.Fingerprint, roman.UTC(a.StartsAt)}
		if _, ok := firstOf[k]; !ok {
			firstOf[k] = i
			in = append(in, i)
		}
		if a.Status == roman.AlertResolved {
			resolved = true
		}
	}
	// A re-sent group (most of what Alertmanager sends) is known already:
	// one read, no write and no audit rows to build. While groups keep
	// bringing new alerts the read is skipped for most of them (the write
	// finds re-sent alerts as well), and the first group the write finds
	// entirely known brings it back.
	if n := db.knownSkip.Load(); n > 0 {
		db.knownSkip.CompareAndSwap(n, n-1)
	} else if known, err := db.allKnownPG(ctx, alerts); err != nil {
		return nil, true, err
	} else if known {
		for i := range outcomes {
			outcomes[i] = roman.AlertOutcomeDuplicate
		}
		return outcomes, true, nil
	} else {
		db.knownSkip.Store(knownSkipGroups)
	}
	// The audit rows each alert gets if it is new.
	var evAlert []int64
	var evs []*roman.RomanEvent
	if events != nil {
		for k, i := range in {
			for _, e := range events(i, roman.AlertOutcomeNew) {
				if e.EventID == "" {
					e.EventID = roman.NewUUID()
				}
				e.Timestamp = db.orNow(e.Timestamp)
				if !db.ownRowOnly(e) {
					return nil, false, nil
				}
				evAlert = append(evAlert, int64(k+1))
				evs = append(evs, e)
			}
		}
	}
	m := len(in)
	var (
		sources, fps, statuses, names, summaries = make([]string, m), make([]string, m), make([]string, m), make([]string, m), make([]string, m)
		services, envs, rules, groups            = make([]string, m), make([]string, m), make([]string, m), make([]string, m)
		starts, received                         = make([]time.Time, m), make([]time.Time, m)
		ends                                     = make([]*time.Time, m)
		labelled                                 = make([]bool, m)
		depArgs, labels, annotations             = make([]*string, m), make([]*string, m), make([]*string, m)
	)
	for k, i := range in {
		a := alerts[i]
		sources[k], fps[k], statuses[k], names[k], summaries[k] = a.Source, a.Fingerprint, a.Status, a.AlertName, a.Summary
		services[k], envs[k], rules[k], groups[k] = a.Service, a.Environment, a.Rule, a.GroupKey
		starts[k], received[k], labelled[k], depArgs[k] = roman.UTC(a.StartsAt), roman.UTC(a.ReceivedAt), a.Labelled, deps[i]
		if a.EndsAt != nil {
			end := roman.UTC(*a.EndsAt)
			ends[k] = &end
		}
		labels[k], annotations[k] = jsonText(a.Labels), jsonText(a.Annotations)
	}
	e := len(evs)
	evIDs, evTypes, evSev, evMsg, evMeta, evTS := make([]string, e), make([]string, e), make([]string, e), make([]string, e), make([]*string, e), make([]time.Time, e)
	byEventID := make(map[string]*roman.RomanEvent, e)
	for j, ev := range evs {
		evIDs[j], evTypes[j], evSev[j], evMsg[j], evMeta[j], evTS[j] = ev.EventID, ev.EventType, ev.Severity, ev.Message, jsonText(ev.Metadata), roman.UTC(ev.Timestamp)
		byEventID[strings.ToLower(ev.EventID)] = ev
	}
	args := []any{sources, fps, starts, ends, statuses, names, summaries, labelled, depArgs, services, envs, rules, groups,
		labels, annotations, received, evAlert, evIDs, evTypes, evSev, evMsg, evMeta, evTS}

	run := func(q queryer, tx *sql.Tx) error {
		rows, err := q.QueryContext(ctx, recordAlertsPGSQL, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ord, id int64
			var eventID sql.NullString
			if err := rows.Scan(&ord, &id, &eventID); err != nil {
				return err
			}
			switch {
			case ord > 0 && ord <= int64(m):
				i := in[ord-1]
				alerts[i].ID, outcomes[i] = id, roman.AlertOutcomeNew
			case eventID.Valid:
				if ev := byEventID[strings.ToLower(eventID.String)]; ev != nil {
					ev.ID = id
				}
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		for i, a := range alerts {
			if outcomes[i] != "" {
				continue
			}
			outcomes[i] = roman.AlertOutcomeDuplicate
			if a.Status != roman.AlertResolved || tx == nil {
				continue
			}
			// Known (or recorded earlier in this group): a firing row turns
			// resolved, once.
			err := tx.QueryRowContext(ctx, db.q(resolveAlertSQL), db.tsPtr(a.EndsAt), db.ts(a.UpdatedAt), a.Source, a.Fingerprint, db.ts(a.StartsAt)).Scan(
				&a.ID, idScan{s: &a.DeploymentID}, &a.Service, &a.Environment, &a.Rule)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				continue
			case err != nil:
				return err
			}
			outcomes[i] = roman.AlertOutcomeResolved
			if events == nil {
				continue
			}
			for _, e := range events(i, roman.AlertOutcomeResolved) {
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
	}
	var err error
	if resolved {
		err = db.write(ctx, func(tx *sql.Tx) error { return run(tx, tx) })
	} else {
		err = run(db.wdb, nil)
	}
	if err == nil && !slices.ContainsFunc(outcomes, func(o string) bool { return o != roman.AlertOutcomeDuplicate }) {
		db.knownSkip.Store(0) // a re-send: look for the next one first
	}
	return outcomes, true, err
}

// knownSkipGroups is how many groups after one that brought a new alert
// are written without looking for a re-send first.
const knownSkipGroups = 16

// allKnownPG reports, in one round trip, whether the state of every alert
// of a group is stored already: its identity with the same status, or
// resolved. Then recording the group alert after alert would change
// nothing, a repeated identity included.
func (db *DB) allKnownPG(ctx context.Context, alerts []*roman.IntegrationAlert) (bool, error) {
	conn, err := db.reader(ctx).Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	known := true
	err = conn.Raw(func(dc any) error {
		b := &pgx.Batch{}
		for _, a := range alerts {
			b.Queue(knownAlertSQL, a.Source, a.Fingerprint, roman.UTC(a.StartsAt))
		}
		br := dc.(*stdlib.Conn).Conn().SendBatch(ctx, b)
		defer br.Close()
		for _, a := range alerts {
			var status string
			switch err := br.QueryRow().Scan(&status); {
			case errors.Is(err, pgx.ErrNoRows):
				known = false
			case err != nil:
				return err
			case status != a.Status && status != roman.AlertResolved:
				known = false
			}
		}
		return br.Close()
	})
	return known && err == nil, err
}

// ownRowOnly reports whether writing e is its roman_events row alone: it
// carries no alert for the outbox and the mirror (if any) asks for no rows
// of its own without a lookup.
func (db *DB) ownRowOnly(e *roman.RomanEvent) bool {
	if e.Alert != nil && db.alerts != nil {
		return false
	}
	if db.mirror == nil {
		return true
	}
	var p probeLookup
	rows, err := db.mirror(e, &p)
	return err == nil && len(rows) == 0 && !p.used
}

// errProbe answers every question of probeLookup.
var errProbe = errors.New("a lookup outside a transaction")

// probeLookup is the mirror lookup of ownRowOnly: it answers nothing and
// notes that a question was asked.
type probeLookup struct{ used bool }

func (p *probeLookup) Deployment(string) (*roman.Deployment, error) {
	p.used = true
	return nil, errProbe
}

func (p *probeLookup) Replaced(*roman.Deployment) (*roman.Deployment, error) {
	p.used = true
	return nil, errProbe
}

func (p *probeLookup) Queued(string, string, string) (bool, error) {
	p.used = true
	return false, errProbe
}

// jsonText is a JSON document as a nullable text argument.
func jsonText(raw []byte) *string {
	if len(raw) == 0 {
		return nil
	}
	s := string(raw)
	return &s
}
