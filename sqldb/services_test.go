package sqldb_test

import (
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// probe is a bad deployment of env deployed at `before`, for
// FindRollbackTarget, with a commit no stored deployment has.
func probe(env string, before time.Time) *roman.Deployment {
	return &roman.Deployment{Environment: env, DeployedAt: before, GitCommit: "probe"}
}

// svcDeployment returns newDeployment of a service.
func svcDeployment(service, env, version string, at time.Time, status string, passed bool) *roman.Deployment {
	d := newDeployment(env, version, at, status)
	d.Service, d.HealthCheckPassed = service, passed
	return d
}

// testServices checks that the current deployment, the rollback target and
// the one-unfinished-rollback guard are per (service, environment).
func testServices(t *testing.T, db *sqldb.DB) {
	apiGood := svcDeployment("api", "production", "api-good", t0, roman.StatusSuccess, true)
	apiSame := svcDeployment("api", "production", "api-same-commit", t0.Add(time.Minute), roman.StatusSuccess, true)
	webGood := svcDeployment("web", "production", "web-good", t0.Add(2*time.Minute), roman.StatusSuccess, true)
	apiBad := svcDeployment("api", "production", "api-bad", t0.Add(3*time.Minute), roman.StatusSuccess, false)
	apiBad.GitCommit = apiSame.GitCommit // a redeploy of the same code
	seed := newDeployment("production", "default-one", t0.Add(4*time.Minute), roman.StatusSuccess)
	mustCreate(t, db, apiGood, apiSame, webGood, apiBad, seed)

	// The service is stored (empty is the default one) and read back.
	if seed.Service != roman.DefaultService {
		t.Errorf("an empty service is stored as %q, want %q", seed.Service, roman.DefaultService)
	}
	if got, err := db.GetDeployment(ctx, apiBad.DeploymentID); err != nil || got.Service != "api" {
		t.Fatalf("GetDeployment service = %+v, %v; want api", got, err)
	}

	// The current deployment is per (service, environment).
	for _, tc := range []struct{ service, want string }{
		{"api", "api-bad"}, {"web", "web-good"}, {"", "default-one"}, {"default", "default-one"}, {"other", ""},
	} {
		d, err := db.CurrentDeployment(ctx, tc.service, "production")
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if d != nil {
			got = d.Version
		}
		if got != tc.want {
			t.Errorf("CurrentDeployment(%q, production) = %q, want %q", tc.service, got, tc.want)
		}
	}

	// The rollback target is of the bad deployment's service, never
	// another service's newer good release, and skips a release with the
	// bad one's git_commit.
	target, err := db.FindRollbackTarget(ctx, apiBad)
	if err != nil || target == nil || target.Version != "api-good" {
		t.Fatalf("FindRollbackTarget(api-bad) = %+v, %v; want api-good", target, err)
	}
	if target, err := db.FindRollbackTarget(ctx, seed); err != nil || target != nil {
		t.Fatalf("FindRollbackTarget(default-one) = %+v, %v; want none (no other default release)", target, err)
	}

	// Lists filter by service.
	ds, err := db.ListDeployments(ctx, roman.DeploymentFilter{Service: "api", Environment: "production"})
	if err != nil || versions(ds) != "api-bad,api-same-commit,api-good" {
		t.Fatalf("ListDeployments(api) = %q, %v", versions(ds), err)
	}

	// One unfinished rollback per (service, environment): api's does not
	// block web's, and the event carries the deployment's service.
	rb := func(d *roman.Deployment) *roman.RollbackEvent {
		return &roman.RollbackEvent{EventID: roman.NewUUID(), DeploymentID: d.DeploymentID,
			TriggerType: roman.TriggerManual, TriggerReason: "error spike", InitiatedAt: t0, Status: roman.RollbackPending}
	}
	apiEv := rb(apiBad)
	if err := db.CreateRollbackEvent(ctx, apiEv); err != nil {
		t.Fatal(err)
	}
	if apiEv.Service != "api" || apiEv.Environment != "production" {
		t.Errorf("rollback event scope = (%q, %q), want (api, production)", apiEv.Service, apiEv.Environment)
	}
	webEv := rb(webGood)
	if err := db.CreateRollbackEvent(ctx, webEv); err != nil {
		t.Fatalf("a rollback of another service in the same environment: %v", err)
	}
	re := wantCode(t, db.CreateRollbackEvent(ctx, rb(apiSame)), roman.ECONFLICT)
	if re.EventID != apiEv.EventID {
		t.Errorf("conflict EventID = %q, want %q", re.EventID, apiEv.EventID)
	}
	if re.Message != "a rollback of service api in environment production is already in progress" {
		t.Errorf("conflict message = %q", re.Message)
	}
	if err := db.CreateRollbackEvent(ctx, rb(seed)); err != nil {
		t.Fatalf("a rollback of the default service: %v", err)
	}
	evs, err := db.ListRollbackEvents(ctx, roman.RollbackFilter{Service: "web"})
	if err != nil || len(evs) != 1 || evs[0].EventID != webEv.EventID || evs[0].Service != "web" {
		t.Fatalf("ListRollbackEvents(web) = %+v, %v; want the web event", evs, err)
	}
	got, err := db.GetRollbackEvent(ctx, apiEv.EventID)
	if err != nil || got.Service != "api" {
		t.Fatalf("GetRollbackEvent service = %+v, %v; want api", got, err)
	}

	// The active deployments are one per (service, environment).
	active, err := db.ActiveDeployments(ctx)
	if err != nil || versions(active) != "api-bad,default-one,web-good" {
		t.Fatalf("ActiveDeployments = %q, %v", versions(active), err)
	}
}
