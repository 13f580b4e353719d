package rollback_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/appdb"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/policy"
	"github.com/odyssey-1/roman/rollback"
)

// withAppDB gives the service an application database (a SQLite file) in
// which the bad deployment applied two migrations, recorded with their
// rollback scripts; brokenSecond makes the second script fail.
func (e *env) withAppDB(t *testing.T, bad *roman.Deployment, brokenSecond bool) *appdb.DB {
	t.Helper()
	ctx := context.Background()
	app, err := appdb.Open(testkit.SQLiteURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	if err := app.RunScripts(ctx, []string{`CREATE TABLE users (id integer PRIMARY KEY)`}); err != nil {
		t.Fatal(err)
	}
	// The deploy's two migrations, applied in this order.
	if err := app.RunScripts(ctx, []string{`CREATE TABLE orders (id integer PRIMARY KEY)`, `ALTER TABLE users ADD COLUMN email text`}); err != nil {
		t.Fatal(err)
	}
	second := `ALTER TABLE users DROP COLUMN email`
	if brokenSecond {
		second = `ALTER TABLE users DROP COLUMN no_such_column`
	}
	for i, m := range []struct{ name, script string }{
		{"20251215_0001_orders", `DROP TABLE orders`},
		{"20251215_0002_user_email", second},
	} {
		ms := int64(40 + i)
		rec := &roman.Migration{DeploymentID: bad.DeploymentID, MigrationName: m.name, MigrationHash: "sha256:" + m.name,
			AppliedAt: e.clock.Now().Add(-10 * time.Minute).Add(time.Duration(i) * time.Second), ExecutionTimeMS: &ms, RollbackScript: &m.script}
		if err := e.store.CreateMigration(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	e.svc.Migrations = app
	return app
}

func tables(t *testing.T, app *appdb.DB) []string {
	t.Helper()
	_, counts, err := app.Inspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range counts {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestRollbackWithMigrations runs the scripts newest first in one
// transaction before the deployment is touched, and records each outcome.
func TestRollbackWithMigrations(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		app := e.withAppDB(t, bad, false)
		res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "migration broke checkout", WithMigrations: true})
		if err != nil || res.Status != roman.RollbackSuccess {
			t.Fatalf("%+v %v", res, err)
		}
		if got := tables(t, app); !slices.Equal(got, []string{"users"}) {
			t.Fatalf("app tables after rollback: %v", got)
		}
		ev, _ := e.store.GetRollbackEvent(ctx, res.EventID)
		if ev.RollbackSteps[3].Name != roman.StepMigrations || ev.RollbackSteps[4].Name != roman.StepMarkRolledBack {
			t.Fatalf("steps %+v", ev.RollbackSteps)
		}
		if d := stepNamed(t, ev, roman.StepMigrations); strings.Join(toStrings(d["migrations"]), ",") != "20251215_0002_user_email,20251215_0001_orders" {
			t.Fatalf("migrations step %v (want newest first)", d)
		}
		ms, _ := e.store.ListMigrations(ctx, bad.DeploymentID)
		for _, m := range ms {
			if m.RolledBackAt == nil || m.RollbackSuccessful == nil || !*m.RollbackSuccessful || m.ErrorMessage != nil {
				t.Errorf("migration %s: %+v", m.MigrationName, m)
			}
		}
	})
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestFailingMigrationScriptAborts: the first script (newest migration)
// fails; nothing in the application database changes, the rollback is
// aborted before the deployment or the executor are touched, and the next
// validation finds the database inconsistent.
func TestFailingMigrationScriptAborts(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		app := e.withAppDB(t, bad, true)
		before := tables(t, app)
		res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug", WithMigrations: true})
		if err != nil || res.Success || res.Status != roman.RollbackAborted || !strings.Contains(res.Error, "rollback script of migration 20251215_0002_user_email failed") {
			t.Fatalf("%+v %v", res, err)
		}
		if got := tables(t, app); !slices.Equal(got, before) {
			t.Fatalf("app tables changed: %v -> %v", before, got)
		}
		ev, _ := e.store.GetRollbackEvent(ctx, res.EventID)
		if ev.Status != roman.RollbackAborted || ev.CompletedAt == nil {
			t.Fatalf("event %+v", ev)
		}
		if d, _ := e.store.GetDeployment(ctx, bad.DeploymentID); d.Status != roman.StatusSuccess {
			t.Fatalf("the bad deployment was touched: %s", d.Status)
		}
		if len(e.exec.reqs) != 0 || len(e.rollbackRows(t, bad)) != 0 {
			t.Fatal("the executor ran or a deployment was recorded")
		}
		ms, _ := e.store.ListMigrations(ctx, bad.DeploymentID)
		if m := ms[1]; m.RollbackSuccessful == nil || *m.RollbackSuccessful || m.ErrorMessage == nil || !strings.Contains(*m.ErrorMessage, "no_such_column") {
			t.Fatalf("failed migration record %+v", m)
		}
		if ms[0].RolledBackAt != nil {
			t.Fatalf("the untouched migration was marked: %+v", ms[0])
		}
		v, err := e.svc.Validate(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "again"})
		if err != nil || v.Compliant || !slices.Contains(v.Violations, policy.MsgDatabaseInconsist) {
			t.Fatalf("next validation %+v %v", v, err)
		}
	})
}

func TestMigrationsRefused(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		e.withAppDB(t, bad, false)
		// Automatic rollbacks never touch the schema.
		_, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "spike", TriggerType: roman.TriggerAutomatic, WithMigrations: true})
		if roman.ErrorCode(err) != roman.EINVALID {
			t.Fatalf("automatic with_migrations: %v", err)
		}
		// Without an application database nothing is run.
		e.svc.Migrations = nil
		res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug", WithMigrations: true})
		var rej *roman.RejectedError
		if errors.As(err, &rej) || err != nil || res.Status != roman.RollbackAborted || !strings.Contains(res.Error, "ROMAN_APP_DATABASE") {
			t.Fatalf("%+v %v", res, err)
		}
		ms, _ := e.store.ListMigrations(ctx, bad.DeploymentID)
		if ms[0].RolledBackAt != nil || ms[1].RolledBackAt != nil {
			t.Fatal("migrations marked though nothing ran")
		}
	})
}

// TestDeadAppDatabaseDoesNotBlockRollback: the application database is
// unreachable, so the pre_rollback snapshot fails; the step records why
// and the rollback still runs to success.
func TestDeadAppDatabaseDoesNotBlockRollback(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		dead, err := appdb.Open("postgres://roman@127.0.0.1:1/app?sslmode=disable&connect_timeout=1")
		if err != nil {
			t.Fatal(err)
		}
		defer dead.Close()
		e.snaps.App = dead
		res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug"})
		if err != nil || res.Status != roman.RollbackSuccess || res.SnapshotID != "" {
			t.Fatalf("%+v %v", res, err)
		}
		ev, _ := e.store.GetRollbackEvent(ctx, res.EventID)
		snap := ev.RollbackSteps[1]
		if snap.Name != roman.StepSnapshot || snap.Status != roman.StepStatusFailed || !strings.Contains(string(snap.Detail), "error") {
			t.Fatalf("snapshot step %+v %s", snap, snap.Detail)
		}
	})
}

// lockedAppDB returns an application database on PostgreSQL whose table
// orders is locked (ACCESS EXCLUSIVE, as a running ALTER TABLE holds it)
// until the test ends, so reading or changing it waits.
func lockedAppDB(t *testing.T) *appdb.DB {
	t.Helper()
	ctx := context.Background()
	url := testpg.URL(t)
	app, err := appdb.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	if err := app.RunScripts(ctx, []string{`CREATE TABLE orders (id integer PRIMARY KEY)`}); err != nil {
		t.Fatal(err)
	}
	holder, err := appdb.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := holder.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `LOCK TABLE orders IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(); holder.Close() })
	return app
}

// executeWithin runs a rollback and fails the test if it has not answered
// within limit (a rollback that hangs would otherwise hang the suite).
func executeWithin(t *testing.T, svc *rollback.Service, req roman.RollbackRequest, limit time.Duration) (*roman.RollbackResult, error) {
	t.Helper()
	type answer struct {
		res *roman.RollbackResult
		err error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := svc.Execute(context.Background(), req)
		done <- answer{res, err}
	}()
	select {
	case a := <-done:
		return a.res, a.err
	case <-time.After(limit):
		t.Fatalf("the rollback did not answer within %s", limit)
		return nil, nil
	}
}

// TestHungAppDatabaseDoesNotBlockRollback: the application database does
// not answer (a lock held by a running migration), so the pre_rollback
// snapshot gives up after the snapshot timeout, records why, and the
// rollback runs to success.
func TestHungAppDatabaseDoesNotBlockRollback(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		e.snaps.App = lockedAppDB(t)
		e.snaps.Timeout = 200 * time.Millisecond
		res, err := executeWithin(t, e.svc, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug"}, 20*time.Second)
		if err != nil || res.Status != roman.RollbackSuccess || res.SnapshotID != "" {
			t.Fatalf("%+v %v", res, err)
		}
		ev, _ := e.store.GetRollbackEvent(ctx, res.EventID)
		snap := ev.RollbackSteps[1]
		if snap.Name != roman.StepSnapshot || snap.Status != roman.StepStatusFailed || !strings.Contains(string(snap.Detail), "did not answer within 200ms") {
			t.Fatalf("snapshot step %+v %s", snap, snap.Detail)
		}
	})
}

// TestHungMigrationScriptTimesOut: a rollback script that waits for a lock
// (a running migration holds it) is cancelled after the migration timeout:
// the transaction is rolled back, the rollback aborted, the migration marked
// failed with why, and the request answered.
func TestHungMigrationScriptTimesOut(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		script := `DROP TABLE orders`
		if err := e.store.CreateMigration(ctx, &roman.Migration{DeploymentID: bad.DeploymentID, MigrationName: "20251215_0001_orders",
			MigrationHash: "sha256:aa", AppliedAt: e.clock.Now().Add(-10 * time.Minute), RollbackScript: &script}); err != nil {
			t.Fatal(err)
		}
		e.svc.Migrations = lockedAppDB(t)
		e.svc.MigrationTimeout = 300 * time.Millisecond
		res, err := executeWithin(t, e.svc, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug", WithMigrations: true}, 20*time.Second)
		if err != nil || res.Status != roman.RollbackAborted || !strings.Contains(res.Error, "rollback script of migration 20251215_0001_orders did not finish within 300ms") {
			t.Fatalf("%+v %v", res, err)
		}
		if d, _ := e.store.GetDeployment(ctx, bad.DeploymentID); d.Status != roman.StatusSuccess {
			t.Fatalf("the bad deployment was touched: %s", d.Status)
		}
		ms, _ := e.store.ListMigrations(ctx, bad.DeploymentID)
		if m := ms[0]; m.RollbackSuccessful == nil || *m.RollbackSuccessful || m.ErrorMessage == nil || *m.ErrorMessage != "did not finish within 300ms" {
			t.Fatalf("migration record %+v", m)
		}
	})
}
