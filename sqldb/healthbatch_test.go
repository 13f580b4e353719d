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
