package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/odyssey-1/roman"
)

// rollbackColsFmt is the select list of rollback_events; %s is the dialect's
// expression that reads rollback_steps as one JSON array text.
const rollbackColsFmt = `id, event_id, deployment_id, service, environment, trigger_type,
	trigger_reason, initiated_by, initiated_at, status, rollback_plan, %s,
	constitutional_validation, completed_at, metadata`

func scanRollbackEvent(r rowScanner) (*roman.RollbackEvent, error) {
	e := &roman.RollbackEvent{}
	var steps string
	err := r.Scan(&e.ID, idScan{s: &e.EventID}, idScan{s: &e.DeploymentID}, &e.Service, &e.Environment,
		&e.TriggerType, &e.TriggerReason, idScan{ptr: &e.InitiatedBy}, scanTime(&e.InitiatedAt),
		&e.Status, jsonScan{&e.RollbackPlan}, &steps, jsonScan{&e.ConstitutionalValidation},
		scanTimePtr(&e.CompletedAt), jsonScan{&e.Metadata})
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(steps), &e.RollbackSteps); err != nil {
		return nil, err
	}
	if e.RollbackSteps == nil {
		e.RollbackSteps = []roman.RollbackStep{}
	}
	return e, nil
}

// CreateRollbackEvent inserts e and fills e.ID. An empty EventID is
// generated, an empty Status is pending, a zero InitiatedAt is now and an
// empty Environment is the deployment's, and so is the service (an event
// without a deployment belongs to e.Service, or the default service). Steps
// already in e are appended in order. The database allows one unfinished
// (pending or in_progress) event per service and environment: a second gets ECONFLICT with Error.EventID naming the
// unfinished one. ENOTFOUND when the deployment does not exist.
func (db *DB) CreateRollbackEvent(ctx context.Context, e *roman.RollbackEvent) error {
	id, err := normID("event_id", e.EventID)
	if err != nil {
		return err
	}
	if id == "" {
		id = roman.NewUUID()
	}
	dep, err := normID("deployment_id", e.DeploymentID)
	if err != nil {
		return err
	}
	var by string
	if e.InitiatedBy != nil {
		if by, err = normID("initiated_by", *e.InitiatedBy); err != nil {
			return err
		}
	}
	e.EventID, e.DeploymentID, e.InitiatedBy = id, dep, optional(by)
	e.InitiatedAt = db.orNow(e.InitiatedAt)
	e.CompletedAt = utcPtr(e.CompletedAt)
	if e.Status == "" {
		e.Status = roman.RollbackPending
	}
	if e.RollbackSteps == nil {
		e.RollbackSteps = []roman.RollbackStep{}
	}
	steps := make([]string, len(e.RollbackSteps))
	for i, s := range e.RollbackSteps {
		b, err := json.Marshal(s)
		if err != nil {
			return roman.Errorf(roman.EINVALID, "rollback step %q: %v", s.Name, err)
		}
		steps[i] = string(b)
	}
	if dep != "" && e.Environment != "" && len(steps) == 0 {
		// The common case (a rollback of a deployment, its environment
		// given): one statement, the service read inside it. Anything
		// else it cannot answer (a conflict to explain) goes the long
		// way, which gives the same rows and errors.
		done, err := db.createRollbackEventOne(ctx, e, id, dep, by)
		if done || err != nil {
			return err
		}
	}
	// A unique violation may come from an event that finishes while we look
	// it up; the insert is then simply tried again.
	for attempt := 0; ; attempt++ {
		err = db.write(ctx, func(tx *sql.Tx) error {
			if dep != "" {
				var env string
				err := tx.QueryRowContext(ctx, db.q(`SELECT service, environment FROM deployments WHERE deployment_id = ?`),
					dep).Scan(&e.Service, &env)
				if errors.Is(err, sql.ErrNoRows) {
					return notFound("deployment", dep)
				} else if err != nil {
					return err
				}
				if e.Environment == "" {
					e.Environment = env
				}
			}
			e.Service = roman.ServiceOrDefault(e.Service)
			if e.Environment == "" {
				return roman.Errorf(roman.EINVALID, "rollback event needs an environment or a deployment")
			}
			err := tx.QueryRowContext(ctx, db.q(`INSERT INTO rollback_events (event_id, deployment_id,
				service, environment, trigger_type, trigger_reason, initiated_by, initiated_at, status,
				rollback_plan, constitutional_validation, completed_at, metadata)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
				id, idArg(dep), e.Service, e.Environment, e.TriggerType, e.TriggerReason, idArg(by),
				db.ts(e.InitiatedAt), e.Status, jsonArg(e.RollbackPlan),
				jsonArg(e.ConstitutionalValidation), db.tsPtr(e.CompletedAt), jsonArg(e.Metadata)).Scan(&e.ID)
			if err != nil {
				return err
			}
			for _, s := range steps {
				if _, err := tx.ExecContext(ctx, db.q(db.appendStepSQL), s, id); err != nil {
					return err
				}
			}
			return nil
		})
		switch classify(err) {
		case foreignKeyViolation:
			return notFound("deployment", dep)
		case uniqueViolation:
			if cerr := db.rollbackConflict(ctx, e.Service, e.Environment, id); cerr != nil || attempt >= 2 {
				return cerr
			}
			continue
		}
		return internal("create rollback event", err)
	}
}

// createRollbackEventOne inserts e (of deployment dep, its environment
// given, no steps) in one statement that takes the service from the
// deployment row, as CreateRollbackEvent's transaction does in two:
// one round trip instead of four on PostgreSQL, on every rollback's path.
// It reports false (and no error) when the insert hit a unique violation,
// which the caller explains.
func (db *DB) createRollbackEventOne(ctx context.Context, e *roman.RollbackEvent, id, dep, by string) (bool, error) {
	err := db.wdb.QueryRowContext(ctx, db.q(`INSERT INTO rollback_events (event_id, deployment_id,
		service, environment, trigger_type, trigger_reason, initiated_by, initiated_at, status,
		rollback_plan, constitutional_validation, completed_at, metadata)
		VALUES (?, ?, coalesce(nullif((SELECT service FROM deployments WHERE deployment_id = ?), ''), '`+roman.DefaultService+`'),
		?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id, service`),
		id, idArg(dep), idArg(dep), e.Environment, e.TriggerType, e.TriggerReason, idArg(by),
		db.ts(e.InitiatedAt), e.Status, jsonArg(e.RollbackPlan),
		jsonArg(e.ConstitutionalValidation), db.tsPtr(e.CompletedAt), jsonArg(e.Metadata)).Scan(&e.ID, &e.Service)
	switch classify(err) {
	case foreignKeyViolation:
		return true, notFound("deployment", dep)
	case uniqueViolation:
		return false, nil
	}
	return true, internal("create rollback event", err)
}

// rollbackConflict explains a unique violation of an insert into
// rollback_events: the unfinished event of the service and environment, or
// the event id taken already. It returns nil when neither exists any more.
func (db *DB) rollbackConflict(ctx context.Context, service, env, eventID string) error {
	var other string
	err := db.reader(ctx).QueryRowContext(ctx, db.q(`SELECT event_id FROM rollback_events
		WHERE service = ? AND environment = ? AND status IN ('pending', 'in_progress') ORDER BY id LIMIT 1`),
		roman.ServiceOrDefault(service), env).Scan(idScan{s: &other})
	switch {
	case err == nil:
		what := "environment " + env
		if service != "" && service != roman.DefaultService {
			what = "service " + service + " in environment " + env
		}
		return &roman.Error{Code: roman.ECONFLICT, EventID: other,
			Message: "a rollback of " + what + " is already in progress"}
	case !errors.Is(err, sql.ErrNoRows):
		return internal("create rollback event", err)
	}
	err = db.reader(ctx).QueryRowContext(ctx, db.q(`SELECT event_id FROM rollback_events WHERE event_id = ?`),
		eventID).Scan(idScan{s: &other})
	switch {
	case err == nil:
		return &roman.Error{Code: roman.ECONFLICT, EventID: other,
			Message: "rollback event " + eventID + " already exists"}
	case !errors.Is(err, sql.ErrNoRows):
		return internal("create rollback event", err)
	}
	return nil
}

// AppendRollbackStep appends one step to an event's rollback_steps in a
// single UPDATE, so concurrent appends never lose one. ENOTFOUND for an
// unknown event.
func (db *DB) AppendRollbackStep(ctx context.Context, eventID string, s roman.RollbackStep) error {
	id, ok := lookupID(eventID)
	if !ok {
		return notFound("rollback event", eventID)
	}
	s.StartedAt, s.FinishedAt = roman.UTC(s.StartedAt), roman.UTC(s.FinishedAt)
	b, err := json.Marshal(s)
	if err != nil {
		return roman.Errorf(roman.EINVALID, "rollback step %q: %v", s.Name, err)
	}
	res, err := db.wdb.ExecContext(ctx, db.q(db.appendStepSQL), string(b), id)
	if err != nil {
		return internal("append rollback step", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal("append rollback step", err)
	} else if n == 0 {
		return notFound("rollback event", eventID)
	}
	return nil
}

// UpdateRollbackEvent applies u; nil or empty fields are left unchanged.
// u.Steps are appended to rollback_steps in the same statement (as
// AppendRollbackStep appends one). ENOTFOUND for an unknown event.
func (db *DB) UpdateRollbackEvent(ctx context.Context, eventID string, u roman.RollbackEventUpdate) error {
	id, ok := lookupID(eventID)
	if !ok {
		return notFound("rollback event", eventID)
	}
	var status any
	if u.Status != nil {
		status = *u.Status
	}
	args := []any{status, jsonArg(u.RollbackPlan), jsonArg(u.ConstitutionalValidation), db.tsPtr(u.CompletedAt), jsonArg(u.Metadata)}
	for _, st := range u.Steps {
		st.StartedAt, st.FinishedAt = roman.UTC(st.StartedAt), roman.UTC(st.FinishedAt)
		b, err := json.Marshal(st)
		if err != nil {
			return roman.Errorf(roman.EINVALID, "rollback step %q: %v", st.Name, err)
		}
		args = append(args, string(b))
	}
	args = append(args, id)
	res, err := db.wdb.ExecContext(ctx, db.q(`UPDATE rollback_events SET
		status = coalesce(?, status),
		rollback_plan = coalesce(?, rollback_plan),
		constitutional_validation = coalesce(?, constitutional_validation),
		completed_at = coalesce(?, completed_at),
		metadata = coalesce(?, metadata),
		rollback_steps = `+db.appendStepsExpr(len(u.Steps))+`
		WHERE event_id = ?`), args...)
	if classify(err) == uniqueViolation {
		// Only a status back to pending or in_progress can collide.
		var service, env string
		if e, gerr := db.GetRollbackEvent(ctx, id); gerr == nil {
			service, env = e.Service, e.Environment
		}
		if cerr := db.rollbackConflict(ctx, service, env, id); cerr != nil {
			return cerr
		}
	}
	if err != nil {
		return internal("update rollback event", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal("update rollback event", err)
	} else if n == 0 {
		return notFound("rollback event", eventID)
	}
	return nil
}

// appendStepsExpr is the dialect's expression of rollback_steps with n
// steps (the arguments, JSON texts, in order) appended, as appendStepSQL
// appends one.
func (db *DB) appendStepsExpr(n int) string {
	if n == 0 {
		return "rollback_steps"
	}
	var b strings.Builder
	if db.dialect == DialectPostgres {
		b.WriteString(strings.Repeat("array_append(", n) + "coalesce(rollback_steps, '{}')")
		b.WriteString(strings.Repeat(", ?::jsonb)", n))
	} else {
		b.WriteString(strings.Repeat("json_insert(", n) + "coalesce(rollback_steps, '[]')")
		b.WriteString(strings.Repeat(", '$[#]', json(?))", n))
	}
	return b.String()
}

// GetRollbackEvent returns one event, ENOTFOUND when there is none.
func (db *DB) GetRollbackEvent(ctx context.Context, eventID string) (*roman.RollbackEvent, error) {
	id, ok := lookupID(eventID)
	if !ok {
		return nil, notFound("rollback event", eventID)
	}
	e, err := scanRollbackEvent(db.queryReadRow(ctx,
		`SELECT `+db.rollbackCols+` FROM rollback_events WHERE event_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("rollback event", eventID)
	}
	return e, internal("get rollback event", err)
}

// ListRollbackEvents returns events newest first (initiated_at, then id),
// filtered by service, environment, deployment, status and initiated_at >=
// Since.
func (db *DB) ListRollbackEvents(ctx context.Context, f roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
	var conds []string
	var args []any
	if f.Service != "" {
		conds, args = append(conds, "service = ?"), append(args, f.Service)
	}
	if f.Environment != "" {
		conds, args = append(conds, "environment = ?"), append(args, f.Environment)
	}
	if f.DeploymentID != "" {
		id, ok := lookupID(f.DeploymentID)
		if !ok {
			return []*roman.RollbackEvent{}, nil
		}
		conds, args = append(conds, "deployment_id = ?"), append(args, id)
	}
	if f.TargetDeploymentID != "" {
		conds, args = append(conds, "rollback_plan->>'target_deployment_id' = ?"), append(args, f.TargetDeploymentID)
	}
	if f.Status != "" {
		conds, args = append(conds, "status = ?"), append(args, f.Status)
	}
	if f.Since != nil {
		conds, args = append(conds, "initiated_at >= ?"), append(args, db.ts(*f.Since))
	}
	args = append(args, limit(f.Limit))
	rows, err := db.queryRead(ctx, `SELECT `+db.rollbackCols+` FROM rollback_events`+
		where(conds)+` ORDER BY initiated_at DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, internal("list rollback events", err)
	}
	defer rows.Close()
	out := []*roman.RollbackEvent{}
	for rows.Next() {
		e, err := scanRollbackEvent(rows)
		if err != nil {
			return nil, internal("list rollback events", err)
		}
		out = append(out, e)
	}
	return out, internal("list rollback events", rows.Err())
}
