package sqldb_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// drainPrune calls prune with batches of limit until one deletes fewer,
// and returns the total and the batch sizes.
func drainPrune(t *testing.T, what string, limit int, prune func(limit int) (int64, error)) (int64, []int64) {
	t.Helper()
	var total int64
	var batches []int64
	for {
		n, err := prune(limit)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n > int64(limit) {
			t.Fatalf("%s deleted %d rows in a batch of %d", what, n, limit)
		}
		total += n
		batches = append(batches, n)
		if n < int64(limit) {
			return total, batches
		}
	}
}

// TestPruneNewErrorTables checks on both stores, with explicit times, that
// the error groups go by the time of their newest event, and a first
// sighting only once no release of its (service, environment) has a group
// of the fingerprint: a fingerprint still seen within the retention stays
// known (its first release too), one not seen for the whole retention is
// new again when it comes back.
func TestPruneNewErrorTables(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		cutoff := t0.Add(35 * 24 * time.Hour)
		v1 := newDeployment("production", "v1", t0, roman.StatusSuccess)
		v2 := newDeployment("production", "v2", t0.Add(10*24*time.Hour), roman.StatusSuccess)
		v3 := newDeployment("production", "v3", cutoff.Add(24*time.Hour), roman.StatusSuccess)
		other := newDeployment("staging", "v1", t0, roman.StatusSuccess)
		mustCreate(t, db, v1, v2, v3, other)
		ev := func(d *roman.Deployment, fp string, at time.Time) roman.ErrorEvent {
			return roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: d.Environment, OccurredAt: at, Message: "boom " + fp,
				Severity: "error", Fingerprint: fp}
		}
		old := t0.Add(time.Hour)
		if err := db.InsertErrorEvents(ctx, []roman.ErrorEvent{
			ev(v1, "fp-gone", old), ev(v1, "fp-gone", old.Add(time.Minute)),
			ev(v1, "fp-kept", old),
			ev(v2, "fp-kept", cutoff.Add(time.Hour)), // seen again within the retention
			// The same fingerprint in another environment does not keep
			// production's first sighting.
			ev(other, "fp-gone", cutoff.Add(time.Hour)),
		}); err != nil {
			t.Fatal(err)
		}
		// Marked new with no events: forgotten after the retention, kept
		// within it.
		if err := db.MarkNewFingerprint(ctx, v2.DeploymentID, "fp-marked-old", old); err != nil {
			t.Fatal(err)
		}
		if err := db.MarkNewFingerprint(ctx, v2.DeploymentID, "fp-marked-new", cutoff.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		groupsBefore := count(t, db, "deployment_fingerprints")
		firstsBefore := count(t, db, "error_fingerprints")
		if groupsBefore != 4 || firstsBefore != 5 {
			t.Fatalf("stored %d groups and %d first sightings, want 4 and 5", groupsBefore, firstsBefore)
		}

		// First sightings before the groups: nothing can go yet except
		// what has no group at all (the old mark).
		if n, _ := drainPrune(t, "PruneErrorFingerprints", 10, func(l int) (int64, error) { return db.PruneErrorFingerprints(ctx, cutoff, l) }); n != 1 {
			t.Fatalf("first sightings pruned before the groups: %d, want 1 (the old mark)", n)
		}
		n, batches := drainPrune(t, "PruneDeploymentFingerprints", 1, func(l int) (int64, error) { return db.PruneDeploymentFingerprints(ctx, cutoff, l) })
		if n != 2 || len(batches) != 3 {
			t.Fatalf("PruneDeploymentFingerprints = %d in batches %v, want 2 in 1, 1, 0", n, batches)
		}
		if n, _ := drainPrune(t, "PruneErrorFingerprints", 10, func(l int) (int64, error) { return db.PruneErrorFingerprints(ctx, cutoff, l) }); n != 1 {
			t.Fatalf("first sightings pruned after the groups: %d, want 1 (fp-gone in production)", n)
		}
		if g, f := count(t, db, "deployment_fingerprints"), count(t, db, "error_fingerprints"); g != 2 || f != 3 {
			t.Fatalf("left %d groups and %d first sightings, want 2 (v2 fp-kept, staging fp-gone) and 3", g, f)
		}

		// v3 has both fingerprints: fp-kept is known (first on v1, still
		// remembered through v2's group), fp-gone is new again.
		if err := db.InsertErrorEvents(ctx, []roman.ErrorEvent{ev(v3, "fp-kept", v3.DeployedAt.Add(time.Minute)),
			ev(v3, "fp-gone", v3.DeployedAt.Add(time.Minute)), ev(v3, "fp-gone", v3.DeployedAt.Add(2*time.Minute))}); err != nil {
			t.Fatal(err)
		}
		gs, err := db.DeploymentErrors(ctx, v3.DeploymentID, roman.ErrorGroupFilter{})
		if err != nil {
			t.Fatal(err)
		}
		byFP := map[string]roman.ErrorGroup{}
		for _, g := range gs {
			byFP[g.Fingerprint] = g
		}
		if g := byFP["fp-kept"]; g.New || g.FirstDeploymentID != v1.DeploymentID {
			t.Errorf("fp-kept on v3: %+v, want known, first on v1", g)
		}
		if g := byFP["fp-gone"]; !g.New || g.FirstDeploymentID != v3.DeploymentID || g.Count != 2 {
			t.Errorf("fp-gone on v3: %+v, want new on v3 with 2 events", g)
		}
		news, err := db.NewErrorsBatch(ctx, []string{v3.DeploymentID})
		if err != nil {
			t.Fatal(err)
		}
		if c := news[v3.DeploymentID]; c.Events != 2 || c.Fingerprints != 1 {
			t.Errorf("new errors of v3 = %+v, want 2 events of 1 fingerprint", c)
		}
	})
}

// TestPruneErrorSecondsJudgementsInteractions checks on both stores that
// stale per-second counters, superseded verdict-change judgements and
// expired Discord interactions are pruned in batches, and that the newest
// verdict of each deployment and mode, decision judgements and the counters
// and interactions still in use are kept.
func TestPruneErrorSecondsJudgementsInteractions(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		cutoff := t0.Add(35 * 24 * time.Hour)
		d := newDeployment("production", "v1", t0, roman.StatusSuccess)
		d2 := newDeployment("production", "v2", t0.Add(24*time.Hour), roman.StatusSuccess)
		mustCreate(t, db, d, d2)

		// Counters left behind by rows deleted without the pruner (as an
		// application may, and SQLite has no delete trigger), before and
		// after the cutoff.
		for _, at := range []time.Time{t0.Add(time.Hour), t0.Add(2 * time.Hour), cutoff.Add(-time.Second), cutoff.Add(time.Hour)} {
			if _, err := db.SQL().Exec(db.Rebind(`INSERT INTO error_seconds (deployment_id, second, n) VALUES (?, ?, 3)`), d.DeploymentID, secondOf(db, at)); err != nil {
				t.Fatal(err)
			}
		}
		// The second of the cutoff itself is kept: part of it is younger.
		if _, err := db.SQL().Exec(db.Rebind(`INSERT INTO error_seconds (deployment_id, second, n) VALUES (?, ?, 1)`), d2.DeploymentID,
			secondOf(db, cutoff)); err != nil {
			t.Fatal(err)
		}
		n, batches := drainPrune(t, "PruneErrorSeconds", 2, func(l int) (int64, error) { return db.PruneErrorSeconds(ctx, cutoff, l) })
		if n != 3 || len(batches) != 2 {
			t.Fatalf("PruneErrorSeconds = %d in batches %v, want 3 in 2, 1", n, batches)
		}
		if c := count(t, db, "error_seconds"); c != 2 {
			t.Fatalf("%d counters left, want 2 (the cutoff's second and the one after)", c)
		}

		// Judgements are audit rows: no prune of the judge's tables touches
		// them, however old.
		judgement := func(dep *roman.Deployment, record string, shadow bool, at time.Time) {
			md, _ := json.Marshal(map[string]any{"deployment_id": dep.DeploymentID, "record": record, "shadow": shadow,
				"judgement": map[string]any{"judge": "baseline", "verdict": "pass", "shadow": shadow}})
			e := &roman.RomanEvent{EventID: roman.NewUUID(), EventType: roman.EventHealthJudgement, Severity: roman.SeverityInfo,
				Message: "Judge baseline: " + record, Metadata: md, Timestamp: at}
			if err := db.AddRomanEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		judgement(d, "verdict", false, t0.Add(time.Hour))
		judgement(d, "window_end", false, t0.Add(90*time.Minute))
		judgement(d, "verdict", false, t0.Add(2*time.Hour))
		judgement(d2, "verdict", true, t0.Add(time.Hour))
		for _, prune := range []func(context.Context, time.Time, int) (int64, error){db.PruneErrorSeconds,
			db.PruneDeploymentFingerprints, db.PruneErrorFingerprints, db.PruneInteractions} {
			if _, err := prune(ctx, cutoff.Add(24*time.Hour), 1000); err != nil {
				t.Fatal(err)
			}
		}
		if evs, err := db.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventHealthJudgement}); err != nil || len(evs) != 4 {
			t.Fatalf("judgements left after the prunes: %d (%v), want all 4", len(evs), err)
		}

		// Interactions: three expired before the cutoff, one after.
		for i, exp := range []time.Time{t0, t0.Add(time.Minute), cutoff.Add(-time.Minute), cutoff.Add(time.Minute)} {
			if first, _, err := db.ClaimInteraction(ctx, "interaction-"+string(rune('a'+i)), exp, t0.Add(-time.Hour)); err != nil || !first {
				t.Fatalf("ClaimInteraction: %v %v", first, err)
			}
		}
		n, batches = drainPrune(t, "PruneInteractions", 2, func(l int) (int64, error) { return db.PruneInteractions(ctx, cutoff, l) })
		if n != 3 || len(batches) != 2 {
			t.Fatalf("PruneInteractions = %d in batches %v, want 3 in 2, 1", n, batches)
		}
		if first, _, err := db.ClaimInteraction(ctx, "interaction-d", cutoff.Add(time.Hour), cutoff); err != nil || first {
			t.Fatalf("the unexpired interaction was forgotten: first claim again = %v, %v", first, err)
		}
	})
}

// count returns the number of rows of table.
func count(t *testing.T, db *sqldb.DB, table string) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// secondOf is at's second as error_seconds stores it.
func secondOf(db *sqldb.DB, at time.Time) any {
	if db.Dialect() == sqldb.DialectSQLite {
		return at.UTC().Format("2006-01-02T15:04:05")
	}
	return at.UTC().Truncate(time.Second)
}
