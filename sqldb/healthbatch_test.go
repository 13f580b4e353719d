package sqldb_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestHealthBatch checks, on both stores, that the batch reads of the
// monitor answer exactly what the per-deployment reads answer, window
// edges and ties included, keyed by the ids as given.
func TestHealthBatch(t *testing.T) {
	eachDB(t, testHealthBatch)
}

func testHealthBatch(t *testing.T, db *sqldb.DB) {
	now := t0
	var ids []string
	for i, env := range []string{"a", "b", "c", "d"} {
		d := newDeployment(env, "v1", now.Add(-time.Hour), roman.StatusSuccess)
		mustCreate(t, db, d)
		ids = append(ids, d.DeploymentID)
		var evs []roman.ErrorEvent
		var ss []roman.MetricSample
		for _, age := range []time.Duration{0, time.Second, time.Minute, time.Minute + time.Microsecond, 5 * time.Minute, 4 * time.Minute, -time.Second, time.Hour}[:2*i] {
			evs = append(evs, roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: env, OccurredAt: now.Add(-age), Message: "boom", Severity: "error"})
		}
		for j, name := range []string{"memory_usage_percent", "p95_response_time_ms", "old_only"}[:i] {
			at := now.Add(-time.Duration(j+1) * time.Minute)
			if name == "old_only" {
				at = now.Add(-10 * time.Minute)
			}
			ss = append(ss,
				roman.MetricSample{DeploymentID: d.DeploymentID, Environment: env, Name: name, Value: float64(10 * i), At: at},
				roman.MetricSample{DeploymentID: d.DeploymentID, Environment: env, Name: name, Value: float64(10*i + 1), At: at}, // same time: the later insert wins
				roman.MetricSample{DeploymentID: d.DeploymentID, Environment: env, Name: name, Value: 999, At: now.Add(time.Second)})
		}
		if len(evs) > 0 {
			if err := db.InsertErrorEvents(ctx, evs); err != nil {
				t.Fatal(err)
			}
		}
		if len(ss) > 0 {
			if err := db.InsertMetricSamples(ctx, ss); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The ids as a caller may give them: one in upper case, one twice, an
	// unknown one and one that is not a UUID.
	given := append([]string{strings.ToUpper(ids[0])}, ids[1:]...)
	given = append(given, ids[2], roman.NewUUID(), "not-a-uuid")

	counts, err := db.CountErrorsBatch(ctx, given, now)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[string]roman.ErrorCounts{}
	latest, err := db.LatestMetricsBatch(ctx, given, now.Add(-5*time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	wantLatest := map[string]map[string]float64{}
	for _, id := range given {
		one, five, err := db.CountErrors(ctx, id, now)
		if err != nil {
			t.Fatal(err)
		}
		if five > 0 {
			wantCounts[id] = roman.ErrorCounts{LastMinute: one, Last5Minutes: five}
		}
		m, err := db.LatestMetrics(ctx, id, now.Add(-5*time.Minute), now)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) > 0 {
			wantLatest[id] = m
		}
	}
	if len(wantCounts) != 3 || len(wantLatest) != 3 {
		t.Fatalf("the data does not cover enough cases: %v %v", wantCounts, wantLatest)
	}
	if !reflect.DeepEqual(counts, wantCounts) {
		t.Errorf("CountErrorsBatch = %v, want %v", counts, wantCounts)
	}
	if !reflect.DeepEqual(latest, wantLatest) {
		t.Errorf("LatestMetricsBatch = %v, want %v", latest, wantLatest)
	}
	// Spot checks against hand-computed values, so the comparison above
	// cannot pass with both sides wrong.
	if c := counts[ids[3]]; c.LastMinute != 2 || c.Last5Minutes != 5 {
		t.Errorf("counts of the fourth deployment = %+v, want 2 in the last minute (now-1m is out), 5 in five (now-5m is out)", c)
	}
	if m := latest[ids[3]]; len(m) != 2 || m["memory_usage_percent"] != 31 || m["p95_response_time_ms"] != 31 {
		t.Errorf("latest metrics of the fourth deployment = %v", m)
	}
	if got, err := db.CountErrorsBatch(ctx, nil, now); err != nil || len(got) != 0 {
		t.Errorf("empty batch: %v %v", got, err)
	}
	if got, err := db.LatestMetricsBatch(ctx, []string{"x"}, now, now); err != nil || len(got) != 0 {
		t.Errorf("batch of a malformed id: %v %v", got, err)
	}
}

// TestErrorPeaks checks, on both stores, the busiest minute and five
// minutes of a deployment's errors in a range: windows are (t-1m, t] and
// (t-5m, t] ending at an error, the range bounds are inclusive, and other
// deployments' errors do not count.
func TestErrorPeaks(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		d := newDeployment("production", "v2", t0, roman.StatusSuccess)
		other := newDeployment("staging", "v2", t0, roman.StatusSuccess)
		mustCreate(t, db, d, other)
		var evs []roman.ErrorEvent
		add := func(dep *roman.Deployment, at time.Time, n int) {
			for range n {
				evs = append(evs, roman.ErrorEvent{DeploymentID: dep.DeploymentID, Environment: dep.Environment, OccurredAt: at, Message: "boom", Severity: "error"})
			}
		}
		// Three at +10s, four at +50s (seven in one minute), three at
		// +70s: the minute ending at +70s holds the +50s and +70s errors
		// only (+10s is exactly 60 s earlier, outside (t-1m, t]).
		add(d, t0.Add(10*time.Second), 3)
		add(d, t0.Add(50*time.Second), 4)
		add(d, t0.Add(70*time.Second), 3)
		// Five more spread over the next four minutes: the five minutes
		// ending at +4m50s hold all fifteen.
		for i := range 5 {
			add(d, t0.Add(2*time.Minute+time.Duration(i)*40*time.Second), 1)
		}
		add(other, t0.Add(20*time.Second), 50)
		add(d, t0.Add(-time.Second), 9) // before the range
		if err := db.InsertErrorEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		p, err := db.ErrorPeaks(ctx, d.DeploymentID, t0, t0.Add(5*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		last := t0.Add(2*time.Minute + 4*40*time.Second)
		if p.Minute != 7 || !p.MinuteAt.Equal(t0.Add(50*time.Second).Truncate(time.Microsecond)) ||
			p.FiveMinutes != 15 || !p.FiveMinutesAt.Equal(last.Truncate(time.Microsecond)) {
			t.Fatalf("peaks %+v", p)
		}
		if p, err := db.ErrorPeaks(ctx, roman.NewUUID(), t0, t0.Add(time.Hour)); err != nil || p != (roman.ErrorPeaks{}) {
			t.Fatalf("no errors: %+v %v", p, err)
		}
	})
}
