package deploy

import (
	"context"

	"github.com/odyssey-1/roman"
)

// RecordMigration stores a database migration that a deployment applied,
// with the SQL that undoes it; CI records one per migration, in the order
// they were applied. A zero AppliedAt is now. Migration names are unique,
// as in the seed's table, so a re-send is recognised by its name: the same
// migration (name, deployment and hash) returns the stored row and
// created=false, while the name recorded with another deployment or hash
// gives ECONFLICT. ENOTFOUND for an unknown deployment.
func (s *Deployments) RecordMigration(ctx context.Context, m *roman.Migration) (*roman.Migration, bool, error) {
	if _, err := s.Store.GetDeployment(ctx, m.DeploymentID); err != nil {
		return nil, false, err
	}
	rec := *m
	if rec.AppliedAt.IsZero() {
		rec.AppliedAt = roman.UTC(s.Clock())
	}
	err := s.Store.CreateMigration(ctx, &rec)
	if roman.ErrorCode(err) == roman.ECONFLICT {
		if old := s.findMigration(ctx, rec.DeploymentID, rec.MigrationName); old != nil && old.MigrationHash == rec.MigrationHash {
			return old, false, nil
		}
		return nil, false, roman.Errorf(roman.ECONFLICT, "migration %s is already recorded with another deployment or hash", roman.Clip(rec.MigrationName))
	} else if err != nil {
		return nil, false, err
	}
	return &rec, true, nil
}

// findMigration returns the deployment's migration of that name, or nil
// (also when the list cannot be read: the re-send is then a conflict).
func (s *Deployments) findMigration(ctx context.Context, deploymentID, name string) *roman.Migration {
	list, err := s.Store.ListMigrations(ctx, deploymentID)
	if err != nil {
		return nil
	}
	for _, m := range list {
		if m.MigrationName == name {
			return m
		}
	}
	return nil
}

// ListMigrations returns a deployment's migrations in applied order, with
// their rollback outcomes (empty for an unknown deployment; the API answers
// 404 for that before asking).
func (s *Deployments) ListMigrations(ctx context.Context, deploymentID string) ([]*roman.Migration, error) {
	return s.Store.ListMigrations(ctx, deploymentID)
}
