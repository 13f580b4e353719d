package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/retention"
)

// TestOnlyTheLeaderPrunes runs two replicas on one PostgreSQL. The one that
// does not lead never prunes, although its clock says a pass is due and
// rows older than the retention wait; once the leader closes and it takes
// over, it prunes them, leaving one retention row.
func TestOnlyTheLeaderPrunes(t *testing.T) {
	url := testpg.URL(t)
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	settings := map[string]string{"ROMAN_RETENTION": "48h", "ROMAN_MONITOR_INTERVAL": "20ms"}
	leaderClock, otherClock := testkit.NewClock(start), testkit.NewClock(start)
	a := openServer(t, url, leaderClock.Now, nil, settings)
	aClosed := false
	t.Cleanup(func() {
		if !aClosed {
			a.Close()
		}
	})
	b := closedAtEnd(t, openServer(t, url, otherClock.Now, nil, settings))
	if ga, gb := leaderGauge(t, a.URL()), leaderGauge(t, b.URL()); ga != "1" || gb != "0" {
		t.Fatalf("roman_monitor_leader: first %s, second %s; want the first", ga, gb)
	}
	if code, out := testkit.Call(t, "POST", b.URL()+"/deployments", deployToken,
		`{"environment":"production","version":"v1","git_commit":"abc1234","git_branch":"main","status":"success","health_check_passed":true,"deployed_at":"2026-02-01T00:00:00Z"}`); code != 201 {
		t.Fatalf("record: %d %v", code, out)
	}
	var errs []string
	for i := 0; i < 10; i++ {
		errs = append(errs, fmt.Sprintf(`{"environment":"production","message":"old %d","occurred_at":%q}`, i,
			start.Add(-72*time.Hour-time.Duration(i)*time.Minute).Format(time.RFC3339)))
	}
	if code, out := testkit.Call(t, "POST", b.URL()+"/errors", deployToken, `{"events":[`+strings.Join(errs, ",")+`]}`); code >= 300 {
		t.Fatalf("errors: %d %v", code, out)
	}
	count := func() int {
		var n int
		if err := b.Store.SQL().QueryRow(`SELECT count(*) FROM error_events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	pruned := func() []*roman.RomanEvent {
		evs, err := b.Store.ListRomanEvents(t.Context(), roman.RomanEventFilter{EventType: retention.EventPruned})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	// The follower's pass is due on its clock (its first, and an hour
	// later), and it looks every 20 ms; the leader's clock stands still
	// after its first pass, which ran before the old rows arrived.
	otherClock.Add(retention.DefaultEvery + time.Minute)
	time.Sleep(time.Second)
	if n, evs := count(), pruned(); n != 10 || len(evs) != 0 {
		t.Fatalf("while the other replica leads: %d of 10 old errors left, %d retention rows; the follower pruned", n, len(evs))
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	aClosed = true
	awaitMonitor(t, "the takeover", func() bool { return leaderGauge(t, b.URL()) == "1" })
	awaitMonitor(t, "the new leader's prune", func() bool { return len(pruned()) > 0 })
	if n, evs := count(), pruned(); n != 0 || len(evs) != 1 {
		t.Fatalf("after the takeover: %d old errors left, %d retention rows; want 0 and 1", n, len(evs))
	}
}
