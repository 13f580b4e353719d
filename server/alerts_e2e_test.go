package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/discord"
	"github.com/odyssey-1/roman/internal/testkit"
)

// discordChannel is a Discord webhook that is down (alternating 500 and
// Discord's 429) until brought up, and then records each alert it gets.
type discordChannel struct {
	srv   *httptest.Server
	up    atomic.Bool
	block chan struct{} // when set, requests wait on it
	hits  atomic.Int64
	mu    sync.Mutex
	got   []discord.Message
}

func newDiscordChannel(t *testing.T) *discordChannel {
	c := &discordChannel{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := c.hits.Add(1)
		if c.block != nil {
			<-c.block
		}
		if !c.up.Load() {
			if n%2 == 0 {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, `{"message": "You are being rate limited.", "retry_after": 2.5, "global": false}`)
				return
			}
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var m discord.Message
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &m); err != nil || len(m.Embeds) != 1 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.got = append(c.got, m)
		c.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(func() {
		if c.block != nil {
			select {
			case <-c.block:
			default:
				close(c.block)
			}
		}
		c.srv.Close()
	})
	return c
}

func (c *discordChannel) received() []discord.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]discord.Message(nil), c.got...)
}

// waitFor polls cond (real time) until it holds or the deadline passes.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rollbackScenario records a healthy and a bad deployment of env and rolls
// the bad one back over HTTP; it returns the bad deployment's id.
func rollbackScenario(t *testing.T, m *Server, env string, goodAt time.Time) string {
	t.Helper()
	base := m.URL()
	code, _ := testkit.Call(t, "POST", base+"/deployments", deployToken, fmt.Sprintf(
		`{"environment":%q,"version":"v2.5.2","git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true,"deployed_at":%q}`,
		env, goodAt.Format(time.RFC3339)))
	if code != 201 {
		t.Fatalf("record good: %d", code)
	}
	code, bad := testkit.Call(t, "POST", base+"/deployments", deployToken, fmt.Sprintf(`{"environment":%q,"version":"v2.5.3","git_commit":"b81c4d0","git_branch":"main","status":"success"}`, env))
	if code != 201 {
		t.Fatalf("record bad: %d %v", code, bad)
	}
	id := bad["deployment_id"].(string)
	code, res := testkit.Call(t, "POST", base+"/auto-rollback", adminToken, `{"deployment_id":"`+id+`","trigger_reason":"Critical bug in payment flow"}`)
	if code != 200 || res["success"] != true {
		t.Fatalf("rollback: %d %v", code, res)
	}
	return id
}

// TestAlertsSurviveChannelOutageAndRestart keeps the Discord channel down
// while alerts accumulate (500s and 429s), restarts the server on the same
// database, brings the channel up, and sees every alert delivered, in order
// per deployment, none twice, and the webhook URL in no log.
func TestAlertsSurviveChannelOutageAndRestart(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, database string) {
		ch := newDiscordChannel(t)
		hook := ch.srv.URL + "/api/webhooks/123/SECRET-webhook-token"
		clock := testkit.NewClock(time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC))
		logs := &testkit.Sink{}
		settings := map[string]string{"ROMAN_DISCORD_WEBHOOK_URL": hook}
		m := openServer(t, database, clock.Now, logs, settings)

		// Alerts accumulate while the channel is down: two rollbacks
		// (triggered + completed each) and a rejection.
		prod := rollbackScenario(t, m, "production", clock.Now().Add(-15*time.Minute))
		staging := rollbackScenario(t, m, "staging", clock.Now().Add(-15*time.Minute))
		_, first := testkit.Call(t, "POST", m.URL()+"/deployments", deployToken, `{"environment":"dev","version":"v1","git_commit":"c0ffee1","git_branch":"main","status":"success"}`)
		if code, _ := testkit.Call(t, "POST", m.URL()+"/auto-rollback", adminToken, `{"deployment_id":"`+first["deployment_id"].(string)+`","trigger_reason":"broken"}`); code != 422 {
			t.Fatalf("rejection: %d", code)
		}
		ctx := context.Background()
		rows, err := m.Store.ListAlerts(ctx, roman.OutboxFilter{})
		if err != nil || len(rows) != 5 {
			t.Fatalf("outbox rows = %d, %v; want 5", len(rows), err)
		}
		// The channel is tried again and again (each deployment's first
		// alert; the later ones wait behind it) and fails every time.
		waitUntil(t, "failed delivery attempts", 10*time.Second, func() bool {
			clock.Add(10 * time.Second) // let backoffs and retry_after pass
			return ch.hits.Load() >= 8
		})
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if got := ch.received(); len(got) != 0 {
			t.Fatalf("%d alerts delivered while the channel was down", len(got))
		}

		// The outage lasts over an hour, with roman down part of
		// it; then roman restarts on the same database and the channel
		// comes back.
		clock.Add(time.Hour)
		ch.up.Store(true)
		m2 := openServer(t, database, clock.Now, logs, settings)
		defer m2.Close()
		waitUntil(t, "every alert delivered", 20*time.Second, func() bool {
			clock.Add(30 * time.Second)
			rs, _ := m2.Store.ListAlerts(ctx, roman.OutboxFilter{Pending: true})
			return len(rs) == 0
		})
		got := ch.received()
		seen := map[string]int{}
		perDeployment := map[string][]string{}
		for _, msg := range got {
			e := msg.Embeds[0]
			seen[e.Footer.Text]++
			for _, line := range strings.Split(e.Description, "\n") {
				if dep, ok := strings.CutPrefix(line, "Deployment: "); ok {
					perDeployment[dep] = append(perDeployment[dep], e.Title)
				}
			}
		}
		if len(got) != 5 || len(seen) != 5 {
			t.Fatalf("received %d alerts (%d distinct), want 5 once each", len(got), len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s delivered %d times", id, n)
			}
		}
		for _, dep := range []string{"v2.5.3 (" + prod + ")", "v2.5.3 (" + staging + ")"} {
			if want := []string{"🚨 ROLLBACK INITIATED", "✅ ROLLBACK COMPLETE"}; fmt.Sprint(perDeployment[dep]) != fmt.Sprint(want) {
				t.Errorf("deployment %s got %v, want %v in that order", dep, perDeployment[dep], want)
			}
		}
		rs, _ := m2.Store.ListAlerts(ctx, roman.OutboxFilter{})
		for _, r := range rs {
			// Each deployment's first alert failed during the outage; the
			// ones behind it went out at their first attempt, after it.
			first := r.Kind != roman.AlertRollbackCompleted
			if r.DeliveredAt == nil || r.FailedAt != nil || (first && r.Attempts < 2) || (!first && r.Attempts != 1) {
				t.Errorf("row %d (%s): delivered %v, failed %v, attempts %d", r.ID, r.Kind, r.DeliveredAt, r.FailedAt, r.Attempts)
			}
		}
		// The secret URL appears in no log line, roman event or outbox error.
		if strings.Contains(logs.String(), "SECRET") || !strings.Contains(logs.String(), "alert delivery failed") {
			t.Errorf("logs leak the webhook URL or lack the failures:\n%s", logs.String())
		}
		evs, _ := m2.Store.ListRomanEvents(ctx, roman.RomanEventFilter{Limit: 1000})
		for _, e := range evs {
			if strings.Contains(e.Message+string(e.Metadata), "SECRET") {
				t.Errorf("roman event leaks the webhook URL: %s %s", e.Message, e.Metadata)
			}
		}
		for _, r := range rs {
			if strings.Contains(r.LastError, "SECRET") {
				t.Errorf("outbox error leaks the webhook URL: %s", r.LastError)
			}
		}
	})
}

// TestDeadChannelNeverDelaysARollback holds every request to the alert
// channel open: the rollback still answers success, while the channel is
// stuck.
func TestDeadChannelNeverDelaysARollback(t *testing.T) {
	ch := newDiscordChannel(t)
	ch.block = make(chan struct{})
	clock := testkit.NewClock(time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC))
	m := openServer(t, testkit.SQLiteURL(t), clock.Now, nil,
		map[string]string{"ROMAN_DISCORD_WEBHOOK_URL": ch.srv.URL + "/api/webhooks/1/x"})
	defer m.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		rollbackScenario(t, m, "production", clock.Now().Add(-15*time.Minute))
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the rollback waited for the alert channel")
	}
	// The sender is stuck on the channel right now, not the rollback.
	waitUntil(t, "the sender to reach the channel", 10*time.Second, func() bool { return ch.hits.Load() > 0 })
	close(ch.block)
}
