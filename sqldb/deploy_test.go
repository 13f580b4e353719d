package sqldb_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

func testDeploymentRoundTrip(t *testing.T, db *sqldb.DB) {
	by := strings.ToUpper(roman.NewUUID())
	done := t0.Add(time.Minute)
	d := &roman.Deployment{
		DeploymentID: strings.ToUpper(roman.NewUUID()), Environment: "production", Version: "v2.5.3",
		GitCommit: "abc123", GitBranch: "main", DeployedBy: &by, DeployedAt: t0,
		Status: roman.StatusSuccess, HealthCheckPassed: true,
		HealthCheckDetails: json.RawMessage(`{"healthy": true, "error_rate_per_minute": 0.5}`),
		Metadata:           json.RawMessage(`{"ci":"github","run":42}`),
		CompletedAt:        &done,
	}
	mustCreate(t, db, d)
	if d.ID == 0 {
		t.Fatal("CreateDeployment did not fill ID")
	}
	if d.DeploymentID != strings.ToLower(d.DeploymentID) || *d.DeployedBy != strings.ToLower(by) {
		t.Errorf("uuids not normalised to lower case: %s %s", d.DeploymentID, *d.DeployedBy)
	}
	for _, id := range []string{d.DeploymentID, strings.ToUpper(d.DeploymentID)} {
		got, err := db.GetDeployment(ctx, id)
		if err != nil {
			t.Fatalf("GetDeployment(%s): %v", id, err)
		}
		if got.ID != d.ID || got.DeploymentID != d.DeploymentID || got.Environment != "production" ||
			got.Version != "v2.5.3" || got.GitCommit != "abc123" || got.GitBranch != "main" ||
			got.Status != roman.StatusSuccess || !got.HealthCheckPassed || *got.DeployedBy != *d.DeployedBy ||
			got.RollbackFrom != nil || got.RolledBackAt != nil {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, d)
		}
		if !got.DeployedAt.Equal(t0.Truncate(time.Microsecond)) || got.DeployedAt.Location() != time.UTC {
			t.Errorf("deployed_at = %v, want %v in UTC with microseconds", got.DeployedAt, t0)
		}
		if got.CompletedAt == nil || !got.CompletedAt.Equal(done.Truncate(time.Microsecond)) {
			t.Errorf("completed_at = %v, want %v", got.CompletedAt, done)
		}
		if !jsonEqual(t, got.HealthCheckDetails, d.HealthCheckDetails) || !jsonEqual(t, got.Metadata, d.Metadata) {
			t.Errorf("JSON columns: %s %s", got.HealthCheckDetails, got.Metadata)
		}
		if got.ConstitutionalValidation != nil {
			t.Errorf("NULL JSON read as %q, want nil", got.ConstitutionalValidation)
		}
	}
	// A rollback deployment references the one it replaces.
	r := newDeployment("production", "v2.5.2", t0.Add(time.Hour), roman.StatusInProgress)
	r.RollbackFrom = &d.DeploymentID
	mustCreate(t, db, r)
	got, err := db.GetDeployment(ctx, r.DeploymentID)
	if err != nil || got.RollbackFrom == nil || *got.RollbackFrom != d.DeploymentID {
		t.Fatalf("rollback_from: %+v, %v", got, err)
	}
	// Defaults: generated id, now, in_progress.
	e := &roman.Deployment{Environment: "staging", Version: "v1", GitCommit: "c", GitBranch: "b"}
	mustCreate(t, db, e)
	if !roman.ValidUUID(e.DeploymentID) || e.DeployedAt.IsZero() || e.Status != roman.StatusInProgress {
		t.Errorf("defaults not applied: %+v", e)
	}

	for _, id := range []string{roman.NewUUID(), "not-a-uuid", ""} {
		_, err := db.GetDeployment(ctx, id)
		re := wantCode(t, err, roman.ENOTFOUND)
		if re.Message != "deployment "+id+" not found" {
			t.Errorf("message = %q", re.Message)
		}
	}
}

func testDeploymentConflicts(t *testing.T, db *sqldb.DB) {
	d := newDeployment("production", "v1", t0, roman.StatusSuccess)
	mustCreate(t, db, d)
	dup := newDeployment("staging", "v9", t0, roman.StatusPending)
	dup.DeploymentID = d.DeploymentID
	re := wantCode(t, db.CreateDeployment(ctx, dup), roman.ECONFLICT)
	if !strings.Contains(re.Message, d.DeploymentID) {
		t.Errorf("conflict message %q does not name the deployment", re.Message)
	}

	unknown := roman.NewUUID()
	bad := newDeployment("production", "v2", t0, roman.StatusPending)
	bad.RollbackFrom = &unknown
	re = wantCode(t, db.CreateDeployment(ctx, bad), roman.ENOTFOUND)
	if re.Message != "deployment "+unknown+" not found" {
		t.Errorf("message = %q", re.Message)
	}
	bad = newDeployment("production", "v3", t0, roman.StatusPending)
	bad.DeploymentID = "nope"
	wantCode(t, db.CreateDeployment(ctx, bad), roman.EINVALID)

	all, err := db.ListDeployments(ctx, roman.DeploymentFilter{})
	if err != nil || len(all) != 1 {
		t.Fatalf("failed inserts left rows: %d, %v", len(all), err)
	}
}

func testListDeployments(t *testing.T, db *sqldb.DB) {
	mustCreate(t, db,
		newDeployment("production", "p1", t0, roman.StatusSuccess),
		newDeployment("production", "p3", t0.Add(2*time.Minute), roman.StatusFailed),
		newDeployment("production", "p2", t0.Add(time.Minute), roman.StatusSuccess),
		newDeployment("staging", "s1", t0.Add(30*time.Second), roman.StatusSuccess),
	)
	tests := []struct {
		name string
		f    roman.DeploymentFilter
		want string
	}{
		{"all newest first", roman.DeploymentFilter{}, "p3,p2,s1,p1"},
		{"environment", roman.DeploymentFilter{Environment: "production"}, "p3,p2,p1"},
		{"status", roman.DeploymentFilter{Status: roman.StatusSuccess}, "p2,s1,p1"},
		{"both", roman.DeploymentFilter{Environment: "production", Status: roman.StatusSuccess}, "p2,p1"},
		{"limit", roman.DeploymentFilter{Limit: 2}, "p3,p2"},
		{"limit over the cap", roman.DeploymentFilter{Limit: 5000}, "p3,p2,s1,p1"},
		{"no match", roman.DeploymentFilter{Environment: "dev"}, ""},
	}
	for _, tc := range tests {
		got, err := db.ListDeployments(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got == nil || versions(got) != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, versions(got), tc.want)
		}
	}
}

func testTieBreakByID(t *testing.T, db *sqldb.DB) {
	// Recorded in the same microsecond: the later insert (higher id) is newer.
	a := newDeployment("production", "a", t0, roman.StatusSuccess)
	b := newDeployment("production", "b", t0, roman.StatusSuccess)
	c := newDeployment("production", "c", t0, roman.StatusSuccess)
	a.HealthCheckPassed, b.HealthCheckPassed, c.HealthCheckPassed = true, true, true
	mustCreate(t, db, a, b, c)
	got, err := db.ListDeployments(ctx, roman.DeploymentFilter{Environment: "production"})
	if err != nil || versions(got) != "c,b,a" {
		t.Fatalf("ListDeployments = %q, %v; want c,b,a", versions(got), err)
	}
	cur, err := db.CurrentDeployment(ctx, "", "production")
	if err != nil || cur == nil || cur.Version != "c" {
		t.Fatalf("CurrentDeployment = %+v, %v; want c", cur, err)
	}
	target, err := db.FindRollbackTarget(ctx, probe("production", t0.Add(time.Second)))
	if err != nil || target == nil || target.Version != "c" {
		t.Fatalf("FindRollbackTarget = %+v, %v; want c", target, err)
	}
}

func testUpdateDeployment(t *testing.T, db *sqldb.DB) {
	d := newDeployment("production", "v1", t0, roman.StatusPending)
	mustCreate(t, db, d)
	steps := []string{roman.StatusInProgress, roman.StatusSuccess, roman.StatusRolledBack}
	for _, s := range steps {
		got, err := db.UpdateDeployment(ctx, d.DeploymentID, roman.DeploymentUpdate{Status: &s})
		if err != nil || got.Status != s {
			t.Fatalf("update to %s: %+v, %v", s, got, err)
		}
	}
	got, err := db.GetDeployment(ctx, d.DeploymentID)
	if err != nil || got.Status != roman.StatusRolledBack || got.CompletedAt == nil || got.RolledBackAt == nil {
		t.Fatalf("after updates: %+v, %v (want rolled_back with completed_at and rolled_back_at)", got, err)
	}

	e := newDeployment("production", "v2", t0, roman.StatusInProgress)
	mustCreate(t, db, e)
	pass, done, same := true, t0.Add(5*time.Minute), roman.StatusInProgress
	details := json.RawMessage(`{"status":"healthy"}`)
	got, err = db.UpdateDeployment(ctx, e.DeploymentID, roman.DeploymentUpdate{
		Status: &same, HealthCheckPassed: &pass, HealthCheckDetails: details, CompletedAt: &done,
	})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := db.GetDeployment(ctx, e.DeploymentID)
	for _, d := range []*roman.Deployment{got, stored} {
		if d.Status != same || !d.HealthCheckPassed || !jsonEqual(t, d.HealthCheckDetails, details) ||
			d.CompletedAt == nil || !d.CompletedAt.Equal(done.Truncate(time.Microsecond)) {
			t.Errorf("health update: %+v", d)
		}
	}
	_, err = db.UpdateDeployment(ctx, roman.NewUUID(), roman.DeploymentUpdate{Status: &same})
	wantCode(t, err, roman.ENOTFOUND)
}

func testIllegalTransitions(t *testing.T, db *sqldb.DB) {
	tests := []struct{ from, to string }{
		{roman.StatusPending, roman.StatusSuccess},
		{roman.StatusPending, roman.StatusRolledBack},
		{roman.StatusSuccess, roman.StatusInProgress},
		{roman.StatusSuccess, roman.StatusFailed},
		{roman.StatusFailed, roman.StatusSuccess},
		{roman.StatusRolledBack, roman.StatusSuccess},
		{roman.StatusRolledBack, roman.StatusPending},
	}
	for _, tc := range tests {
		d := newDeployment("production", tc.from+"-"+tc.to, t0, tc.from)
		mustCreate(t, db, d)
		to := tc.to
		_, err := db.UpdateDeployment(ctx, d.DeploymentID, roman.DeploymentUpdate{Status: &to})
		re := wantCode(t, err, roman.ECONFLICT)
		if !strings.Contains(re.Message, `"`+tc.from+`"`) || !strings.Contains(re.Message, `"`+tc.to+`"`) {
			t.Errorf("%s -> %s: message %q does not name both states", tc.from, tc.to, re.Message)
		}
		got, _ := db.GetDeployment(ctx, d.DeploymentID)
		if got.Status != tc.from {
			t.Errorf("%s -> %s: refused transition changed the status to %s", tc.from, tc.to, got.Status)
		}
	}
}

func testFindRollbackTarget(t *testing.T, db *sqldb.DB) {
	mk := func(env, v string, at time.Duration, status string, passed bool) *roman.Deployment {
		d := newDeployment(env, v, t0.Add(at), status)
		d.HealthCheckPassed = passed
		mustCreate(t, db, d)
		return d
	}
	mk("production", "old-good", 0, roman.StatusSuccess, true)
	mk("production", "good", time.Minute, roman.StatusSuccess, true)
	mk("production", "unverified", 2*time.Minute, roman.StatusSuccess, false)
	mk("production", "failed-passed", 3*time.Minute, roman.StatusFailed, true)
	mk("production", "rolled-back", 4*time.Minute, roman.StatusRolledBack, true)
	mk("staging", "other-env", 5*time.Minute, roman.StatusSuccess, true)
	bad := mk("production", "bad", 6*time.Minute, roman.StatusSuccess, false)
	mk("production", "same-time", 6*time.Minute, roman.StatusSuccess, true)

	tests := []struct {
		name   string
		env    string
		before time.Time
		want   string
	}{
		{"newest valid before the bad one", "production", bad.DeployedAt, "good"},
		{"strictly before", "production", t0.Add(time.Minute), "old-good"},
		{"none older", "production", t0, ""},
		{"other environment", "staging", t0.Add(time.Hour), "other-env"},
		{"unknown environment", "dev", t0.Add(time.Hour), ""},
		{"later deployments count", "production", t0.Add(time.Hour), "same-time"},
	}
	for _, tc := range tests {
		got, err := db.FindRollbackTarget(ctx, probe(tc.env, tc.before))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		gotV := ""
		if got != nil {
			gotV = got.Version
		}
		if gotV != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, gotV, tc.want)
		}
	}
}

func testCurrentDeployment(t *testing.T, db *sqldb.DB) {
	if d, err := db.CurrentDeployment(ctx, "", "production"); d != nil || err != nil {
		t.Fatalf("empty store: %+v, %v", d, err)
	}
	mustCreate(t, db,
		newDeployment("production", "ok", t0, roman.StatusSuccess),
		newDeployment("production", "running", t0.Add(time.Minute), roman.StatusInProgress),
		newDeployment("staging", "staging", t0.Add(2*time.Minute), roman.StatusSuccess),
	)
	d, err := db.CurrentDeployment(ctx, "", "production")
	if err != nil || d == nil || d.Version != "ok" {
		t.Fatalf("CurrentDeployment = %+v, %v; want ok", d, err)
	}
	// A rollback's redeploy in verification is live: errors reported by
	// environment during its verify window must count for it.
	redeploy := newDeployment("production", "redeploy", t0.Add(3*time.Minute), roman.StatusInProgress)
	redeploy.RollbackFrom = &d.DeploymentID
	mustCreate(t, db, redeploy)
	if d, err := db.CurrentDeployment(ctx, "", "production"); err != nil || d == nil || d.Version != "redeploy" {
		t.Fatalf("CurrentDeployment during verification = %+v, %v; want redeploy", d, err)
	}
}
