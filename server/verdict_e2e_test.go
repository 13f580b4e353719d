package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/internal/testkit"
)

const verdictRollbackToken = "test-verdict-rollback-token"

// startClocked runs the server on a fake clock; close stops it (at most
// once, and at the end of the test if the test did not).
func startClocked(t *testing.T, database string, clock *testkit.Clock, extra map[string]string) (m *Server, close func()) {
	t.Helper()
	env := map[string]string{
		"ROMAN_DATABASE": database, "ROMAN_LISTEN": "127.0.0.1:0", "ROMAN_VERIFY_WINDOW": "0s",
		"ROMAN_API_KEYS": "admin:" + adminToken + ",rollback:" + verdictRollbackToken + ",deploy:" + deployToken + ",read:" + readToken,
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	m = &Server{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Stdout: io.Discard, Clock: clock.Now}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	closed := false
	close = func() {
		if !closed {
			closed = true
			if err := m.Close(); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(close)
	return m, close
}

// recordAt records a deployment of env deployed at `at` with the given
// status and health, and returns its id.
func recordAt(t *testing.T, m *Server, env, version, commit, status string, passed bool, at time.Time) string {
	t.Helper()
	body := `{"environment":"` + env + `","version":"` + version + `","git_commit":"` + commit + `","git_branch":"main","status":"` + status +
		`","deployed_at":"` + at.UTC().Format(time.RFC3339Nano) + `"`
	if passed {
		body += `,"health_check_passed":true`
	}
	code, out := testkit.Call(t, "POST", m.URL()+"/deployments", deployToken, body+"}")
	if code != 201 {
		t.Fatalf("record %s: %d %v", version, code, out)
	}
	return out["deployment_id"].(string)
}

// complete marks a deployment success, which opens its watch window.
func complete(t *testing.T, m *Server, id string) {
	t.Helper()
	if code, out := testkit.Call(t, "PATCH", m.URL()+"/deployments/"+id, deployToken, `{"status":"success"}`); code != 200 {
		t.Fatalf("complete: %d %v", code, out)
	}
}

// errorsAt posts n errors of a deployment that occurred at `at`.
func errorsAt(t *testing.T, m *Server, id string, n int, at time.Time) {
	t.Helper()
	items := make([]string, n)
	for i := range items {
		items[i] = `{"deployment_id":"` + id + `","occurred_at":"` + at.UTC().Format(time.RFC3339Nano) + `","message":"TypeError: cart is undefined"}`
	}
	if code, out := testkit.Call(t, "POST", m.URL()+"/errors", deployToken, `{"events":[`+strings.Join(items, ",")+`]}`); code != 200 {
		t.Fatalf("ingest: %d %v", code, out)
	}
}

// TestBreachedReleaseStaysBadAcrossARestart: with auto_rollback never, a
// release that ran at 10 errors/minute inside its window is not marked
// health_check_passed after a restart, even though the reading at the
// window's end is clean, and a later rollback does not go back to it.
func TestBreachedReleaseStaysBadAcrossARestart(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "roman.db")
	start := time.Now().UTC().Truncate(time.Second)
	clock := testkit.NewClock(start)
	never := map[string]string{"ROMAN_AUTO_ROLLBACK": "never"}
	m, stop := startClocked(t, db, clock, never)
	recordAt(t, m, "production", "v2.5.2", "a7f3b29", "success", true, start.Add(-time.Hour))
	bad := recordAt(t, m, "production", "v2.5.3", "b81c4d0", "in_progress", false, start.Add(-time.Minute))
	complete(t, m, bad)
	clock.Add(time.Minute)
	errorsAt(t, m, bad, 10, clock.Now().Add(-5*time.Second))
	awaitMonitor(t, "the breach row", func() bool { return len(romanEvents(t, m, bad, roman.EventWatchBreach)) == 1 })
	stop()

	// Restart: a new server on the same file, after the errors aged out.
	clock.Add(3 * time.Minute)
	m, _ = startClocked(t, db, clock, never)
	m.Monitor.Tick(context.Background())
	clock.Set(start.Add(5*time.Minute + time.Second))
	m.Monitor.Tick(context.Background())
	awaitMonitor(t, "the window's verdict", func() bool { return len(romanEvents(t, m, bad, roman.EventWatchFailed)) == 1 })
	code, d := testkit.Call(t, "GET", m.URL()+"/deployments/"+bad, readToken, "")
	details, _ := d["health_check_details"].(map[string]any)
	if code != 200 || d["health_check_passed"] != false || details == nil || details["passed"] != false ||
		!strings.Contains(mustString(details["breaches"]), "High error rate: 10 errors/minute") {
		t.Fatalf("after the window: %d %v", code, d)
	}
	if n := len(romanEvents(t, m, bad, roman.EventWatchPassed)); n != 0 {
		t.Fatalf("%d passed rows", n)
	}

	// A newer release, rolled back by hand, goes back to v2.5.2, not to the
	// release that breached.
	newer := recordAt(t, m, "production", "v2.5.4", "c0ffee1", "in_progress", false, clock.Now())
	complete(t, m, newer)
	code, res := testkit.Call(t, "POST", m.URL()+"/auto-rollback", verdictRollbackToken, `{"deployment_id":"`+newer+`","trigger_reason":"Critical bug in payment flow"}`)
	target, _ := res["target_deployment"].(map[string]any)
	if code != 200 || target == nil || target["version"] != "v2.5.2" || target["deployment_id"] == bad {
		t.Fatalf("manual rollback: %d %v", code, res)
	}
}

// TestDeploymentAfterAManualRollbackIsRolledBack: the cooldown of a manual
// rollback does not cover a deployment recorded after it finished: that
// one is rolled back automatically on errors.
func TestDeploymentAfterAManualRollbackIsRolledBack(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "roman.db")
	start := time.Now().UTC().Truncate(time.Second)
	clock := testkit.NewClock(start)
	m, _ := startClocked(t, db, clock, nil)
	recordAt(t, m, "production", "v2.5.2", "a7f3b29", "success", true, start.Add(-time.Hour))
	v3 := recordAt(t, m, "production", "v2.5.3", "b81c4d0", "in_progress", false, start)
	complete(t, m, v3)
	clock.Add(time.Minute)
	code, res := testkit.Call(t, "POST", m.URL()+"/auto-rollback", verdictRollbackToken, `{"deployment_id":"`+v3+`","trigger_reason":"Critical bug in payment flow"}`)
	if code != 200 || res["success"] != true {
		t.Fatalf("manual rollback: %d %v", code, res)
	}
	awaitMonitor(t, "the manual rollback to finish", func() bool {
		h := history(t, m, "production")
		return len(h) == 1 && h[0].Finished()
	})

	// A minute later, inside the cooldown, a new release with errors.
	clock.Add(time.Minute)
	v4 := recordAt(t, m, "production", "v2.5.4", "c0ffee1", "in_progress", false, clock.Now())
	complete(t, m, v4)
	clock.Add(30 * time.Second)
	errorsAt(t, m, v4, 9, clock.Now().Add(-5*time.Second))
	awaitMonitor(t, "the automatic rollback of v2.5.4", func() bool {
		h := history(t, m, "production")
		return len(h) == 2 && h[0].Finished()
	})
	ev := history(t, m, "production")[0]
	if ev.DeploymentID != v4 || ev.TriggerType != roman.TriggerAutomatic || ev.Status != roman.RollbackSuccess {
		t.Fatalf("rollback event: %+v", ev)
	}
	if n := len(romanEvents(t, m, v4, roman.EventAutoRollbackSuppressed)); n != 0 {
		t.Fatalf("%d suppression rows", n)
	}
}

func mustString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestSuppressedRollbackShowsInTheCheck: errors on the deployment a manual
// rollback created are never rolled back automatically; the check says so,
// with the reason and the command to run, and the release is not healthy.
func TestSuppressedRollbackShowsInTheCheck(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "roman.db")
	start := time.Now().UTC().Truncate(time.Second)
	clock := testkit.NewClock(start)
	m, _ := startClocked(t, db, clock, nil)
	recordAt(t, m, "production", "v2.5.2", "a7f3b29", "success", true, start.Add(-time.Hour))
	v3 := recordAt(t, m, "production", "v2.5.3", "b81c4d0", "in_progress", false, start.Add(-2*time.Minute))
	complete(t, m, v3)
	code, res := testkit.Call(t, "POST", m.URL()+"/auto-rollback", verdictRollbackToken, `{"deployment_id":"`+v3+`","trigger_reason":"bug"}`)
	if code != 200 {
		t.Fatalf("manual rollback: %d %v", code, res)
	}
	awaitMonitor(t, "the manual rollback to finish", func() bool {
		h := history(t, m, "production")
		return len(h) == 1 && h[0].Finished()
	})
	redeploy := res["new_deployment_id"].(string)
	clock.Add(time.Minute)
	errorsAt(t, m, redeploy, 9, clock.Now().Add(-5*time.Second))
	awaitMonitor(t, "the suppression", func() bool { return len(romanEvents(t, m, redeploy, roman.EventAutoRollbackSuppressed)) == 1 })
	code, chk := testkit.Call(t, "GET", m.URL()+"/auto-rollback/check?deployment_id="+redeploy, readToken, "")
	if code != 200 || chk["suppressed"] != true || chk["suppressed_by"] != "rollback_deployment" || chk["suppressed_until"] != nil ||
		!strings.Contains(chk["command"].(string), "roman rollback "+redeploy+" --reason") {
		t.Fatalf("check: %d %v", code, chk)
	}
	if code, d := testkit.Call(t, "GET", m.URL()+"/deployments/"+redeploy, readToken, ""); code != 200 || d["health_check_passed"] != false {
		t.Fatalf("redeploy: %d %v", code, d)
	}
	if n := len(history(t, m, "production")); n != 1 {
		t.Fatalf("%d rollback events", n)
	}
}
