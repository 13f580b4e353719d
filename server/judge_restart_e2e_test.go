package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// TestJudgeExtensionSurvivesARestart runs the baseline judge through the
// real server on a fake clock, on both stores: the previous release
// reported request counts, the new one reports none, so its window ends
// inconclusive and is extended. The server is closed and reopened on the
// same store inside the extension: the extension still holds (no second
// "extension 1", no verdict at the configured end), the release is not
// marked healthy, and the second extension and the final warning come
// when they would have without the restart.
func TestJudgeExtensionSurvivesARestart(t *testing.T) {
	settings := map[string]string{"ROMAN_JUDGE": "baseline", "ROMAN_AUTO_ROLLBACK": "window"}
	testkit.EachStore(t, func(t *testing.T, url string) {
		start := time.Now().UTC().Truncate(time.Second)
		clock := testkit.NewClock(start)
		m, stop := startClocked(t, url, clock, settings)
		prev := recordAt(t, m, "production", "v2.5.2", "a7f3b29", "success", true, start.Add(-time.Hour))
		samples := make([]string, 30)
		for i := range samples {
			samples[i] = fmt.Sprintf(`{"deployment_id":%q,"name":"requests","value":1000,"at":%q}`, prev, start.Add(-time.Duration(i+1)*time.Minute).Format(time.RFC3339))
		}
		if code, out := testkit.Call(t, "POST", m.URL()+"/metrics/samples", deployToken, `{"samples":[`+strings.Join(samples, ",")+`]}`); code != 200 {
			t.Fatalf("requests of the previous release: %d %v", code, out)
		}
		id := recordAt(t, m, "production", "v2.5.3", "b81c4d0", "in_progress", false, start)
		complete(t, m, id)
		leading(t, m)

		tickAt := func(at time.Time) {
			t.Helper()
			clock.Set(at)
			m.Monitor.Tick(context.Background())
		}
		extensions := func() []*roman.RomanEvent { return romanEvents(t, m, id, roman.EventWatchExtended) }
		notHealthy := func(when string) {
			t.Helper()
			if n := len(romanEvents(t, m, id, roman.EventWatchPassed)); n != 0 {
				t.Fatalf("%s: %d watch_passed rows", when, n)
			}
			code, d := testkit.Call(t, "GET", m.URL()+"/deployments/"+id, readToken, "")
			if code != 200 || d["health_check_passed"] != false {
				t.Fatalf("%s: marked healthy: %d %v", when, code, d)
			}
		}

		tickAt(start.Add(time.Minute))
		tickAt(start.Add(5*time.Minute + time.Second))
		awaitMonitor(t, "the first extension", func() bool { return len(extensions()) == 1 })
		if msg := extensions()[0].Message; !strings.Contains(msg, "extension 1 of 2") {
			t.Fatalf("first extension: %q", msg)
		}
		notHealthy("after the first extension")

		// Restart inside the extension.
		stop()
		clock.Set(start.Add(7 * time.Minute))
		m, stop = startClocked(t, url, clock, settings)
		defer stop()
		leading(t, m)
		tickAt(start.Add(7 * time.Minute))
		tickAt(start.Add(9 * time.Minute))
		if n := len(extensions()); n != 1 {
			t.Fatalf("after the restart: %d extension rows, want the first one only: %v", n, messages(extensions()))
		}
		if n := len(romanEvents(t, m, id, roman.EventWatchUnverified)); n != 0 {
			t.Fatalf("after the restart: the window was decided inside its extension (%d unverified rows)", n)
		}
		notHealthy("after the restart")

		// The second extension at the end of the first, as without a restart.
		tickAt(start.Add(10*time.Minute + time.Second))
		awaitMonitor(t, "the second extension", func() bool { return len(extensions()) == 2 })
		if msg := extensions()[0].Message; !strings.Contains(msg, "extension 2 of 2") || !strings.Contains(msg, start.Add(15*time.Minute).Format(time.RFC3339)) {
			t.Fatalf("second extension: %q", msg)
		}
		notHealthy("after the second extension")

		// Still inconclusive at the end of the second: a human must decide.
		tickAt(start.Add(15*time.Minute + time.Second))
		awaitMonitor(t, "the final warning", func() bool { return len(romanEvents(t, m, id, roman.EventWatchUnverified)) == 1 })
		if un := romanEvents(t, m, id, roman.EventWatchUnverified); !strings.Contains(un[0].Message, "after 2 extension(s)") || !strings.Contains(un[0].Message, "a human must decide") {
			t.Fatalf("final warning: %q", un[0].Message)
		}
		tickAt(start.Add(25 * time.Minute))
		if n := len(extensions()); n != 2 {
			t.Fatalf("%d extension rows in the end, want 2: %v", n, messages(extensions()))
		}
		notHealthy("in the end")
		if n := len(history(t, m, "production")); n != 0 {
			t.Fatalf("%d rollbacks of a release without errors", n)
		}
	})
}

// leading waits until m's monitor evaluates (on PostgreSQL, once this
// replica holds the leadership).
func leading(t *testing.T, m *Server) {
	t.Helper()
	awaitMonitor(t, "the monitor's leadership", m.Monitor.Leading)
}

// messages returns the messages of evs.
func messages(evs []*roman.RomanEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Message
	}
	return out
}
