package sqldb_test

import (
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

func TestMigrationRollbacks(t *testing.T) { eachDB(t, testMigrationRollbacks) }

// testMigrationRollbacks records outcomes for several migrations at once,
// and an unknown id records none of them.
func testMigrationRollbacks(t *testing.T, db *sqldb.DB) {
	d := newDeployment("production", "v1", t0, roman.StatusSuccess)
	mustCreate(t, db, d)
	var ids []int64
	for i, name := range []string{"0001_a", "0002_b"} {
		failed := "boom"
		m := &roman.Migration{DeploymentID: d.DeploymentID, MigrationName: name, MigrationHash: "h", AppliedAt: t0.Add(time.Duration(i) * time.Second)}
		if i == 0 {
			m.ErrorMessage = &failed // a stale error is cleared by a successful rollback
		}
		if err := db.CreateMigration(ctx, m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	at := t0.Add(time.Hour)
	wantCode(t, db.RecordMigrationRollbacks(ctx, []roman.MigrationRollback{
		{ID: ids[0], At: at, Successful: true}, {ID: 987654, At: at},
	}), roman.ENOTFOUND)
	list, _ := db.ListMigrations(ctx, d.DeploymentID)
	if list[0].RolledBackAt != nil || list[0].RollbackSuccessful != nil {
		t.Fatalf("a failed batch recorded something: %+v", list[0])
	}
	if err := db.RecordMigrationRollbacks(ctx, []roman.MigrationRollback{
		{ID: ids[1], At: at, Successful: false, Error: "relation \"b\" does not exist"}, {ID: ids[0], At: at, Successful: true},
	}); err != nil {
		t.Fatal(err)
	}
	list, _ = db.ListMigrations(ctx, d.DeploymentID)
	a, b := list[0], list[1]
	if a.RolledBackAt == nil || !a.RolledBackAt.Equal(roman.UTC(at)) || a.RollbackSuccessful == nil || !*a.RollbackSuccessful || a.ErrorMessage != nil {
		t.Errorf("successful one: %+v", a)
	}
	if b.RollbackSuccessful == nil || *b.RollbackSuccessful || b.ErrorMessage == nil || *b.ErrorMessage != `relation "b" does not exist` {
		t.Errorf("failed one: %+v", b)
	}
}
