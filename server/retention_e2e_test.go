package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/retention"
)

// TestScopeCapsAttack is the growth attack: a deploy key records
// deployments in ever new environments (and services). Past the caps, set
// small through the environment, the next new one is refused with 422
// naming the cap and its setting, and nothing is written; deployments in
// the environments and services that exist still go through.
func TestScopeCapsAttack(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		m := startServer(t, url, map[string]string{"ROMAN_MAX_ENVIRONMENTS": "3", "ROMAN_MAX_SERVICES": "2"})
		base := m.URL()
		record := func(service, env string) (int, map[string]any) {
			return testkit.Call(t, "POST", base+"/deployments", deployToken,
				fmt.Sprintf(`{"service":%q,"environment":%q,"version":"v1","git_commit":"abc1234","git_branch":"main","status":"success"}`, service, env))
		}
		for i := range 3 {
			if code, out := record("api", fmt.Sprintf("env-%d", i)); code != 201 {
				t.Fatalf("environment %d of 3: %d %v", i, code, out)
			}
		}
		count := func() int {
			ds, err := m.Store.ListDeployments(t.Context(), roman.DeploymentFilter{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			return len(ds)
		}
		before := count()
		code, out := record("api", "env-3")
		if code != 422 {
			t.Fatalf("a fourth environment past max_environments=3: %d %v, want 422", code, out)
		}
		if msg, _ := out["error"].(string); !strings.Contains(msg, "max_environments") || !strings.Contains(msg, "3 environments") {
			t.Errorf("the refusal does not name the cap and its setting: %v", out)
		}
		if got := count(); got != before {
			t.Errorf("a refused deployment was written: %d deployments, want %d", got, before)
		}
		// The existing environments still take deployments.
		if code, out := record("api", "env-0"); code != 201 {
			t.Fatalf("a deployment in an existing environment: %d %v", code, out)
		}
		// Services: one more (web) fits, the third does not.
		if code, out := record("web", "env-1"); code != 201 {
			t.Fatalf("a second service of 2: %d %v", code, out)
		}
		before = count()
		code, out = record("worker", "env-1")
		if msg, _ := out["error"].(string); code != 422 || !strings.Contains(msg, "max_services") {
			t.Fatalf("a third service past max_services=2: %d %v, want 422 naming max_services", code, out)
		}
		if got := count(); got != before {
			t.Errorf("a refused deployment was written: %d deployments, want %d", got, before)
		}
	})
}

// TestLeaderPrunesOldSignals checks, on a fake clock, that the server
// deletes error events and metric samples older than the retention (set
// to 48h here) once a pass is due, keeps the recent ones and the audit
// tables, and leaves a retention_pruned row with the counts.
func TestLeaderPrunesOldSignals(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		m := closedAtEnd(t, openServer(t, url, clock.Now, nil, map[string]string{
			"ROMAN_RETENTION": "48h", "ROMAN_MONITOR_INTERVAL": "20ms"}))
		base := m.URL()
		if code, out := testkit.Call(t, "POST", base+"/deployments", deployToken,
			`{"environment":"production","version":"v1","git_commit":"abc1234","git_branch":"main","status":"success","health_check_passed":true,"deployed_at":"2026-02-01T00:00:00Z"}`); code != 201 {
			t.Fatalf("record: %d %v", code, out)
		}
		now := clock.Now()
		var errs, metrics []string
		for i, at := range []time.Time{now.Add(-72 * time.Hour), now.Add(-50 * time.Hour), now.Add(-time.Hour), now} {
			ts := at.Format(time.RFC3339)
			errs = append(errs, fmt.Sprintf(`{"environment":"production","message":"boom %d","occurred_at":%q}`, i, ts))
			metrics = append(metrics, fmt.Sprintf(`{"environment":"production","name":"latency_ms","value":%d,"at":%q}`, i, ts))
		}
		if code, out := testkit.Call(t, "POST", base+"/errors", deployToken, `{"events":[`+strings.Join(errs, ",")+`]}`); code >= 300 {
			t.Fatalf("errors: %d %v", code, out)
		}
		if code, out := testkit.Call(t, "POST", base+"/metrics/samples", deployToken, `{"samples":[`+strings.Join(metrics, ",")+`]}`); code >= 300 {
			t.Fatalf("metrics: %d %v", code, out)
		}
		counts := func() (int, int, int) {
			var e, s, d int
			db := m.Store.SQL()
			for q, p := range map[string]*int{"SELECT count(*) FROM error_events": &e, "SELECT count(*) FROM metric_samples": &s,
				"SELECT count(*) FROM deployments": &d} {
				if err := db.QueryRow(q).Scan(p); err != nil {
					t.Fatal(err)
				}
			}
			return e, s, d
		}
		if e, s, _ := counts(); e != 4 || s != 4 {
			t.Fatalf("stored %d errors and %d samples, want 4 and 4", e, s)
		}
		// The first pass ran at start, before the old rows arrived; the next
		// is due an hour later on the clock.
		clock.Add(retention.DefaultEvery + time.Minute)
		pruned := func() []*roman.RomanEvent {
			evs, err := m.Store.ListRomanEvents(t.Context(), roman.RomanEventFilter{EventType: retention.EventPruned})
			if err != nil {
				t.Fatal(err)
			}
			return evs
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			// The pass writes its row once it has deleted everything.
			if len(pruned()) > 0 {
				break
			}
			if time.Now().After(deadline) {
				e, s, _ := counts()
				t.Fatalf("no retention row after the pass: %d errors and %d samples left", e, s)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if e, s, _ := counts(); e != 2 || s != 2 {
			t.Errorf("after the pass: %d errors and %d samples, want the 2 recent of each", e, s)
		}
		if _, _, d := counts(); d != 1 {
			t.Errorf("deployments = %d after pruning, want 1 (audit tables are kept)", d)
		}
		evs := pruned()
		if len(evs) != 1 {
			t.Fatalf("%d retention rows, want 1", len(evs))
		}
		var md map[string]any
		if err := json.Unmarshal(evs[0].Metadata, &md); err != nil || md["error_events"] != 2.0 || md["metric_samples"] != 2.0 {
			t.Fatalf("retention row metadata = %s, want error_events 2 and metric_samples 2", evs[0].Metadata)
		}
	})
}
