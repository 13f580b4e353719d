package sqldb_test

import (
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestJudgeCounts checks, on both stores, what the baseline judge reads:
// the replaced deployment, and errors in [from, to] with request samples in
// (from, to].
func TestJudgeCounts(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		old := newDeployment("production", "v1", t0.Add(-time.Hour), roman.StatusSuccess)
		failed := newDeployment("production", "v1.5", t0.Add(-30*time.Minute), roman.StatusFailed)
		d := newDeployment("production", "v2", t0, roman.StatusSuccess)
		mustCreate(t, db, old, failed, d)
		prev, err := db.PreviousDeployment(ctx, d)
		if err != nil || prev == nil || prev.DeploymentID != old.DeploymentID {
			t.Fatalf("previous of v2 = %+v, %v; want v1 (v1.5 failed)", prev, err)
		}
		if p, err := db.PreviousDeployment(ctx, old); err != nil || p != nil {
			t.Fatalf("previous of the first deployment = %+v, %v; want none", p, err)
		}
		var evs []roman.ErrorEvent
		for _, at := range []time.Duration{-time.Second, 0, time.Minute, 2 * time.Minute, 3 * time.Minute} {
			evs = append(evs, roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: "production", OccurredAt: t0.Add(at), Message: "boom", Severity: "error"})
		}
		if err := db.InsertErrorEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		var ms []roman.MetricSample
		for i, at := range []time.Duration{0, time.Minute, 2 * time.Minute, 4 * time.Minute} {
			ms = append(ms, roman.MetricSample{DeploymentID: d.DeploymentID, Environment: "production", Name: roman.MetricRequests, Value: float64(100 * (i + 1)), At: t0.Add(at)})
		}
		ms = append(ms, roman.MetricSample{DeploymentID: d.DeploymentID, Environment: "production", Name: "memory_usage_percent", Value: 50, At: t0.Add(time.Minute)})
		if err := db.InsertMetricSamples(ctx, ms); err != nil {
			t.Fatal(err)
		}
		c, err := db.JudgeCounts(ctx, d.DeploymentID, t0, t0.Add(3*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		// Errors at 0, 1m, 2m, 3m; requests at 1m and 2m (200 + 300).
		if c.Errors != 4 || c.Requests != 500 || c.RequestSamples != 2 || !c.RequestsUntil.Equal(t0.Add(2*time.Minute).Truncate(time.Microsecond)) {
			t.Errorf("counts %+v", c)
		}
		if c, err := db.JudgeCounts(ctx, old.DeploymentID, t0.Add(-time.Hour), t0); err != nil || c != (roman.JudgeCounts{}) {
			t.Errorf("no data: %+v %v", c, err)
		}
	})
}
