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

// TestLeaderPrunesJudgeTables checks on both stores, on a fake clock, that
// the leader's pass prunes the error groups whose events are past the
// retention (48h here) and forgets a fingerprint no release has seen within
// it, while one still seen stays known: after the pass, a new release with
// both has the forgotten one as new and the remembered one as known (first
// seen on the old release), in GET /deployments/{id}/errors.
func TestLeaderPrunesJudgeTables(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		m := closedAtEnd(t, openServer(t, url, clock.Now, nil, map[string]string{
			"ROMAN_RETENTION": "48h", "ROMAN_MONITOR_INTERVAL": "20ms"}))
		now := clock.Now()
		v1 := recordAt(t, m, "production", "v1", "a7f3b29", "success", true, now.Add(-30*24*time.Hour))
		v2 := recordAt(t, m, "production", "v2", "b81c4d0", "success", true, now.Add(-24*time.Hour))
		send := func(id string, at time.Time, fps ...string) {
			t.Helper()
			items := make([]string, len(fps))
			for i, fp := range fps {
				items[i] = fmt.Sprintf(`{"deployment_id":%q,"occurred_at":%q,"message":"boom","fingerprint":%q}`, id, at.Format(time.RFC3339), fp)
			}
			if code, out := testkit.Call(t, "POST", m.URL()+"/errors", deployToken, `{"events":[`+strings.Join(items, ",")+`]}`); code != 200 {
				t.Fatalf("ingest: %d %v", code, out)
			}
		}
		send(v1, now.Add(-72*time.Hour), "fp-forgotten", "fp-remembered")
		send(v2, now.Add(-time.Hour), "fp-remembered")

		// The first pass ran at start, before the rows arrived; the next is
		// due an hour later on the clock.
		clock.Add(retention.DefaultEvery + time.Minute)
		var pruned []*roman.RomanEvent
		awaitMonitor(t, "the retention pass", func() bool {
			pruned = romanEventsOfType(t, m, retention.EventPruned)
			return len(pruned) > 0
		})
		var md struct {
			ErrorEvents int64                 `json:"error_events"`
			Judge       retention.JudgeCounts `json:"judge"`
		}
		if err := json.Unmarshal(pruned[0].Metadata, &md); err != nil || md.ErrorEvents != 2 || md.Judge.DeploymentFingerprints != 2 ||
			md.Judge.ErrorFingerprints != 1 || md.Judge.ErrorSeconds != 0 {
			t.Fatalf("retention row metadata %s: want 2 error events, 2 groups and 1 first sighting", pruned[0].Metadata)
		}
		code, out := testkit.Call(t, "GET", m.URL()+"/deployments/"+v1+"/errors", readToken, "")
		if gs, _ := out["errors"].([]any); code != 200 || len(gs) != 0 {
			t.Fatalf("v1's groups after the pass: %d %v", code, out)
		}

		v3 := recordAt(t, m, "production", "v3", "c0ffee1", "success", false, clock.Now())
		send(v3, clock.Now(), "fp-forgotten", "fp-remembered")
		code, out = testkit.Call(t, "GET", m.URL()+"/deployments/"+v3+"/errors", readToken, "")
		if code != 200 {
			t.Fatalf("v3's errors: %d %v", code, out)
		}
		groups := map[string]map[string]any{}
		for _, g := range out["errors"].([]any) {
			g := g.(map[string]any)
			groups[g["fingerprint"].(string)] = g
		}
		if g := groups["fp-forgotten"]; g == nil || g["new"] != true || g["first_deployment_id"] != v3 {
			t.Errorf("a fingerprint not seen within the retention, back on v3: %v, want new", g)
		}
		if g := groups["fp-remembered"]; g == nil || g["new"] != false || g["first_deployment_id"] != v1 {
			t.Errorf("a fingerprint seen within the retention, on v3: %v, want known, first on v1", g)
		}
	})
}

// romanEventsOfType reads every roman_events row of one type.
func romanEventsOfType(t *testing.T, m *Server, typ string) []*roman.RomanEvent {
	t.Helper()
	evs, err := m.Store.ListRomanEvents(t.Context(), roman.RomanEventFilter{EventType: typ})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}
