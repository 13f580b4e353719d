package sqldb_test

import (
	"context"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestStats runs the aggregate queries of the dashboard and /metrics on both
// stores against rows whose answers are known.
func TestStats(t *testing.T) {
	eachDB(t, testStats)
}

func testStats(t *testing.T, db *sqldb.DB) {
	ctx := context.Background()
	base := time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)
	dep := func(env, version, status string, at time.Time) *roman.Deployment {
		t.Helper()
		d := &roman.Deployment{Environment: env, Version: version, GitCommit: "a7f3b29", GitBranch: "main", Status: status, DeployedAt: at}
		if err := db.CreateDeployment(ctx, d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	// production: an old and a new success (current), a failed one after
	// them (not current), staging: one success, qa: only in progress.
	dep("production", "v2.5.1", roman.StatusSuccess, base.Add(-2*time.Hour))
	prodCurrent := dep("production", "v2.5.2", roman.StatusSuccess, base.Add(-time.Hour))
	bad := dep("production", "v2.5.3", roman.StatusFailed, base)
	stagingCurrent := dep("staging", "v9", roman.StatusSuccess, base.Add(-3*time.Hour))
	dep("qa", "v1", roman.StatusInProgress, base)

	active, err := db.ActiveDeployments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 2 || active[0].DeploymentID != prodCurrent.DeploymentID || active[1].DeploymentID != stagingCurrent.DeploymentID {
		t.Fatalf("active deployments: %+v", active)
	}
	counts, err := db.CountDeployments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []roman.DeploymentCount{
		{Environment: "production", Service: "default", Status: "failed", Count: 1}, {Environment: "production", Service: "default", Status: "success", Count: 2},
		{Environment: "qa", Service: "default", Status: "in_progress", Count: 1}, {Environment: "staging", Service: "default", Status: "success", Count: 1},
	}
	if !reflect.DeepEqual(counts, want) {
		t.Fatalf("deployment counts: %+v, want %+v", counts, want)
	}

	// Rollback events: durations 1.5 s and 4 s (success), 30 s (failed),
	// 0.01 s (aborted), one unfinished, and one success before the range.
	ev := func(env, trigger, status string, at time.Time, dur time.Duration) {
		t.Helper()
		e := &roman.RollbackEvent{DeploymentID: bad.DeploymentID, Environment: env, TriggerType: trigger, TriggerReason: "r", InitiatedAt: at, Status: status}
		if status != roman.RollbackInProgress {
			done := at.Add(dur)
			e.CompletedAt = &done
		}
		if err := db.CreateRollbackEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	ev("production", "automatic", "success", base.Add(time.Minute), 1500*time.Millisecond)
	ev("production", "automatic", "success", base.Add(2*time.Minute), 4*time.Second)
	ev("production", "manual", "failed", base.Add(3*time.Minute), 30*time.Second)
	ev("staging", "automatic", "aborted", base.Add(4*time.Minute), 10*time.Millisecond)
	ev("staging", "manual", "in_progress", base.Add(5*time.Minute), 0)
	ev("production", "manual", "success", base.Add(-48*time.Hour), 100*time.Second)

	outcomes, err := db.RollbackOutcomes(ctx, []float64{0.05, 2, 10})
	if err != nil {
		t.Fatal(err)
	}
	wantOutcomes := []roman.RollbackOutcome{
		{Environment: "production", Service: "default", TriggerType: "automatic", Status: "success", Count: 2, DurationSum: 5.5, Buckets: []int64{0, 1, 2}},
		{Environment: "production", Service: "default", TriggerType: "manual", Status: "failed", Count: 1, DurationSum: 30, Buckets: []int64{0, 0, 0}},
		{Environment: "production", Service: "default", TriggerType: "manual", Status: "success", Count: 1, DurationSum: 100, Buckets: []int64{0, 0, 0}},
		{Environment: "staging", Service: "default", TriggerType: "automatic", Status: "aborted", Count: 1, DurationSum: 0.01, Buckets: []int64{1, 1, 1}},
	}
	if len(outcomes) != len(wantOutcomes) {
		t.Fatalf("outcomes: %+v", outcomes)
	}
	for i, o := range outcomes {
		w := wantOutcomes[i]
		if math.Abs(o.DurationSum-w.DurationSum) > 0.001 {
			t.Errorf("outcome %d duration sum %v, want %v", i, o.DurationSum, w.DurationSum)
		}
		o.DurationSum = w.DurationSum
		if !reflect.DeepEqual(o, w) {
			t.Errorf("outcome %d: %+v, want %+v", i, o, w)
		}
	}

	// Validations: two approved, one rejected in range, one approved
	// before it, and an unrelated event.
	val := func(sev string, at time.Time, typ string) {
		t.Helper()
		if err := db.AddRomanEvent(ctx, &roman.RomanEvent{EventID: roman.NewUUID(), EventType: typ, Severity: sev, Message: "m", Timestamp: at}); err != nil {
			t.Fatal(err)
		}
	}
	val(roman.SeverityInfo, base.Add(time.Minute), roman.EventRollbackValidation)
	val(roman.SeverityInfo, base.Add(2*time.Minute), roman.EventRollbackValidation)
	val(roman.SeverityError, base.Add(4*time.Minute), roman.EventRollbackValidation)
	val(roman.SeverityInfo, base.Add(-48*time.Hour), roman.EventRollbackValidation)
	val(roman.SeverityError, base.Add(time.Minute), roman.EventRollbackFailed)

	st, err := db.RollbackStats(ctx, base.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 5 || st.Succeeded != 2 || st.Failed != 1 || st.Aborted != 1 || st.Unfinished != 1 ||
		st.Validations != 3 || st.Approved != 2 {
		t.Fatalf("stats: %+v", st)
	}
	if st.SuccessRate == nil || math.Abs(*st.SuccessRate-2.0/3) > 1e-9 {
		t.Errorf("success rate: %v", st.SuccessRate)
	}
	if st.AverageDurationSeconds == nil || math.Abs(*st.AverageDurationSeconds-2.75) > 0.001 {
		t.Errorf("average duration: %v", st.AverageDurationSeconds)
	}
	if st.ApprovalRate == nil || math.Abs(*st.ApprovalRate-2.0/3) > 1e-9 {
		t.Errorf("approval rate: %v", st.ApprovalRate)
	}
	empty, err := db.RollbackStats(ctx, base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if empty.Total != 0 || empty.SuccessRate != nil || empty.AverageDurationSeconds != nil || empty.ApprovalRate != nil {
		t.Errorf("an empty range must have no rates: %+v", empty)
	}
	approved, rejected, err := db.CountValidations(ctx)
	if err != nil || approved != 3 || rejected != 1 {
		t.Errorf("validations: %d approved, %d rejected, %v", approved, rejected, err)
	}

	// Errors: bucket edges are inclusive at the start and exclusive at the
	// end; events outside the range and of other deployments do not count.
	errs := []roman.ErrorEvent{}
	add := func(id string, at time.Time) {
		errs = append(errs, roman.ErrorEvent{DeploymentID: id, Environment: "production", OccurredAt: at, Message: "boom", Severity: "error"})
	}
	add(bad.DeploymentID, base)                                      // bucket 0 (inclusive start)
	add(bad.DeploymentID, base.Add(9999*time.Millisecond))           // bucket 0
	add(bad.DeploymentID, base.Add(10*time.Second))                  // bucket 1
	add(bad.DeploymentID, base.Add(25*time.Second+time.Microsecond)) // bucket 2
	add(bad.DeploymentID, base.Add(59*time.Second))                  // bucket 5
	add(bad.DeploymentID, base.Add(60*time.Second))                  // past the end
	add(bad.DeploymentID, base.Add(-time.Microsecond))               // before the start
	add(prodCurrent.DeploymentID, base.Add(time.Second))             // another deployment
	if err := db.InsertErrorEvents(ctx, errs); err != nil {
		t.Fatal(err)
	}
	got, err := db.ErrorBuckets(ctx, bad.DeploymentID, base, 10*time.Second, 6)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{2, 1, 1, 0, 0, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("error buckets: %v, want %v", got, want)
	}
	if _, err := db.ErrorBuckets(ctx, bad.DeploymentID, base, 0, 6); roman.ErrorCode(err) != roman.EINVALID {
		t.Errorf("zero step: %v", err)
	}

	// Outbox depth counts alerts neither delivered nor given up.
	if n, err := db.OutboxDepth(ctx); err != nil || n != 0 {
		t.Fatalf("empty outbox: %d %v", n, err)
	}
	for i, state := range []string{"pending", "pending", "delivered", "failed"} {
		var delivered, failed any
		switch state {
		case "delivered":
			delivered = db.TimeArg(base)
		case "failed":
			failed = db.TimeArg(base)
		}
		if _, err := db.SQL().ExecContext(ctx, db.Rebind(`INSERT INTO alert_outbox (kind, payload, channel, event_id, delivered_at, failed_at)
			VALUES (?, ?, ?, ?, ?, ?)`), "rollback_triggered", `{}`, "discord", roman.NewUUID(), delivered, failed); err != nil {
			t.Fatalf("outbox row %d: %v", i, err)
		}
	}
	if n, err := db.OutboxDepth(ctx); err != nil || n != 2 {
		t.Fatalf("outbox depth: %d %v", n, err)
	}
}
