package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/odyssey-1/roman"
)

// deploymentCols is the select list scanned by scanDeployment.
const deploymentCols = `id, deployment_id, service, environment, version, git_commit, git_branch, deployed_by,
	deployed_at, status, rollback_from, coalesce(health_check_passed, FALSE), health_check_details,
	constitutional_validation, metadata, completed_at, rolled_back_at`

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

func scanDeployment(r rowScanner) (*roman.Deployment, error) {
	d := &roman.Deployment{}
	err := r.Scan(&d.ID, idScan{s: &d.DeploymentID}, &d.Service, &d.Environment, &d.Version, &d.GitCommit,
		&d.GitBranch, idScan{ptr: &d.DeployedBy}, scanTime(&d.DeployedAt), &d.Status,
		idScan{ptr: &d.RollbackFrom}, &d.HealthCheckPassed, jsonScan{&d.HealthCheckDetails},
		jsonScan{&d.ConstitutionalValidation}, jsonScan{&d.Metadata},
		scanTimePtr(&d.CompletedAt), scanTimePtr(&d.RolledBackAt))
	if err != nil {
		return nil, err
	}
	return d, nil
}

// CreateDeployment inserts d and fills d.ID. An empty DeploymentID is
// generated, a zero DeployedAt is now and an empty Status is in_progress;
// uuids are stored lower-case and timestamps in UTC with microseconds, and d
// is updated to match what is stored. ECONFLICT when the deployment_id
// exists, ENOTFOUND when rollback_from names no deployment, EINVALID for a
// malformed uuid.
func (db *DB) CreateDeployment(ctx context.Context, d *roman.Deployment) error {
	id, err := normID("deployment_id", d.DeploymentID)
	if err != nil {
		return err
	}
	if id == "" {
		id = roman.NewUUID()
	}
	var by, from string
	if d.DeployedBy != nil {
		if by, err = normID("deployed_by", *d.DeployedBy); err != nil {
			return err
		}
	}
	if d.RollbackFrom != nil {
		if from, err = normID("rollback_from", *d.RollbackFrom); err != nil {
			return err
		}
	}
	d.DeploymentID = id
	d.DeployedBy, d.RollbackFrom = optional(by), optional(from)
	d.DeployedAt = db.orNow(d.DeployedAt)
	d.CompletedAt, d.RolledBackAt = utcPtr(d.CompletedAt), utcPtr(d.RolledBackAt)
	if d.Status == "" {
		d.Status = roman.StatusInProgress
	}
	d.Service = roman.ServiceOrDefault(d.Service)
	err = db.write(ctx, func(tx *sql.Tx) error {
		if err := db.checkScopeLimits(ctx, tx, d.Service, d.Environment); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO deployments (deployment_id, service, environment,
			version, git_commit, git_branch, deployed_by, deployed_at, status, rollback_from,
			health_check_passed, health_check_details, constitutional_validation, metadata,
			completed_at, rolled_back_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			id, d.Service, d.Environment, d.Version, d.GitCommit, d.GitBranch, idArg(by), db.ts(d.DeployedAt),
			d.Status, idArg(from), d.HealthCheckPassed, jsonArg(d.HealthCheckDetails),
			jsonArg(d.ConstitutionalValidation), jsonArg(d.Metadata), db.tsPtr(d.CompletedAt),
			db.tsPtr(d.RolledBackAt)).Scan(&d.ID)
	})
	switch classify(err) {
	case uniqueViolation:
		return roman.Errorf(roman.ECONFLICT, "deployment %s already exists", id)
	case foreignKeyViolation:
		return notFound("deployment", from)
	}
	return internal("create deployment", err)
}

// GetDeployment returns one deployment, ENOTFOUND when there is none.
func (db *DB) GetDeployment(ctx context.Context, deploymentID string) (*roman.Deployment, error) {
	id, ok := lookupID(deploymentID)
	if !ok {
		return nil, notFound("deployment", deploymentID)
	}
	d, err := scanDeployment(db.queryReadRow(ctx, `SELECT `+deploymentCols+` FROM deployments WHERE deployment_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("deployment", deploymentID)
	}
	return d, internal("get deployment", err)
}

// ListDeployments returns deployments newest first (deployed_at, then id),
// filtered by service, environment and status when given.
func (db *DB) ListDeployments(ctx context.Context, f roman.DeploymentFilter) ([]*roman.Deployment, error) {
	var conds []string
	var args []any
	if f.Service != "" {
		conds, args = append(conds, "service = ?"), append(args, f.Service)
	}
	if f.Environment != "" {
		conds, args = append(conds, "environment = ?"), append(args, f.Environment)
	}
	if f.Status != "" {
		conds, args = append(conds, "status = ?"), append(args, f.Status)
	}
	args = append(args, limit(f.Limit))
	return db.queryDeployments(ctx, `SELECT `+deploymentCols+` FROM deployments`+where(conds)+
		` ORDER BY deployed_at DESC, id DESC LIMIT ?`, args...)
}

func (db *DB) queryDeployments(ctx context.Context, query string, args ...any) ([]*roman.Deployment, error) {
	rows, err := db.queryRead(ctx, query, args...)
	if err != nil {
		return nil, internal("list deployments", err)
	}
	defer rows.Close()
	out := []*roman.Deployment{}
	for rows.Next() {
		d, err := scanDeployment(rows)
		if err != nil {
			return nil, internal("list deployments", err)
		}
		out = append(out, d)
	}
	return out, internal("list deployments", rows.Err())
}

// UpdateDeployment applies u in one transaction: the row is read (locked on
// PostgreSQL), a status change is checked with roman.CanTransition, and the
// changed row is written and returned. A change to success or failed sets
// completed_at and a change to rolled_back sets rolled_back_at when u does
// not give them and they are unset. u.UndoRollbackTo moves a rolled_back
// row back to the status it names (roman.CanUndoRollback) and clears
// rolled_back_at, in the same transaction. ENOTFOUND for an unknown id,
// ECONFLICT (naming both states) for an illegal transition.
func (db *DB) UpdateDeployment(ctx context.Context, deploymentID string, u roman.DeploymentUpdate) (*roman.Deployment, error) {
	id, ok := lookupID(deploymentID)
	if !ok {
		return nil, notFound("deployment", deploymentID)
	}
	var d *roman.Deployment
	err := db.write(ctx, func(tx *sql.Tx) error {
		var err error
		d, err = scanDeployment(tx.QueryRowContext(ctx,
			db.q(`SELECT `+deploymentCols+` FROM deployments WHERE deployment_id = ?`+db.forUpdate), id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("deployment", deploymentID)
		} else if err != nil {
			return err
		}
		now := roman.UTC(db.now())
		if u.UndoRollbackTo != nil {
			to := *u.UndoRollbackTo
			switch {
			case u.Status != nil || u.RolledBackAt != nil:
				return roman.Errorf(roman.EINVALID, "undoing a rollback mark cannot be combined with a status or rolled_back_at")
			case !roman.CanUndoRollback(to):
				return roman.Errorf(roman.EINVALID, "a rollback mark cannot be undone to status %q", to)
			case d.Status == roman.StatusRolledBack:
				d.Status, d.RolledBackAt = to, nil
			case d.Status != to || d.RolledBackAt != nil:
				return roman.Errorf(roman.ECONFLICT, "illegal status transition: deployment is %q, not rolled_back, and cannot become %q again", d.Status, to)
			}
		}
		if u.Status != nil && *u.Status != d.Status {
			if !roman.CanTransition(d.Status, *u.Status) {
				return roman.TransitionError(d.Status, *u.Status)
			}
			d.Status = *u.Status
			switch d.Status {
			case roman.StatusSuccess, roman.StatusFailed:
				if d.CompletedAt == nil && u.CompletedAt == nil {
					d.CompletedAt = &now
				}
			case roman.StatusRolledBack:
				if d.RolledBackAt == nil && u.RolledBackAt == nil {
					d.RolledBackAt = &now
				}
			}
		}
		if u.HealthCheckPassed != nil {
			d.HealthCheckPassed = *u.HealthCheckPassed
		}
		if len(u.HealthCheckDetails) > 0 {
			d.HealthCheckDetails = u.HealthCheckDetails
		}
		if len(u.ConstitutionalValidation) > 0 {
			d.ConstitutionalValidation = u.ConstitutionalValidation
		}
		if u.CompletedAt != nil {
			d.CompletedAt = utcPtr(u.CompletedAt)
		}
		if u.RolledBackAt != nil {
			d.RolledBackAt = utcPtr(u.RolledBackAt)
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE deployments SET status = ?, health_check_passed = ?,
			health_check_details = ?, constitutional_validation = ?, completed_at = ?, rolled_back_at = ?
			WHERE id = ?`),
			d.Status, d.HealthCheckPassed, jsonArg(d.HealthCheckDetails),
			jsonArg(d.ConstitutionalValidation), db.tsPtr(d.CompletedAt), db.tsPtr(d.RolledBackAt), d.ID)
		return err
	})
	if err != nil {
		return nil, internal("update deployment", err)
	}
	return d, nil
}

// FindRollbackTarget returns the rollback target of the bad deployment:
// the newest deployment of its service and environment with status success
// and health_check_passed true, deployed strictly before it and with a
// git_commit other than its own (going back to the same code is no
// rollback), or nil when there is none.
func (db *DB) FindRollbackTarget(ctx context.Context, bad *roman.Deployment) (*roman.Deployment, error) {
	return db.newest(ctx, `SELECT `+deploymentCols+` FROM deployments
		WHERE service = ? AND environment = ? AND status = 'success' AND health_check_passed = TRUE
		AND deployed_at < ? AND git_commit <> ?
		ORDER BY deployed_at DESC, id DESC LIMIT 1`,
		roman.ServiceOrDefault(bad.Service), bad.Environment, db.ts(bad.DeployedAt), bad.GitCommit)
}

// CurrentDeployment returns the newest deployment of the service in env that
// is success, or in_progress and created by a rollback, or nil. An empty
// service is the default one.
func (db *DB) CurrentDeployment(ctx context.Context, service, env string) (*roman.Deployment, error) {
	return db.newest(ctx, `SELECT `+deploymentCols+` FROM deployments
		WHERE service = ? AND environment = ?
		AND (status = 'success' OR (status = 'in_progress' AND rollback_from IS NOT NULL))
		ORDER BY deployed_at DESC, id DESC LIMIT 1`, roman.ServiceOrDefault(service), env)
}

func (db *DB) newest(ctx context.Context, query string, args ...any) (*roman.Deployment, error) {
	d, err := scanDeployment(db.queryReadRow(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return d, internal("find deployment", err)
}

// optional returns nil for "", else a pointer to s.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// utcPtr returns t in UTC with microseconds, nil for nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := roman.UTC(*t)
	return &u
}
