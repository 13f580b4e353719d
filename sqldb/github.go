package sqldb

import (
	"context"
	"database/sql"
	"errors"

	"github.com/odyssey-1/roman"
)

// SetOutboxMirror sets the function that picks, for every roman event, the
// outbox rows of integrations mirroring roman's decisions (GitHub
// deployments). insertEvent calls it inside its transaction, so a mirror row
// exists exactly when its event does. Call it before the DB is shared, like
// SetAlertRouter.
func (db *DB) SetOutboxMirror(m roman.OutboxMirror) { db.mirror = m }

// insertMirrorRows writes the outbox rows the mirror picks for e, in tx.
func (db *DB) insertMirrorRows(ctx context.Context, tx *sql.Tx, e *roman.RomanEvent) error {
	if db.mirror == nil {
		return nil
	}
	rows, err := db.mirror(e, &mirrorLookup{db: db, ctx: ctx, tx: tx})
	if err != nil {
		return err
	}
	for i := range rows {
		a := &rows[i].Alert
		a.EventID, a.At = e.EventID, e.Timestamp
		if err := db.insertOutboxRow(ctx, tx, e, rows[i].Channel, a); err != nil {
			return err
		}
	}
	return nil
}

// mirrorLookup answers the mirror's questions in the event's transaction.
type mirrorLookup struct {
	db  *DB
	ctx context.Context
	tx  *sql.Tx
}

func (l *mirrorLookup) Deployment(deploymentID string) (*roman.Deployment, error) {
	id, ok := lookupID(deploymentID)
	if !ok {
		return nil, nil
	}
	d, err := scanDeployment(l.tx.QueryRowContext(l.ctx, l.db.q(`SELECT `+deploymentCols+` FROM deployments WHERE deployment_id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return d, err
}

func (l *mirrorLookup) Replaced(d *roman.Deployment) (*roman.Deployment, error) {
	p, err := scanDeployment(l.tx.QueryRowContext(l.ctx, l.db.q(`SELECT `+deploymentCols+` FROM deployments
		WHERE environment = ? AND service = ? AND status = ? AND deployment_id <> ?
		AND (deployed_at < ? OR (deployed_at = ? AND id < ?))
		ORDER BY deployed_at DESC, id DESC LIMIT 1`),
		d.Environment, roman.ServiceOrDefault(d.Service), roman.StatusSuccess, d.DeploymentID,
		l.db.ts(d.DeployedAt), l.db.ts(d.DeployedAt), d.ID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return p, err
}

func (l *mirrorLookup) Queued(channel, kind, deploymentID string) (bool, error) {
	id, ok := lookupID(deploymentID)
	if !ok {
		return false, nil
	}
	// Settled outbox rows are pruned after a while; a release's stored
	// GitHub deployment still says its creation was queued.
	var n int
	err := l.tx.QueryRowContext(l.ctx, l.db.q(`SELECT count(*) FROM alert_outbox
		WHERE channel = ? AND order_key = ? AND kind = ?`), channel, id, kind).Scan(&n)
	if err != nil || n > 0 || kind != roman.MirrorCreateDeployment {
		return n > 0, err
	}
	err = l.tx.QueryRowContext(l.ctx, l.db.q(`SELECT count(*) FROM github_deployments WHERE deployment_id = ?`), id).Scan(&n)
	return n > 0, err
}

// SaveGitHubDeployment stores g and inserts e in one transaction. The same
// deployment saved again with the same GitHub id is a no-op success (e is
// not inserted again); with another id it is ECONFLICT.
func (db *DB) SaveGitHubDeployment(ctx context.Context, g *roman.GitHubDeployment, e *roman.RomanEvent) error {
	id, err := normID("deployment_id", g.DeploymentID)
	if err != nil {
		return err
	}
	g.DeploymentID = id
	g.CreatedAt = db.orNow(g.CreatedAt)
	if e != nil {
		if e.EventID == "" {
			e.EventID = roman.NewUUID()
		}
		e.Timestamp = db.orNow(e.Timestamp)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		var have int64
		err := tx.QueryRowContext(ctx, db.q(`SELECT github_id FROM github_deployments WHERE deployment_id = ?`), id).Scan(&have)
		switch {
		case err == nil && have == g.GitHubID:
			return nil
		case err == nil:
			return roman.Errorf(roman.ECONFLICT, "deployment %s is mirrored by GitHub deployment %d already, not %d", id, have, g.GitHubID)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO github_deployments (deployment_id, repository, github_id, created_at)
			VALUES (?, ?, ?, ?)`), id, g.Repository, g.GitHubID, db.ts(g.CreatedAt)); err != nil {
			return err
		}
		if e == nil {
			return nil
		}
		return db.insertEvent(ctx, tx, e)
	})
	var re *roman.Error
	if errors.As(err, &re) {
		return re
	}
	return internal("save github deployment", err)
}

// GetGitHubDeployment returns the GitHub deployment of a roman deployment;
// ENOTFOUND when it has none.
func (db *DB) GetGitHubDeployment(ctx context.Context, deploymentID string) (*roman.GitHubDeployment, error) {
	id, ok := lookupID(deploymentID)
	if !ok {
		return nil, notFound("GitHub deployment of deployment", deploymentID)
	}
	g := &roman.GitHubDeployment{}
	err := db.db.QueryRowContext(ctx, db.q(`SELECT deployment_id, repository, github_id, created_at FROM github_deployments
		WHERE deployment_id = ?`), id).Scan(idScan{s: &g.DeploymentID}, &g.Repository, &g.GitHubID, scanTime(&g.CreatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("GitHub deployment of deployment", deploymentID)
	}
	if err != nil {
		return nil, internal("get github deployment", err)
	}
	return g, nil
}
