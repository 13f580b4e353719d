package sqldb_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// newRollback records a deployment of env and returns an unsaved pending
// rollback event for it.
func newRollback(t *testing.T, db *sqldb.DB, env string) *roman.RollbackEvent {
	t.Helper()
	d := newDeployment(env, "bad-"+env, t0, roman.StatusSuccess)
	mustCreate(t, db, d)
	return &roman.RollbackEvent{
		EventID: roman.NewUUID(), DeploymentID: d.DeploymentID, Environment: env,
		TriggerType: roman.TriggerManual, TriggerReason: "error spike", InitiatedAt: t0,
		Status: roman.RollbackPending,
	}
}

func testOneUnfinishedRollback(t *testing.T, db *sqldb.DB) {
	first := newRollback(t, db, "production")
	if err := db.CreateRollbackEvent(ctx, first); err != nil {
		t.Fatal(err)
	}
	if first.ID == 0 {
		t.Fatal("CreateRollbackEvent did not fill ID")
	}
	second := newRollback(t, db, "production")
	err := db.CreateRollbackEvent(ctx, second)
	re := wantCode(t, err, roman.ECONFLICT)
	if re.EventID != first.EventID {
		t.Errorf("conflict EventID = %q, want the first event %q", re.EventID, first.EventID)
	}
	if re.Message != "a rollback of environment production is already in progress" {
		t.Errorf("message = %q", re.Message)
	}
	// Another environment is independent; in_progress is unfinished too.
	other := newRollback(t, db, "staging")
	other.Status = roman.RollbackInProgress
	if err := db.CreateRollbackEvent(ctx, other); err != nil {
		t.Fatalf("other environment: %v", err)
	}
	third := newRollback(t, db, "staging")
	if re := wantCode(t, db.CreateRollbackEvent(ctx, third), roman.ECONFLICT); re.EventID != other.EventID {
		t.Errorf("conflict EventID = %q, want %q", re.EventID, other.EventID)
	}
	// Once the first finishes, a new rollback may start.
	done, at := roman.RollbackSuccess, t0.Add(time.Minute)
	if err := db.UpdateRollbackEvent(ctx, first.EventID, roman.RollbackEventUpdate{Status: &done, CompletedAt: &at}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateRollbackEvent(ctx, second); err != nil {
		t.Fatalf("after the first finished: %v", err)
	}
	// Reopening a finished event while another is unfinished is refused too.
	pending := roman.RollbackPending
	re = wantCode(t, db.UpdateRollbackEvent(ctx, first.EventID, roman.RollbackEventUpdate{Status: &pending}), roman.ECONFLICT)
	if re.EventID != second.EventID {
		t.Errorf("reopen conflict EventID = %q, want %q", re.EventID, second.EventID)
	}
	// A duplicate event id is a conflict naming that event.
	dup := newRollback(t, db, "dev")
	dup.EventID = first.EventID
	wantCode(t, db.CreateRollbackEvent(ctx, dup), roman.ECONFLICT)
	// An unknown deployment is not found; the environment defaults to the deployment's.
	unknown := &roman.RollbackEvent{DeploymentID: roman.NewUUID(), TriggerType: roman.TriggerManual, TriggerReason: "x"}
	wantCode(t, db.CreateRollbackEvent(ctx, unknown), roman.ENOTFOUND)
	noEnv := newRollback(t, db, "qa")
	noEnv.Environment = ""
	if err := db.CreateRollbackEvent(ctx, noEnv); err != nil || noEnv.Environment != "qa" {
		t.Fatalf("environment from the deployment: %q, %v", noEnv.Environment, err)
	}
}

func testConcurrentRollbacks(t *testing.T, db *sqldb.DB) {
	const n = 20
	events := make([]*roman.RollbackEvent, n)
	for i := range events {
		events[i] = newRollback(t, db, "production")
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range events {
		wg.Go(func() { errs[i] = db.CreateRollbackEvent(ctx, events[i]) })
	}
	wg.Wait()
	winner := ""
	for i, err := range errs {
		if err == nil {
			if winner != "" {
				t.Fatalf("two rollbacks of one environment started: %s and %s", winner, events[i].EventID)
			}
			winner = events[i].EventID
		}
	}
	if winner == "" {
		t.Fatalf("no rollback started: %v", errs)
	}
	for _, err := range errs {
		if err != nil {
			if re := wantCode(t, err, roman.ECONFLICT); re.EventID != winner {
				t.Errorf("loser's EventID = %q, want the winner %q", re.EventID, winner)
			}
		}
	}
}

func testAppendRollbackStep(t *testing.T, db *sqldb.DB) {
	e := newRollback(t, db, "production")
	if err := db.CreateRollbackEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetRollbackEvent(ctx, e.EventID)
	if err != nil || got.RollbackSteps == nil || len(got.RollbackSteps) != 0 {
		t.Fatalf("fresh event steps = %#v, %v; want an empty, non-nil slice", got.RollbackSteps, err)
	}
	names := []string{roman.StepValidate, roman.StepSnapshot, roman.StepIdentifyTarget, roman.StepMarkRolledBack}
	for i, name := range names {
		s := roman.RollbackStep{Name: name, Status: roman.StepStatusSuccess,
			StartedAt: t0.Add(time.Duration(i) * time.Second), FinishedAt: t0.Add(time.Duration(i)*time.Second + 500*time.Millisecond),
			Detail: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
		if err := db.AppendRollbackStep(ctx, e.EventID, s); err != nil {
			t.Fatal(err)
		}
	}
	got, err = db.GetRollbackEvent(ctx, e.EventID)
	if err != nil || len(got.RollbackSteps) != len(names) {
		t.Fatalf("steps = %+v, %v", got.RollbackSteps, err)
	}
	for i, s := range got.RollbackSteps {
		if s.Name != names[i] || s.Status != roman.StepStatusSuccess ||
			!s.StartedAt.Equal(t0.Add(time.Duration(i)*time.Second).Truncate(time.Microsecond)) ||
			!jsonEqual(t, s.Detail, json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))) {
			t.Errorf("step %d = %+v", i, s)
		}
	}
	err = db.AppendRollbackStep(ctx, roman.NewUUID(), roman.RollbackStep{Name: "x"})
	wantCode(t, err, roman.ENOTFOUND)

	// Steps given at creation are stored in order.
	f := newRollback(t, db, "staging")
	f.RollbackSteps = []roman.RollbackStep{{Name: "a", StartedAt: t0, FinishedAt: t0}, {Name: "b", StartedAt: t0, FinishedAt: t0}}
	if err := db.CreateRollbackEvent(ctx, f); err != nil {
		t.Fatal(err)
	}
	got, _ = db.GetRollbackEvent(ctx, f.EventID)
	if len(got.RollbackSteps) != 2 || got.RollbackSteps[0].Name != "a" || got.RollbackSteps[1].Name != "b" {
		t.Errorf("initial steps = %+v", got.RollbackSteps)
	}
}

func testConcurrentAppend(t *testing.T, db *sqldb.DB) {
	e := newRollback(t, db, "production")
	if err := db.CreateRollbackEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = db.AppendRollbackStep(ctx, e.EventID, roman.RollbackStep{Name: fmt.Sprint("step-", i), StartedAt: t0, FinishedAt: t0})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("append %d: %v", i, err)
		}
	}
	got, err := db.GetRollbackEvent(ctx, e.EventID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range got.RollbackSteps {
		seen[s.Name] = true
	}
	if len(got.RollbackSteps) != n || len(seen) != n {
		t.Fatalf("%d steps (%d distinct) after %d concurrent appends", len(got.RollbackSteps), len(seen), n)
	}
}

func testRollbackEventUpdateList(t *testing.T, db *sqldb.DB) {
	by := roman.NewUUID()
	a := newRollback(t, db, "production")
	a.InitiatedBy = &by
	a.RollbackPlan = json.RawMessage(`{"target":"v2.5.2"}`)
	a.Metadata = json.RawMessage(`{"k":1}`)
	if err := db.CreateRollbackEvent(ctx, a); err != nil {
		t.Fatal(err)
	}
	status, done := roman.RollbackAborted, t0.Add(time.Minute)
	validation := json.RawMessage(`{"compliant":false,"violations":["x"],"warnings":[]}`)
	err := db.UpdateRollbackEvent(ctx, a.EventID, roman.RollbackEventUpdate{
		Status: &status, ConstitutionalValidation: validation, CompletedAt: &done,
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.GetRollbackEvent(ctx, a.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != status || got.CompletedAt == nil || !got.CompletedAt.Equal(done.Truncate(time.Microsecond)) ||
		!jsonEqual(t, got.ConstitutionalValidation, validation) || !jsonEqual(t, got.RollbackPlan, a.RollbackPlan) ||
		!jsonEqual(t, got.Metadata, a.Metadata) || got.InitiatedBy == nil || *got.InitiatedBy != by ||
		got.DeploymentID != a.DeploymentID || got.Environment != "production" ||
		got.TriggerType != roman.TriggerManual || got.TriggerReason != "error spike" || !got.InitiatedAt.Equal(a.InitiatedAt) {
		t.Errorf("after update: %+v", got)
	}
	wantCode(t, db.UpdateRollbackEvent(ctx, roman.NewUUID(), roman.RollbackEventUpdate{Status: &status}), roman.ENOTFOUND)
	_, err = db.GetRollbackEvent(ctx, roman.NewUUID())
	wantCode(t, err, roman.ENOTFOUND)

	b := newRollback(t, db, "staging")
	b.InitiatedAt = t0.Add(time.Hour)
	if err := db.CreateRollbackEvent(ctx, b); err != nil {
		t.Fatal(err)
	}
	since := t0.Add(time.Minute)
	tests := []struct {
		name string
		f    roman.RollbackFilter
		want []string
	}{
		{"newest first", roman.RollbackFilter{}, []string{b.EventID, a.EventID}},
		{"environment", roman.RollbackFilter{Environment: "production"}, []string{a.EventID}},
		{"deployment", roman.RollbackFilter{DeploymentID: b.DeploymentID}, []string{b.EventID}},
		{"status", roman.RollbackFilter{Status: roman.RollbackAborted}, []string{a.EventID}},
		{"since", roman.RollbackFilter{Since: &since}, []string{b.EventID}},
		{"limit", roman.RollbackFilter{Limit: 1}, []string{b.EventID}},
	}
	for _, tc := range tests {
		got, err := db.ListRollbackEvents(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var ids []string
		for _, e := range got {
			ids = append(ids, e.EventID)
			if e.RollbackSteps == nil {
				t.Errorf("%s: nil steps", tc.name)
			}
		}
		if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, ids, tc.want)
		}
	}
}
