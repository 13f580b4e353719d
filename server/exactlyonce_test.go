package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// TestHundredConcurrentRollbacks is the exactly-once test: 100
// rollback requests for one environment at once, against the real server on
// each store. Exactly one is executed (one executor run, one rollback
// deployment row, one successful event); every other request is answered
// 409 with the event_id of the one that runs (or ran) it.
func TestHundredConcurrentRollbacks(t *testing.T) {
	for _, s := range testkit.Stores {
		t.Run(s.Name, func(t *testing.T) {
			runs := filepath.Join(t.TempDir(), "runs.log")
			// The executor appends a line per run and takes a moment, so the
			// requests overlap the unfinished rollback.
			m := startServer(t, s.URL(t), map[string]string{
				"ROMAN_EXECUTOR":         "command",
				"ROMAN_EXECUTOR_COMMAND": `/bin/sh -c 'echo "$ROMAN_EVENT_ID" >> ` + runs + `; sleep 0.3'`,
			})
			base := m.URL()
			testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v2.5.2","git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true,"deployed_at":"2025-12-15T13:45:00Z"}`)
			_, bad := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v2.5.3","git_commit":"b81c4d0","git_branch":"main","status":"success"}`)
			badID := bad["deployment_id"].(string)

			const n = 100
			type answer struct {
				code int
				body map[string]any
			}
			answers := make([]answer, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					code, body := testkit.Call(t, "POST", base+"/auto-rollback", adminToken, `{"deployment_id":"`+badID+`","trigger_reason":"Critical bug in payment flow"}`)
					answers[i] = answer{code, body}
				}()
			}
			close(start)
			wg.Wait()

			var winner string
			for _, a := range answers {
				if a.code == 200 {
					if winner != "" {
						t.Fatalf("two requests executed: %s and %v", winner, a.body["event_id"])
					}
					winner, _ = a.body["event_id"].(string)
					if a.body["status"] != roman.RollbackSuccess {
						t.Errorf("winner: %v", a.body)
					}
				}
			}
			if winner == "" {
				t.Fatalf("no request executed: %+v", answers[0])
			}
			for i, a := range answers {
				if a.code == 200 {
					continue
				}
				if a.code != 409 || a.body["event_id"] != winner || a.body["success"] != false {
					t.Fatalf("answer %d: %d %v (want 409 naming %s)", i, a.code, a.body, winner)
				}
			}
			b, err := os.ReadFile(runs)
			if err != nil {
				t.Fatal(err)
			}
			if lines := strings.Fields(string(b)); len(lines) != 1 || lines[0] != winner {
				t.Fatalf("the executor ran %d times: %q", len(lines), b)
			}
			_, list := testkit.Call(t, "GET", base+"/deployments?environment=production", readToken, "")
			rollbackRows := 0
			for _, d := range list["deployments"].([]any) {
				if d.(map[string]any)["rollback_from"] == badID {
					rollbackRows++
				}
			}
			if rollbackRows != 1 {
				t.Fatalf("%d rollback deployment rows", rollbackRows)
			}
			_, hist := testkit.Call(t, "GET", base+"/auto-rollback/history?limit=1000", readToken, "")
			success := 0
			for _, e := range hist["rollbacks"].([]any) {
				ev := e.(map[string]any)
				switch ev["status"] {
				case "success":
					success++
				case "pending", "in_progress":
					t.Errorf("event left unfinished: %v", ev)
				}
			}
			if success != 1 {
				t.Fatalf("%d successful rollback events", success)
			}
			// The store rejects a second unfinished event for the environment
			// on its own, whatever the service does (the unique partial index).
			ev1 := &roman.RollbackEvent{DeploymentID: badID, TriggerType: roman.TriggerManual, TriggerReason: "x", Status: roman.RollbackPending}
			if err := m.Store.CreateRollbackEvent(context.Background(), ev1); err != nil {
				t.Fatal(err)
			}
			ev2 := &roman.RollbackEvent{DeploymentID: badID, TriggerType: roman.TriggerManual, TriggerReason: "y", Status: roman.RollbackInProgress}
			err = m.Store.CreateRollbackEvent(context.Background(), ev2)
			var re *roman.Error
			if roman.ErrorCode(err) != roman.ECONFLICT || !asRomanErr(err, &re) || re.EventID != ev1.EventID {
				t.Fatalf("second unfinished event: %v", err)
			}
		})
	}
}

func asRomanErr(err error, target **roman.Error) bool {
	e, ok := err.(*roman.Error)
	if ok {
		*target = e
	}
	return ok
}
