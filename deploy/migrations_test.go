package deploy_test

import (
	"context"
	"testing"

	"github.com/odyssey-1/roman"
)

// TestRecordMigrationResend: recording a migration is idempotent for the
// same name, deployment and hash, and a conflict for the name under another
// hash or deployment.
func TestRecordMigrationResend(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		d := e.record(t, &roman.Deployment{Environment: "production", Version: "v1", GitCommit: "abc", GitBranch: "main"})
		other := e.record(t, &roman.Deployment{Environment: "staging", Version: "v1", GitCommit: "abc", GitBranch: "main"})
		undo := "DROP TABLE orders;"
		m := &roman.Migration{DeploymentID: d.DeploymentID, MigrationName: "0001_orders", MigrationHash: "sha256:ab", RollbackScript: &undo}
		first, created, err := e.deps.RecordMigration(ctx, m)
		if err != nil || !created || first.ID == 0 || !first.AppliedAt.Equal(testNow) {
			t.Fatalf("first record: %+v created=%v err=%v", first, created, err)
		}
		again, created, err := e.deps.RecordMigration(ctx, m)
		if err != nil || created || again.ID != first.ID {
			t.Fatalf("same migration again: %+v created=%v err=%v", again, created, err)
		}
		changed := *m
		changed.MigrationHash = "sha256:cd"
		if _, _, err := e.deps.RecordMigration(ctx, &changed); roman.ErrorCode(err) != roman.ECONFLICT ||
			roman.ErrorMessage(err) != "migration 0001_orders is already recorded with another deployment or hash" {
			t.Fatalf("other hash: %v", err)
		}
		moved := *m
		moved.DeploymentID = other.DeploymentID
		if _, _, err := e.deps.RecordMigration(ctx, &moved); roman.ErrorCode(err) != roman.ECONFLICT {
			t.Fatalf("other deployment: %v", err)
		}
		unknown := *m
		unknown.DeploymentID, unknown.MigrationName = roman.NewUUID(), "0002_new"
		if _, _, err := e.deps.RecordMigration(ctx, &unknown); roman.ErrorCode(err) != roman.ENOTFOUND {
			t.Fatalf("unknown deployment: %v", err)
		}
		second := &roman.Migration{DeploymentID: d.DeploymentID, MigrationName: "0002_items", MigrationHash: "sha256:ef"}
		if _, created, err := e.deps.RecordMigration(ctx, second); err != nil || !created {
			t.Fatalf("second migration: created=%v err=%v", created, err)
		}
		list, err := e.deps.ListMigrations(ctx, d.DeploymentID)
		if err != nil || len(list) != 2 || list[0].MigrationName != "0001_orders" || list[1].MigrationName != "0002_items" {
			t.Fatalf("list %+v %v", list, err)
		}
		if list, err := e.deps.ListMigrations(ctx, other.DeploymentID); err != nil || len(list) != 0 {
			t.Fatalf("other deployment's list %+v %v", list, err)
		}
	})
}
