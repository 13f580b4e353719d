package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// echoReceiver is a webhook receiver on a URL whose every part is a secret
// (testkit.SecretURL) that answers each call with that URL and the HMAC
// key echoed in every encoding (testkit.EchoBody), with the status status
// gives for the n-th call.
type echoReceiver struct {
	url    string
	pieces []string
	calls  atomic.Int64
}

func newEchoReceiver(t *testing.T, hmacKey string, status func(n int64) int) *echoReceiver {
	e := &echoReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status(e.calls.Add(1)))
		io.WriteString(w, testkit.EchoBody(r, e.pieces))
	}))
	t.Cleanup(srv.Close)
	e.url = testkit.SecretURL(srv.URL)
	e.pieces = testkit.SecretPieces(e.url, hmacKey)
	return e
}

// TestEchoedSecretsStayOutOfEverythingKept: the webhook executor's receiver
// and all three alert channels echo their URLs (userinfo, path tokens,
// query value) and HMAC keys in every encoding. The rollback still runs and
// its step detail keeps the answers, but no encoding of any secret reaches
// what a read key can see (rollback_steps in the history, roman_events),
// the alert outbox, or the server's logs.
func TestEchoedSecretsStayOutOfEverythingKept(t *testing.T) {
	const executorKey, alertKey = "exec-Key/with+special=chars&<>", "alert-Key/with+special=chars&<>"
	testkit.EachStore(t, func(t *testing.T, database string) {
		// The executor's receiver fails once (retried) and then accepts.
		exec := newEchoReceiver(t, executorKey, func(n int64) int {
			if n == 1 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		})
		refuse := func(int64) int { return http.StatusBadRequest }
		disc, slack, hook := newEchoReceiver(t, "", refuse), newEchoReceiver(t, "", refuse), newEchoReceiver(t, alertKey, refuse)
		logs := &testkit.Sink{}
		m := closedAtEnd(t, openServer(t, database, nil, logs, map[string]string{
			"ROMAN_EXECUTOR":                "webhook",
			"ROMAN_EXECUTOR_WEBHOOK_URL":    exec.url,
			"ROMAN_EXECUTOR_WEBHOOK_SECRET": executorKey,
			"ROMAN_DISCORD_WEBHOOK_URL":     disc.url,
			"ROMAN_SLACK_WEBHOOK_URL":       slack.url,
			"ROMAN_ALERT_WEBHOOK_URL":       hook.url,
			"ROMAN_ALERT_WEBHOOK_SECRET":    alertKey,
		}))
		rollbackScenario(t, m, "production", time.Now().Add(-15*time.Minute))
		if exec.calls.Load() != 2 {
			t.Fatalf("the executor's receiver got %d calls, want 2", exec.calls.Load())
		}
		ctx := context.Background()
		var rows []*roman.OutboxAlert
		waitUntil(t, "every alert refused and given up", 30*time.Second, func() bool {
			var err error
			rows, err = m.Store.ListAlerts(ctx, roman.OutboxFilter{})
			if err != nil || len(rows) == 0 {
				return false
			}
			for _, r := range rows {
				if r.FailedAt == nil {
					return false
				}
			}
			return true
		})
		_, history := testkit.CallRaw(t, "GET", m.URL()+"/auto-rollback/history", readToken, "")
		_, events := testkit.CallRaw(t, "GET", m.URL()+"/events?limit=1000", readToken, "")
		outbox, _ := json.Marshal(rows)
		if !strings.Contains(string(history), "no route for this request") {
			t.Fatalf("the step detail should keep the receiver's (scrubbed) answer: %s", history)
		}
		if !strings.Contains(string(events), "alert_undeliverable") || !strings.Contains(string(events), "no route for this request") {
			t.Fatalf("roman_events should say why each alert was given up, quoting the answer: %s", events)
		}
		for what, text := range map[string]string{
			"rollback history": string(history), "roman_events": string(events),
			"alert outbox": string(outbox), "logs": logs.String(),
		} {
			for _, r := range []*echoReceiver{exec, disc, slack, hook} {
				if leaks := testkit.Leaks(text, r.pieces); len(leaks) > 0 {
					t.Errorf("%s keeps %q", what, leaks)
				}
			}
		}
	})
}

// TestSnapshotsRedactTheExecutorCommandsArguments: a command executor's
// line carries a token as an argument; a snapshot, readable with a read
// key, shows the program and how many arguments it gets, not what they
// are.
func TestSnapshotsRedactTheExecutorCommandsArguments(t *testing.T) {
	const token = "tok_9f8e7d6c5b4a3f2e1d0c"
	testkit.EachStore(t, func(t *testing.T, database string) {
		m := startServer(t, database, map[string]string{
			"ROMAN_EXECUTOR":         "command",
			"ROMAN_EXECUTOR_COMMAND": `/usr/local/bin/deploy --api-token=` + token + ` "--password" 'hunter2-but-longer' production`,
		})
		code, d := testkit.Call(t, "POST", m.URL()+"/deployments", deployToken,
			`{"environment":"production","version":"v1","git_commit":"a7f3b29","git_branch":"main","status":"success"}`)
		if code != 201 {
			t.Fatalf("record: %d %v", code, d)
		}
		code, snap := testkit.Call(t, "POST", m.URL()+"/deployments/"+d["deployment_id"].(string)+"/snapshots", deployToken, `{"snapshot_type":"pre_deployment"}`)
		if code != 201 {
			t.Fatalf("snapshot: %d %v", code, snap)
		}
		code, raw := testkit.CallRaw(t, "GET", m.URL()+"/snapshots/"+snap["snapshot_id"].(string), readToken, "")
		if code != 200 || strings.Contains(string(raw), token) || strings.Contains(string(raw), "hunter2") || strings.Contains(string(raw), "api-token") {
			t.Fatalf("the snapshot shows the command's arguments: %d %s", code, raw)
		}
		var got struct {
			EnvironmentConfig map[string]any `json:"environment_config"`
		}
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		want := "/usr/local/bin/deploy " + strings.Repeat(roman.Redacted+" ", 4)
		if got.EnvironmentConfig["executor_command"] != strings.TrimSpace(want) {
			t.Errorf("executor_command = %q, want %q", got.EnvironmentConfig["executor_command"], strings.TrimSpace(want))
		}
	})
}
