package sqldb_test

import (
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestJudgeCountsEitherAlone: JudgeCounts reads errors and request samples
// in one statement; each is counted when the other has nothing in the
// window, on both stores.
func TestJudgeCountsEitherAlone(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		errs := newDeployment("production", "v1", t0, roman.StatusSuccess)
		reqs := newDeployment("staging", "v1", t0, roman.StatusSuccess)
		mustCreate(t, db, errs, reqs)
		var evs []roman.ErrorEvent
		for i := range 7 {
			evs = append(evs, roman.ErrorEvent{DeploymentID: errs.DeploymentID, Environment: "production", OccurredAt: t0.Add(time.Duration(i) * time.Minute), Message: "boom", Severity: "error"})
		}
		if err := db.InsertErrorEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		// Samples of the other name, and of requests outside the window,
		// do not count.
		ms := []roman.MetricSample{
			{DeploymentID: errs.DeploymentID, Environment: "production", Name: "memory_usage_percent", Value: 50, At: t0.Add(time.Minute)},
			{DeploymentID: errs.DeploymentID, Environment: "production", Name: roman.MetricRequests, Value: 10, At: t0.Add(time.Hour)},
		}
		for i := range 3 {
			ms = append(ms, roman.MetricSample{DeploymentID: reqs.DeploymentID, Environment: "staging", Name: roman.MetricRequests, Value: 0.5 + float64(i), At: t0.Add(time.Duration(i+1) * time.Minute)})
		}
		if err := db.InsertMetricSamples(ctx, ms); err != nil {
			t.Fatal(err)
		}
		c, err := db.JudgeCounts(ctx, errs.DeploymentID, t0, t0.Add(5*time.Minute))
		if err != nil || c != (roman.JudgeCounts{Errors: 6}) {
			t.Errorf("errors without request samples: %+v %v; want 6 errors (0 to 5 minutes) and no samples", c, err)
		}
		c, err = db.JudgeCounts(ctx, reqs.DeploymentID, t0, t0.Add(5*time.Minute))
		if err != nil || c.Errors != 0 || c.Requests != 4.5 || c.RequestSamples != 3 || !c.RequestsUntil.Equal(t0.Add(3*time.Minute).Truncate(time.Microsecond)) {
			t.Errorf("request samples without errors: %+v %v; want 0.5+1.5+2.5 in 3 samples, the newest at 3 minutes", c, err)
		}
	})
}
