package sqldb_test

import (
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestFingerprintUnmarked checks on both stores that error events inserted
// straight into error_events without a fingerprint get roman's own (the
// one ingest computes for the same message) in batches, are grouped into
// their release's groups and first sightings, count as new errors, and are
// never counted twice; an event of an unknown deployment gets its
// fingerprint and no group.
func TestFingerprintUnmarked(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		v1 := newDeployment("production", "v1", t0, roman.StatusSuccess)
		v2 := newDeployment("production", "v2", t0.Add(time.Hour), roman.StatusSuccess)
		mustCreate(t, db, v1, v2)
		known := "TypeError: cart is undefined"
		// v1 had the known error through ingest (with roman's fingerprint).
		if err := db.InsertErrorEvents(ctx, []roman.ErrorEvent{{DeploymentID: v1.DeploymentID, Environment: "production",
			OccurredAt: t0.Add(time.Minute), Message: known, Fingerprint: roman.Fingerprint("", known, "")}}); err != nil {
			t.Fatal(err)
		}
		raw := func(id, msg string, at time.Time) {
			t.Helper()
			if _, err := db.SQL().ExecContext(ctx, db.Rebind(`INSERT INTO error_events (deployment_id, occurred_at, message) VALUES (?, ?, ?)`),
				id, at.UTC().Format(time.RFC3339Nano), msg); err != nil {
				t.Fatal(err)
			}
		}
		at := v2.DeployedAt.Add(time.Minute)
		// Two new errors of one shape (numbers differ) and one known, and
		// one of a deployment that does not exist.
		raw(v2.DeploymentID, "payment 4411 declined", at)
		raw(v2.DeploymentID, "payment 97 declined", at.Add(time.Second))
		raw(v2.DeploymentID, known, at.Add(2*time.Second))
		raw(roman.NewUUID(), "orphan", at)

		if gs, err := db.DeploymentErrors(ctx, v2.DeploymentID, roman.ErrorGroupFilter{}); err != nil || len(gs) != 0 {
			t.Fatalf("groups before the backfill: %+v, %v", gs, err)
		}
		n, deps, err := db.FingerprintUnmarked(ctx, 3)
		if err != nil || n != 3 || len(deps) != 1 || deps[0] != v2.DeploymentID {
			t.Fatalf("first batch = %d, %v, %v; want 3 rows of v2", n, deps, err)
		}
		if n, deps, err := db.FingerprintUnmarked(ctx, 3); err != nil || n != 1 || len(deps) != 0 {
			t.Fatalf("second batch = %d, %v, %v; want the orphan, no deployment", n, deps, err)
		}
		if n, _, err := db.FingerprintUnmarked(ctx, 3); err != nil || n != 0 {
			t.Fatalf("third batch = %d, %v; want nothing left", n, err)
		}

		gs, err := db.DeploymentErrors(ctx, v2.DeploymentID, roman.ErrorGroupFilter{})
		if err != nil || len(gs) != 2 {
			t.Fatalf("groups of v2: %+v, %v", gs, err)
		}
		payment := roman.Fingerprint("", "payment 1 declined", "")
		for _, g := range gs {
			switch g.Fingerprint {
			case payment:
				if !g.New || g.Count != 2 || g.FirstDeploymentID != v2.DeploymentID || g.Message != "payment 4411 declined" {
					t.Errorf("the new group: %+v", g)
				}
			case roman.Fingerprint("", known, ""):
				if g.New || g.Count != 1 || g.FirstDeploymentID != v1.DeploymentID {
					t.Errorf("the known group: %+v", g)
				}
			default:
				t.Errorf("unexpected group %+v", g)
			}
		}
		news, err := db.NewErrorsBatch(ctx, []string{v2.DeploymentID})
		if c := news[v2.DeploymentID]; err != nil || c.Events != 2 || c.Fingerprints != 1 {
			t.Fatalf("new errors of v2 = %+v, %v; want 2 events of 1 fingerprint", c, err)
		}
		var empty int
		if err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM error_events WHERE fingerprint = ''`).Scan(&empty); err != nil || empty != 0 {
			t.Fatalf("%d events still without a fingerprint (%v)", empty, err)
		}
	})
}
