package deploy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/appdb"
	"github.com/odyssey-1/roman/deploy"
	"github.com/odyssey-1/roman/health"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/sqldb"
)

func TestMain(m *testing.M) { testpg.Main(m) }

var testNow = time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)

type env struct {
	store *sqldb.DB
	deps  *deploy.Deployments
	snaps *deploy.Snapshots
}

func newEnv(t *testing.T, url string) *env {
	t.Helper()
	log := testkit.Discard()
	st, err := sqldb.Open(context.Background(), url, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := func() time.Time { return testNow }
	th := func(string) roman.Thresholds { return roman.DefaultThresholds() }
	checker := &health.Checker{Store: st, Thresholds: th, Clock: clock}
	snaps := &deploy.Snapshots{Store: st, App: appdb.New(st.SQL(), st.Dialect()), Health: checker, Clock: clock, Logger: log,
		Config: func(env string) map[string]any {
			return map[string]any{"environment": env, "discord_webhook_url": "https://discord.example/secret"}
		}}
	return &env{store: st, snaps: snaps,
		deps: &deploy.Deployments{Store: st, Snapshots: snaps, Clock: clock, Logger: log}}
}

func stores(t *testing.T, fn func(t *testing.T, e *env)) {
	testkit.EachStore(t, func(t *testing.T, url string) { fn(t, newEnv(t, url)) })
}

// record records a deployment that must be accepted.
func (e *env) record(t *testing.T, d *roman.Deployment) *roman.Deployment {
	t.Helper()
	out, created, err := e.deps.Record(context.Background(), d)
	if err != nil || !created {
		t.Fatalf("record: created=%v err=%v", created, err)
	}
	return out
}

func TestIdempotentRecord(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		d := &roman.Deployment{DeploymentID: roman.NewUUID(), Environment: "staging", Version: "v9", GitCommit: "abc", GitBranch: "main"}
		e.record(t, d)
		if _, created, err := e.deps.Record(ctx, d); err != nil || created {
			t.Fatalf("same record again: created=%v err=%v", created, err)
		}
		d2 := *d
		d2.Version = "v10"
		if _, _, err := e.deps.Record(ctx, &d2); roman.ErrorCode(err) != roman.ECONFLICT {
			t.Fatalf("different fields: %v", err)
		}
	})
}

// TestRecordRefusesFutureDeployedAt: a deployed_at more than a minute ahead
// of the server's clock is refused and nothing is stored; one within the
// skew is kept as given.
func TestRecordRefusesFutureDeployedAt(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		far := &roman.Deployment{Environment: "production", Version: "v9", GitCommit: "abc", GitBranch: "main", DeployedAt: testNow.AddDate(7974, 0, 0)}
		if _, _, err := e.deps.Record(ctx, far); roman.ErrorCode(err) != roman.EINVALID || !strings.Contains(roman.ErrorMessage(err), `"deployed_at"`) {
			t.Fatalf("deployed_at in the year 9999: %v", err)
		}
		if ds, _ := e.store.ListDeployments(ctx, roman.DeploymentFilter{Environment: "production"}); len(ds) != 0 {
			t.Fatalf("a refused record was stored: %+v", ds[0])
		}
		near := &roman.Deployment{Environment: "production", Version: "v9", GitCommit: "abc", GitBranch: "main", DeployedAt: testNow.Add(30 * time.Second)}
		if d := e.record(t, near); !d.DeployedAt.Equal(testNow.Add(30 * time.Second)) {
			t.Fatalf("deployed_at within the skew: %+v", d)
		}
	})
}

// TestServiceValidatesAsTheAPI: the service applies the domain's rules, so
// it refuses what the API refuses, with the API's message, and stores
// nothing: a deployment is neither recorded as rolled_back nor updated to
// it (only a rollback marks it so, validated and with a rollback event).
func TestServiceValidatesAsTheAPI(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		const rolledBack = `invalid value for field "status": a deployment is rolled back through POST /auto-rollback`
		_, _, err := e.deps.Record(ctx, &roman.Deployment{Environment: "production", Version: "v1", GitCommit: "abc", GitBranch: "main", Status: roman.StatusRolledBack})
		if roman.ErrorCode(err) != roman.EINVALID || roman.ErrorMessage(err) != rolledBack {
			t.Fatalf("record as rolled_back: %v", err)
		}
		_, _, err = e.deps.Record(ctx, &roman.Deployment{Environment: "production", Version: " ", GitCommit: "abc", GitBranch: "main"})
		if roman.ErrorCode(err) != roman.EINVALID || roman.ErrorMessage(err) != `missing required field "version"` {
			t.Fatalf("blank version: %v", err)
		}
		if ds, _ := e.store.ListDeployments(ctx, roman.DeploymentFilter{}); len(ds) != 0 {
			t.Fatalf("a refused record was stored: %+v", ds[0])
		}

		d := e.record(t, &roman.Deployment{Environment: "production", Version: "v1", GitCommit: "abc", GitBranch: "main", Status: roman.StatusSuccess})
		st := roman.StatusRolledBack
		if _, err := e.deps.Update(ctx, d.DeploymentID, roman.DeploymentUpdate{Status: &st}); roman.ErrorCode(err) != roman.EINVALID ||
			roman.ErrorMessage(err) != rolledBack {
			t.Fatalf("update to rolled_back: %v", err)
		}
		if _, err := e.deps.Update(ctx, d.DeploymentID, roman.DeploymentUpdate{}); roman.ErrorCode(err) != roman.EINVALID ||
			!strings.HasPrefix(roman.ErrorMessage(err), "at least one of") {
			t.Fatalf("empty update: %v", err)
		}
		if got, _ := e.store.GetDeployment(ctx, d.DeploymentID); got.Status != roman.StatusSuccess || got.RolledBackAt != nil {
			t.Fatalf("deployment after a refused update: %s", got.Status)
		}
	})
}

// TestSuccessTakesSnapshot: a deployment that becomes success gets its
// post_deployment snapshot, with the configuration's secrets redacted.
func TestSuccessTakesSnapshot(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		d := e.record(t, &roman.Deployment{Environment: "production", Version: "v1", GitCommit: "abc", GitBranch: "main"})
		st := roman.StatusSuccess
		if _, err := e.deps.Update(ctx, d.DeploymentID, roman.DeploymentUpdate{Status: &st}); err != nil {
			t.Fatal(err)
		}
		list, err := e.snaps.List(ctx, d.DeploymentID)
		if err != nil || len(list) != 1 || list[0].SnapshotType != roman.SnapshotPostDeployment {
			t.Fatalf("snapshots %+v %v", list, err)
		}
		if got := list[0].EnvironmentConfig["discord_webhook_url"]; got != roman.Redacted {
			t.Fatalf("webhook URL stored as %v", got)
		}
		if _, err := e.snaps.Create(ctx, d.DeploymentID, "nightly"); roman.ErrorCode(err) != roman.EINVALID {
			t.Fatalf("bad snapshot type: %v", err)
		}
		if _, err := e.snaps.Create(ctx, roman.NewUUID(), roman.SnapshotPreDeployment); roman.ErrorCode(err) != roman.ENOTFOUND {
			t.Fatalf("unknown deployment: %v", err)
		}
	})
}

// TestBreachedReleaseIsNeverMarkedPassed: CI's passing smoke test marks a
// release health_check_passed, except a release whose watch window breached
// (a watch_breach row, or breaches in its health_check_details): that one
// stays not passed, so it never becomes a rollback target, and the request
// is refused with a conflict naming the breach.
func TestBreachedReleaseIsNeverMarkedPassed(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		passed := true
		newDeployment := func(commit string) *roman.Deployment {
			return e.record(t, &roman.Deployment{Environment: "production", Version: "v" + commit, GitCommit: commit, GitBranch: "main", Status: roman.StatusSuccess})
		}

		// A breach the monitor recorded as a watch_breach row.
		byRow := newDeployment("a1")
		if err := e.store.AddRomanEvent(ctx, &roman.RomanEvent{EventID: roman.NewUUID(), EventType: roman.EventWatchBreach, Severity: roman.SeverityWarning,
			Message: "Trigger fired inside the watch window", Timestamp: testNow,
			Metadata: []byte(`{"deployment_id":"` + byRow.DeploymentID + `","reason":"High error rate: 9 errors/minute"}`)}); err != nil {
			t.Fatal(err)
		}
		// A breach recorded in the health check details.
		byDetails := newDeployment("b2")
		notPassed := false
		if _, err := e.store.UpdateDeployment(ctx, byDetails.DeploymentID, roman.DeploymentUpdate{HealthCheckPassed: &notPassed,
			HealthCheckDetails: []byte(`{"decided_by":"monitor","passed":false,"breaches":[{"reason":"Too many recent errors: 62 in 5 minutes"}]}`)}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			d      *roman.Deployment
			reason string
		}{{byRow, "High error rate: 9 errors/minute"}, {byDetails, "Too many recent errors: 62 in 5 minutes"}} {
			_, err := e.deps.Update(ctx, c.d.DeploymentID, roman.DeploymentUpdate{HealthCheckPassed: &passed})
			if roman.ErrorCode(err) != roman.ECONFLICT || !strings.Contains(roman.ErrorMessage(err), c.reason) {
				t.Fatalf("marking %s passed: %v", c.d.Version, err)
			}
			if got, err := e.store.GetDeployment(ctx, c.d.DeploymentID); err != nil || got.HealthCheckPassed {
				t.Fatalf("%s after the refused smoke test: %+v %v", c.d.Version, got, err)
			}
		}

		// A release that did not breach is marked passed.
		clean := newDeployment("c3")
		if got, err := e.deps.Update(ctx, clean.DeploymentID, roman.DeploymentUpdate{HealthCheckPassed: &passed}); err != nil || !got.HealthCheckPassed {
			t.Fatalf("marking a clean release passed: %+v %v", got, err)
		}
	})
}
