package sqldb_test

import (
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// errorTimes are the occurred_at of a deployment's errors around a check
// at `now`: on and next to every edge of the one- and five-minute windows
// and of the seconds they are cut at, several in one second, and old ones
// that a prune removes.
func errorTimes(now time.Time) []time.Time {
	us := time.Microsecond
	var out []time.Time
	for _, edge := range []time.Time{now, now.Add(-time.Minute), now.Add(-5 * time.Minute)} {
		sec := edge.Truncate(time.Second)
		for _, t := range []time.Time{edge.Add(-us), edge, edge.Add(us), sec, sec.Add(-us), sec.Add(time.Second),
			sec.Add(time.Second - us), sec.Add(-time.Second), sec.Add(2 * time.Second)} {
			out = append(out, t, t) // twice: one second holds several
		}
	}
	for i := 0; i < 400; i++ { // spread over the windows and before them
		out = append(out, now.Add(-time.Duration(i)*937*time.Millisecond-time.Duration(i)*us))
	}
	for i := 0; i < 30; i++ {
		out = append(out, now.Add(-48*time.Hour-time.Duration(i)*time.Second))
	}
	return out
}

// bruteCount counts the times in (from, to].
func bruteCount(times []time.Time, from, to time.Time) int64 {
	var n int64
	for _, t := range times {
		if t.After(from) && !t.After(to) {
			n++
		}
	}
	return n
}

// TestErrorCountsExact checks that the per-second counters (kept by
// triggers) and the raw rows at the windows' edges give exactly the raw
// count of each window, for errors inserted by the store and straight into
// the table, after a prune has deleted old ones, on both stores.
func TestErrorCountsExact(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		now := time.Date(2025, 6, 1, 12, 0, 0, 250_000_000, time.UTC).Add(337 * time.Microsecond)
		a, b := newDeployment("prod", "v1", now.Add(-time.Hour), roman.StatusSuccess), newDeployment("stage", "v1", now.Add(-time.Hour), roman.StatusSuccess)
		mustCreate(t, db, a, b)
		times := errorTimes(now)
		var evs []roman.ErrorEvent
		for i, at := range times {
			if i%3 == 0 {
				continue // inserted straight into the table below
			}
			evs = append(evs, roman.ErrorEvent{DeploymentID: a.DeploymentID, Environment: "prod", OccurredAt: at, Message: "boom", Severity: "error"})
		}
		if err := db.InsertErrorEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		for i, at := range times {
			if i%3 != 0 {
				continue
			}
			if _, err := db.SQL().ExecContext(ctx, db.Rebind(`INSERT INTO error_events (deployment_id, environment, occurred_at, message) VALUES (?, 'prod', ?, 'direct')`),
				a.DeploymentID, db.TimeArg(at)); err != nil {
				t.Fatal(err)
			}
		}
		// b's errors: a few in the last minute only.
		var bevs []roman.ErrorEvent
		for i := 0; i < 7; i++ {
			bevs = append(bevs, roman.ErrorEvent{DeploymentID: b.DeploymentID, Environment: "stage", OccurredAt: now.Add(-time.Duration(i) * 3 * time.Second), Message: "x", Severity: "error"})
		}
		if err := db.InsertErrorEvents(ctx, bevs); err != nil {
			t.Fatal(err)
		}
		// The prune deletes the 30 old errors of a, which the counters forget.
		if n, err := db.PruneErrorEvents(ctx, now.Add(-24*time.Hour), 1000); err != nil || n != 30 {
			t.Fatalf("prune = %d, %v; want 30", n, err)
		}
		kept := times[:0:0]
		for _, at := range times {
			if !at.Before(now.Add(-24 * time.Hour)) {
				kept = append(kept, at)
			}
		}
		var btimes []time.Time
		for _, e := range bevs {
			btimes = append(btimes, e.OccurredAt)
		}
		// The chart's buckets: whole seconds come from the counters, others
		// from the raw rows; both as the raw rows say, pruned ones gone.
		for _, c := range []struct {
			from time.Time
			step time.Duration
			n    int
		}{
			{now.Truncate(time.Second).Add(-6 * time.Minute), time.Second, 400},
			{now.Truncate(time.Minute).Add(-6 * time.Minute), 30 * time.Second, 14},
			{now.Truncate(time.Minute).Add(-7 * time.Minute), time.Minute, 9},
			{now.Truncate(time.Second).Add(-49 * time.Hour), time.Minute, 70},
			{now.Add(-6 * time.Minute), 1500 * time.Millisecond, 250},
		} {
			got, err := db.ErrorBuckets(ctx, a.DeploymentID, c.from, c.step, c.n)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				lo := c.from.Add(time.Duration(i) * c.step)
				var want int64
				for _, at := range kept {
					if !at.Before(lo) && at.Before(lo.Add(c.step)) {
						want++
					}
				}
				if got[i] != want {
					t.Errorf("ErrorBuckets(from %s, step %s)[%d] = %d, want %d", c.from.Format(time.RFC3339Nano), c.step, i, got[i], want)
					break
				}
			}
		}
		for _, at := range []time.Time{now, now.Truncate(time.Second), now.Add(-time.Minute), now.Add(-90 * time.Second).Add(time.Microsecond),
			now.Add(time.Second), now.Add(-4 * time.Minute), now.Add(3 * time.Minute)} {
			want1, want5 := bruteCount(kept, at.Add(-time.Minute), at), bruteCount(kept, at.Add(-5*time.Minute), at)
			got1, got5, err := db.CountErrors(ctx, a.DeploymentID, at)
			if err != nil || got1 != want1 || got5 != want5 {
				t.Errorf("CountErrors at %s = %d, %d, %v; want %d, %d", at.Format(time.RFC3339Nano), got1, got5, err, want1, want5)
			}
			batch, err := db.CountErrorsBatch(ctx, []string{a.DeploymentID, b.DeploymentID}, at)
			if err != nil {
				t.Fatal(err)
			}
			if got := batch[a.DeploymentID]; got.LastMinute != want1 || got.Last5Minutes != want5 {
				t.Errorf("CountErrorsBatch[a] at %s = %+v; want %d, %d", at.Format(time.RFC3339Nano), got, want1, want5)
			}
			wb1, wb5 := bruteCount(btimes, at.Add(-time.Minute), at), bruteCount(btimes, at.Add(-5*time.Minute), at)
			got, present := batch[b.DeploymentID]
			if got.LastMinute != wb1 || got.Last5Minutes != wb5 || present != (wb5 > 0) {
				t.Errorf("CountErrorsBatch[b] at %s = %+v (present %v); want %d, %d", at.Format(time.RFC3339Nano), got, present, wb1, wb5)
			}
		}
	})
}

// TestPruneKeepsCountersExact prunes old errors in small batches that end
// inside seconds and checks after every batch, on both stores, that the
// per-second counts (read through ErrorBuckets) are those of the rows left.
func TestPruneKeepsCountersExact(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		a, b := newDeployment("prod", "v1", base, roman.StatusSuccess), newDeployment("stage", "v1", base, roman.StatusSuccess)
		mustCreate(t, db, a, b)
		var evs []roman.ErrorEvent
		for i := 0; i < 60; i++ {
			d := a
			if i%3 == 0 {
				d = b
			}
			evs = append(evs, roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: d.Environment, Message: "old", Severity: "error",
				OccurredAt: base.Add(time.Duration(i/10)*time.Second + time.Duration(i*7919%1000)*time.Millisecond)})
		}
		if err := db.InsertErrorEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		for batch := 0; ; batch++ {
			n, err := db.PruneErrorEvents(ctx, base.Add(4*time.Second+500*time.Millisecond), 7)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []*roman.Deployment{a, b} {
				got, err := db.ErrorBuckets(ctx, d.DeploymentID, base, time.Second, 7)
				if err != nil {
					t.Fatal(err)
				}
				want := make([]int64, 7)
				rows, err := db.SQL().QueryContext(ctx, db.Rebind(`SELECT occurred_at FROM error_events WHERE deployment_id = ?`), d.DeploymentID)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var at time.Time
					if err := rows.Scan(sqldb.ScanTime(&at)); err != nil {
						t.Fatal(err)
					}
					want[int(at.Sub(base)/time.Second)]++
				}
				rows.Close()
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("after batch %d: counts of %s = %v, rows left say %v", batch, d.Environment, got, want)
					}
				}
			}
			if n < 7 {
				break
			}
		}
	})
}
