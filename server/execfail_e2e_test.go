package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
)

// TestExecutorFailureOverHTTP: a manual rollback whose executor (a command)
// fails leaves the bad release running and says so: the bad release is
// success again with no rolled_back_at, the redeploy row and the event are
// failed, a rollback_failed alert is queued, errors posted by environment
// count for the bad release, and the same request sent again once the
// platform is back is accepted at once and rolls back.
func TestExecutorFailureOverHTTP(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(hook.Close)
	run := func(t *testing.T, database string) {
		up := filepath.Join(t.TempDir(), "platform-up")
		m := startServer(t, database, map[string]string{
			"ROMAN_EXECUTOR":            "command",
			"ROMAN_EXECUTOR_COMMAND":    `/bin/sh -c 'test -f ` + up + ` || { echo "platform unreachable" >&2; exit 3; }'`,
			"ROMAN_DISCORD_WEBHOOK_URL": hook.URL + "/api/webhooks/1/x",
		})
		base := m.URL()
		ctx := context.Background()
		badID := deployPair(t, m, "production")
		body := `{"deployment_id":"` + badID + `","trigger_reason":"Critical bug in payment flow"}`

		code, out := testkit.Call(t, "POST", base+"/functions/v1/auto-rollback", adminToken, body)
		if code != 200 || out["success"] != false || out["status"] != roman.RollbackFailed {
			t.Fatalf("rollback with a failing executor: %d %v", code, out)
		}
		eventID, _ := out["event_id"].(string)
		if msg, _ := out["error"].(string); !strings.HasPrefix(msg, "executor command failed") || !strings.Contains(msg, "v2.5.3 is still live") {
			t.Fatalf("error %q", msg)
		}
		code, bad := testkit.Call(t, "GET", base+"/deployments/"+badID, readToken, "")
		if code != 200 || bad["status"] != roman.StatusSuccess || bad["rolled_back_at"] != nil {
			t.Fatalf("bad release after the failed executor: %d %v", code, bad)
		}
		ev, err := m.Store.GetRollbackEvent(ctx, eventID)
		if err != nil || ev.Status != roman.RollbackFailed {
			t.Fatalf("event %+v %v", ev, err)
		}
		var plan struct {
			NewID string `json:"new_deployment_id"`
		}
		if err := json.Unmarshal(ev.RollbackPlan, &plan); err != nil {
			t.Fatal(err)
		}
		if nd, err := m.Store.GetDeployment(ctx, plan.NewID); err != nil || nd.Status != roman.StatusFailed {
			t.Fatalf("redeploy row %+v %v", nd, err)
		}
		alerts, err := m.Store.ListAlerts(ctx, roman.OutboxFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var failed []roman.Alert
		for _, a := range alerts {
			if a.Alert.Kind == roman.AlertRollbackFailed {
				failed = append(failed, a.Alert)
			}
		}
		if len(failed) != 1 || failed[0].RollbackEventID != eventID || !strings.Contains(failed[0].Detail, "v2.5.3 is still live") {
			t.Fatalf("rollback_failed alerts %+v", failed)
		}
		// An error posted by environment belongs to the release that runs.
		code, out = testkit.Call(t, "POST", base+"/errors", deployToken, errorBatch("production", 1, ago(time.Second)))
		if ids, _ := out["deployment_ids"].([]any); code != 200 || len(ids) != 1 || ids[0] != badID {
			t.Fatalf("errors by environment: %d %v", code, out)
		}

		// The platform is back: the same request is accepted at once.
		if err := os.WriteFile(up, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		code, out = testkit.Call(t, "POST", base+"/functions/v1/auto-rollback", adminToken, body)
		if code != 200 || out["success"] != true || out["status"] != roman.RollbackSuccess || out["event_id"] == eventID {
			t.Fatalf("retry: %d %v", code, out)
		}
		if code, bad = testkit.Call(t, "GET", base+"/deployments/"+badID, readToken, ""); bad["status"] != roman.StatusRolledBack || bad["rolled_back_at"] == nil {
			t.Fatalf("bad release after the retry: %d %v", code, bad)
		}
	}
	t.Run("sqlite", func(t *testing.T) { run(t, "sqlite://"+filepath.Join(t.TempDir(), "roman.db")) })
	t.Run("postgres", func(t *testing.T) { run(t, testpg.URL(t)) })
}
