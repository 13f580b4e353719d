package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/notify/githubdeploy"
	"github.com/odyssey-1/roman/notify/githubdeploy/githubtest"
	"github.com/odyssey-1/roman/web"
)

// githubToken is the test's GitHub token; it must appear in no log line,
// event or outbox error.
const githubToken = "ghp_TESTsecretTOKEN0123456789abcdef"

// githubSettings mirror every environment to the fake's repository.
func githubSettings(fake *githubtest.Server) map[string]string {
	return map[string]string{
		"ROMAN_GITHUB_DEPLOYMENTS_REPOSITORY": "octocat/example",
		"ROMAN_GITHUB_DEPLOYMENTS_TOKEN":      githubToken,
		"ROMAN_GITHUB_DEPLOYMENTS_API_URL":    fake.URL,
		"ROMAN_PUBLIC_URL":                    "https://roman.example.com",
		"ROMAN_VERIFY_WINDOW":                 "0s",
	}
}

// passWindow waits for the monitor to watch deployment id, moves the clock
// past its window (opened at start) and lets the monitor decide it.
func passWindow(t *testing.T, m *Server, clock *testkit.Clock, id string, start time.Time) {
	t.Helper()
	awaitMonitor(t, "the watch", func() bool { return len(romanEvents(t, m, id, roman.EventWatchStarted)) == 1 })
	clock.Set(start.Add(5*time.Minute + time.Second))
	m.Monitor.Tick(context.Background())
	awaitMonitor(t, "the window's verdict", func() bool { return len(romanEvents(t, m, id, roman.EventWatchPassed)) == 1 })
}

// awaitCreated waits until the fake GitHub has n successful POSTs, moving
// the fake clock on so that retries fall due.
func awaitCreated(t *testing.T, fake *githubtest.Server, clock *testkit.Clock, n int) []string {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%d GitHub requests", n), 20*time.Second, func() bool {
		clock.Add(time.Second)
		return len(fake.Created()) >= n
	})
	time.Sleep(100 * time.Millisecond) // nothing more may arrive
	return fake.Created()
}

// statusStates is the states a fake deployment got, in order.
func statusStates(d githubtest.Deployment) []string {
	var out []string
	for _, s := range d.Statuses {
		out = append(out, s["state"].(string))
	}
	return out
}

// checkNoToken fails when the GitHub token is in the logs, the audit trail
// or the outbox.
func checkNoToken(t *testing.T, m *Server, logs *testkit.Sink) {
	t.Helper()
	ctx := context.Background()
	if strings.Contains(logs.String(), githubToken) {
		t.Error("the GitHub token is in the logs")
	}
	evs, err := m.Store.ListRomanEvents(ctx, roman.RomanEventFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if strings.Contains(e.Message+string(e.Metadata), githubToken) {
			t.Errorf("the GitHub token is in event %s", e.EventType)
		}
	}
	rows, err := m.Store.ListAlerts(ctx, roman.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if b, _ := json.Marshal(r); strings.Contains(string(b), githubToken) {
			t.Errorf("the GitHub token is in outbox row %d", r.ID)
		}
	}
}

// TestGitHubDeploymentsMirrorHealthyReleases: two releases that pass their
// watch become two GitHub deployments with in_progress then success, and
// the first one turns inactive when the second passes; the requests carry
// what GitHub's API asks for.
func TestGitHubDeploymentsMirrorHealthyReleases(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, database string) {
		fake := githubtest.New(t, "octocat", "example", githubToken)
		start := time.Now().UTC().Truncate(time.Second)
		clock := testkit.NewClock(start)
		logs := &testkit.Sink{}
		m := closedAtEnd(t, openServer(t, database, clock.Now, logs, githubSettings(fake)))

		v1 := recordAt(t, m, "production", "v2.5.2", "a7f3b29", "in_progress", false, start)
		complete(t, m, v1)
		passWindow(t, m, clock, v1, start)
		awaitCreated(t, fake, clock, 3)

		start2 := clock.Now()
		v2 := recordAt(t, m, "production", "v2.5.3", "b81c4d0", "in_progress", false, start2)
		complete(t, m, v2)
		passWindow(t, m, clock, v2, start2)
		got := awaitCreated(t, fake, clock, 7)

		// Each release's jobs arrive in order; two releases' jobs may
		// interleave (the outbox orders per deployment).
		deps := fake.Deployments()
		if len(got) != 7 || len(deps) != 2 || deps[0].Ref != "a7f3b29" || deps[1].Ref != "b81c4d0" ||
			!slices.Equal(statusStates(deps[0]), []string{"in_progress", "success", "inactive"}) ||
			!slices.Equal(statusStates(deps[1]), []string{"in_progress", "success"}) {
			t.Fatalf("GitHub got\n  %s", strings.Join(got, "\n  "))
		}

		var create, success, inactive githubtest.Request
		for _, r := range fake.Requests() {
			if r.Auth != "Bearer "+githubToken {
				t.Errorf("%s %s without the token", r.Method, r.Path)
			}
			switch {
			case r.Method == "POST" && r.Path == "/repos/octocat/example/deployments" && r.Body["ref"] == "b81c4d0":
				create = r
			case r.Method == "POST" && r.Path == "/repos/octocat/example/deployments/2/statuses" && r.Body["state"] == "success":
				success = r
			case r.Method == "POST" && r.Path == "/repos/octocat/example/deployments/1/statuses" && r.Body["state"] == "inactive":
				inactive = r
			}
		}
		payload, _ := create.Body["payload"].(map[string]any)
		if create.Body["environment"] != "production" || create.Body["auto_merge"] != false ||
			fmt.Sprint(create.Body["required_contexts"]) != "[]" || payload["roman_deployment_id"] != v2 || payload["version"] != "v2.5.3" {
			t.Errorf("create request %v", create.Body)
		}
		explain := "https://roman.example.com/app/admin/roman-dashboard/explain/"
		if success.Body["log_url"] != explain+v2 || success.Body["environment"] != "production" || success.Body["auto_inactive"] != false ||
			!strings.Contains(success.Body["description"].(string), "ended with no trigger") {
			t.Errorf("success request %v", success.Body)
		}
		if inactive.Body["log_url"] != explain+v1 || inactive.Body["description"] != "Replaced by v2.5.3, which passed roman's watch" {
			t.Errorf("inactive request %v", inactive.Body)
		}

		g, err := m.Store.GetGitHubDeployment(context.Background(), v2)
		if err != nil || g.GitHubID != 2 || g.Repository != "octocat/example" {
			t.Errorf("stored GitHub deployment %+v, %v", g, err)
		}
		if evs := romanEvents(t, m, v2, roman.EventGitHubDeploymentCreated); len(evs) != 1 || !strings.Contains(evs[0].Message, "GitHub deployment 2 of octocat/example") {
			t.Errorf("audit rows %v", evs)
		}
		checkNoToken(t, m, logs)
	})
}

// TestGitHubDeploymentsMirrorARollback: a release rolled back by roman gets
// the failure status "Rolled back by roman: <reason>", cut to GitHub's 140
// characters, with a link to its explanation; the release it went back to
// gets success again.
func TestGitHubDeploymentsMirrorARollback(t *testing.T) {
	fake := githubtest.New(t, "octocat", "example", githubToken)
	start := time.Now().UTC().Truncate(time.Second)
	clock := testkit.NewClock(start)
	logs := &testkit.Sink{}
	m := closedAtEnd(t, openServer(t, testkit.SQLiteURL(t), clock.Now, logs, githubSettings(fake)))

	recordAt(t, m, "production", "v2.5.2", "a7f3b29", "success", true, start.Add(-time.Hour))
	bad := recordAt(t, m, "production", "v2.5.3", "b81c4d0", "in_progress", false, start)
	complete(t, m, bad)
	awaitMonitor(t, "the watch", func() bool { return len(romanEvents(t, m, bad, roman.EventWatchStarted)) == 1 })
	reason := "Critical bug in payment flow: " + strings.Repeat("checkout returns 500 for every card; ", 5)
	if code, res := testkit.Call(t, "POST", m.URL()+"/auto-rollback", adminToken,
		`{"deployment_id":"`+bad+`","trigger_reason":"`+reason+`"}`); code != http.StatusOK || res["success"] != true {
		t.Fatalf("rollback: %d %v", code, res)
	}
	restored := func(d githubtest.Deployment) bool {
		last := len(d.Statuses) - 1
		return last >= 0 && d.Statuses[last]["state"] == "success" && d.Statuses[last]["description"] == "Restored by roman: rollback of v2.5.3 complete"
	}
	waitUntil(t, "the failure and restored statuses", 20*time.Second, func() bool {
		clock.Add(time.Second)
		deps := fake.Deployments()
		return len(deps) == 2 && len(deps[1].Statuses) == 2 && restored(deps[0])
	})
	deps := fake.Deployments()
	if deps[0].Ref != "a7f3b29" || deps[1].Ref != "b81c4d0" || !slices.Equal(statusStates(deps[1]), []string{"in_progress", "failure"}) {
		t.Fatalf("GitHub got %v", fake.Created())
	}
	failure := deps[1].Statuses[1]
	wantDesc := string([]rune("Rolled back by roman: " + reason)[:139]) + "…"
	if failure["description"] != wantDesc || len([]rune(wantDesc)) != 140 {
		t.Errorf("failure description %q, want %q", failure["description"], wantDesc)
	}
	if failure["log_url"] != "https://roman.example.com/app/admin/roman-dashboard/explain/"+bad || failure["target_url"] != failure["log_url"] {
		t.Errorf("failure status %v", failure)
	}
	// The link is the dashboard's explain page, which the server serves.
	if githubdeploy.ExplainPath != web.BasePath+"/explain/" {
		t.Errorf("statuses link to %s, the dashboard serves %s/explain/", githubdeploy.ExplainPath, web.BasePath)
	}
	if code, _ := testkit.CallRaw(t, "GET", m.URL()+githubdeploy.ExplainPath+bad, "", ""); code != http.StatusOK {
		t.Errorf("GET the explain page: %d", code)
	}
	checkNoToken(t, m, logs)
}

// TestGitHubOutageLosesNothing: with GitHub answering 500 the jobs wait in
// the outbox, across a restart; once GitHub is back each is delivered
// exactly once, in order, and a create retried after the outage first looks
// for the deployment of an earlier attempt.
func TestGitHubOutageLosesNothing(t *testing.T) {
	fake := githubtest.New(t, "octocat", "example", githubToken)
	fake.SetDown(true)
	start := time.Now().UTC().Truncate(time.Second)
	clock := testkit.NewClock(start)
	logs := &testkit.Sink{}
	db := testkit.SQLiteURL(t)
	m := openServer(t, db, clock.Now, logs, githubSettings(fake))

	v1 := recordAt(t, m, "production", "v2.5.2", "a7f3b29", "in_progress", false, start)
	complete(t, m, v1)
	passWindow(t, m, clock, v1, start)
	waitUntil(t, "failed attempts", 20*time.Second, func() bool {
		clock.Add(time.Second)
		return len(fake.Requests()) >= 3
	})
	if n := len(fake.Created()); n != 0 {
		t.Fatalf("%d requests got through a down GitHub", n)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m = closedAtEnd(t, openServer(t, db, clock.Now, logs, githubSettings(fake)))
	fake.SetDown(false)
	got := awaitCreated(t, fake, clock, 3)
	want := []string{"deployment a7f3b29 production", "status 1 in_progress", "status 1 success"}
	if !slices.Equal(got, want) {
		t.Fatalf("after the outage GitHub got %v, want %v", got, want)
	}
	looked := false
	for _, r := range fake.Requests() {
		looked = looked || r.Method == "GET" && r.Path == "/repos/octocat/example/deployments" && r.Status == http.StatusOK
	}
	if !looked {
		t.Error("the retried create did not look for an earlier attempt's deployment")
	}
	rows, err := m.Store.ListAlerts(context.Background(), roman.OutboxFilter{Channel: roman.ChannelGitHub})
	if err != nil || len(rows) != 3 {
		t.Fatalf("outbox rows %d, %v", len(rows), err)
	}
	if rows[0].Kind != roman.MirrorCreateDeployment || rows[0].Attempts < 2 {
		t.Errorf("first row %s after %d attempts", rows[0].Kind, rows[0].Attempts)
	}
	for _, r := range rows {
		if r.DeliveredAt == nil {
			t.Errorf("row %d (%s): delivered %v after %d attempts", r.ID, r.Kind, r.DeliveredAt, r.Attempts)
		}
	}
	checkNoToken(t, m, logs)
}

// TestGitHubRefusalIsGivenUpVisibly: GitHub refusing the create with 422 is
// not retried; the audit trail says why (GitHub's message), and the
// release's statuses are given up too, naming the missing deployment.
func TestGitHubRefusalIsGivenUpVisibly(t *testing.T) {
	fake := githubtest.New(t, "octocat", "example", githubToken)
	fake.Refuse(func(r *githubtest.Request) int {
		if r.Method == "POST" && r.Path == "/repos/octocat/example/deployments" {
			return http.StatusUnprocessableEntity
		}
		return 0
	})
	start := time.Now().UTC().Truncate(time.Second)
	clock := testkit.NewClock(start)
	logs := &testkit.Sink{}
	m := closedAtEnd(t, openServer(t, testkit.SQLiteURL(t), clock.Now, logs, githubSettings(fake)))

	v1 := recordAt(t, m, "production", "v2.5.2", "a7f3b29", "in_progress", false, start)
	complete(t, m, v1)
	waitUntil(t, "the give-ups", 20*time.Second, func() bool {
		clock.Add(time.Second)
		return len(romanEvents(t, m, v1, roman.EventAlertUndeliverable)) == 2
	})
	creates := 0
	for _, r := range fake.Requests() {
		if r.Method == "POST" {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("GitHub got %d POSTs; a 422 must not be retried", creates)
	}
	evs := romanEvents(t, m, v1, roman.EventAlertUndeliverable)
	msgs := evs[0].Message + "\n" + evs[1].Message
	if !strings.Contains(msgs, "GitHub answered 422: Validation Failed; Deployment ref invalid No ref found for: a7f3b29") ||
		!strings.Contains(msgs, "has no GitHub deployment") {
		t.Errorf("audit rows:\n%s", msgs)
	}
	code, ex := testkit.Call(t, "GET", m.URL()+"/deployments/"+v1+"/explain", readToken, "")
	if b, _ := json.Marshal(ex); code != 200 || !strings.Contains(string(b), "GitHub answered 422") {
		t.Errorf("explain does not show the refusal: %d %s", code, b)
	}
	checkNoToken(t, m, logs)
}

// TestGitHubDeploymentsMirrorAnAutomaticRollback: errors inside the watch
// window make roman roll the release back on its own; GitHub gets the
// failure with the trigger's reason, and the previous release is restored.
func TestGitHubDeploymentsMirrorAnAutomaticRollback(t *testing.T) {
	fake := githubtest.New(t, "octocat", "example", githubToken)
	start := time.Now().UTC().Truncate(time.Second)
	clock := testkit.NewClock(start)
	logs := &testkit.Sink{}
	m := closedAtEnd(t, openServer(t, testkit.SQLiteURL(t), clock.Now, logs, githubSettings(fake)))

	recordAt(t, m, "production", "v2.5.2", "a7f3b29", "success", true, start.Add(-time.Hour))
	bad := recordAt(t, m, "production", "v2.5.3", "b81c4d0", "in_progress", false, start)
	complete(t, m, bad)
	awaitMonitor(t, "the watch", func() bool { return len(romanEvents(t, m, bad, roman.EventWatchStarted)) == 1 })
	errorsAt(t, m, bad, 10, clock.Now().Add(-5*time.Second))
	// The rollback first, on a clock that stands still: moving it on while
	// a loaded machine delays the evaluation would carry the errors out of
	// their one-minute window before the monitor saw them.
	waitUntil(t, "the automatic rollback", 20*time.Second, func() bool {
		evs, err := m.Store.ListRollbackEvents(context.Background(), roman.RollbackFilter{DeploymentID: bad, Limit: 1})
		return err == nil && len(evs) == 1
	})
	waitUntil(t, "the failure status", 20*time.Second, func() bool {
		clock.Add(time.Second)
		deps := fake.Deployments()
		return len(deps) == 2 && len(deps[1].Statuses) == 2
	})
	deps := fake.Deployments()
	if s := statusStates(deps[1]); !slices.Equal(s, []string{"in_progress", "failure"}) ||
		deps[1].Statuses[1]["description"] != "Rolled back by roman: High error rate: 10 errors/minute" {
		t.Fatalf("bad release's statuses %v: %v", s, deps[1].Statuses)
	}
	checkNoToken(t, m, logs)
}

// TestGitHubDeploymentsPerEnvironment: a repository configured for one
// environment only mirrors that environment's releases.
func TestGitHubDeploymentsPerEnvironment(t *testing.T) {
	fake := githubtest.New(t, "octocat", "example", githubToken)
	file := filepath.Join(t.TempDir(), "roman.yaml")
	yaml := "environments:\n  production:\n" +
		"    github_deployments_repository: octocat/example\n" +
		"    github_deployments_token: " + githubToken + "\n" +
		"    github_deployments_api_url: " + fake.URL + "\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Truncate(time.Second)
	clock := testkit.NewClock(start)
	logs := &testkit.Sink{}
	m := closedAtEnd(t, openServer(t, testkit.SQLiteURL(t), clock.Now, logs, map[string]string{"ROMAN_CONFIG": file}))

	recordAt(t, m, "staging", "v2.5.3", "b81c4d0", "in_progress", false, start)
	recordAt(t, m, "production", "v2.5.3", "b81c4d0", "in_progress", false, start)
	got := awaitCreated(t, fake, clock, 1)
	if !slices.Equal(got, []string{"deployment b81c4d0 production"}) {
		t.Fatalf("GitHub got %v", got)
	}
	rows, err := m.Store.ListAlerts(context.Background(), roman.OutboxFilter{Channel: roman.ChannelGitHub})
	if err != nil || len(rows) != 1 || rows[0].Environment != "production" {
		t.Fatalf("outbox rows %v, %v", rows, err)
	}
	checkNoToken(t, m, logs)
}
