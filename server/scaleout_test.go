package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/monitor"
	"github.com/odyssey-1/roman/sqldb"
)

// leaderGauge reads roman_monitor_leader from the /metrics of the server at
// base.
func leaderGauge(t testing.TB, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "roman_monitor_leader "); ok {
			return v
		}
	}
	t.Fatal("/metrics has no roman_monitor_leader")
	return ""
}

func leadershipRows(t *testing.T, m *Server, typ string) []*roman.RomanEvent {
	t.Helper()
	evs, err := m.Store.ListRomanEvents(context.Background(), roman.RomanEventFilter{EventType: typ})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func replicaOf(t *testing.T, ev *roman.RollbackEvent) string {
	t.Helper()
	var meta struct {
		Replica string `json:"replica"`
	}
	if err := json.Unmarshal(ev.Metadata, &meta); err != nil {
		t.Fatal(err)
	}
	return meta.Replica
}

// rolledBackOnce waits for the automatic rollback of bad and checks it is
// the only rollback event of env and the only trigger decision, run by the
// replica want.
func rolledBackOnce(t *testing.T, m *Server, env, badID string, want *Server) {
	t.Helper()
	awaitMonitor(t, "the automatic rollback of "+env, func() bool {
		h := history(t, m, env)
		return len(h) == 1 && h[0].Finished()
	})
	ev := history(t, m, env)[0]
	if ev.DeploymentID != badID || ev.TriggerType != roman.TriggerAutomatic || ev.Status != roman.RollbackSuccess {
		t.Fatalf("%s rollback: %+v", env, ev)
	}
	if got := replicaOf(t, ev); got != want.Store.ReplicaID() {
		t.Fatalf("%s rollback ran on replica %q, want the leader %q", env, got, want.Store.ReplicaID())
	}
	if n := len(romanEvents(t, m, badID, roman.EventAutoRollbackTriggered)); n != 1 {
		t.Fatalf("%s: %d trigger rows", env, n)
	}
	if n := len(romanEvents(t, m, badID, roman.EventAutoRollbackSuppressed)); n != 0 {
		t.Fatalf("%s: %d suppressed rows (a second monitor decided)", env, n)
	}
}

// dashboardStream opens the dashboard's live stream (Server-Sent Events) of
// m with a read key and returns its lines as they come.
func dashboardStream(t *testing.T, m *Server) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", m.URL()+"/app/admin/roman-dashboard/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("dashboard stream: %v %v", resp, err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	return lines
}

// awaitStream reads lines until one matches, failing after 10 s.
func awaitStream(t *testing.T, lines <-chan string, what string, match func(string) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended before %s", what)
			}
			if match(l) {
				return
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestTwoReplicasOnePostgres runs two servers on one PostgreSQL (scale-out):
// one leads the monitor; errors posted to the other roll back exactly once;
// when the leader closes, the other takes over within seconds and rolls
// back the next bad deployment, again exactly once.
func TestTwoReplicasOnePostgres(t *testing.T) {
	url := testpg.URL(t)
	a := startServer(t, url, monitorSettings)
	b := startServer(t, url, monitorSettings)
	if a.Store.ReplicaID() == b.Store.ReplicaID() {
		t.Fatal("both replicas have the same id")
	}
	if ga, gb := leaderGauge(t, a.URL()), leaderGauge(t, b.URL()); ga != "1" || gb != "0" {
		t.Fatalf("roman_monitor_leader: first %s, second %s; want exactly the first", ga, gb)
	}
	if rows := leadershipRows(t, a, monitor.EventLeaderAcquired); len(rows) != 1 || !strings.Contains(rows[0].Message, a.Store.ReplicaID()) {
		t.Fatalf("leadership rows: %v", rows)
	}
	// b's dashboard live stream learns of what a does.
	stream := dashboardStream(t, b)

	// Everything goes through the replica that does not lead.
	badID := deployPair(t, b, "production")
	if code, out := testkit.Call(t, "POST", b.URL()+"/errors", deployToken, errorBatch("production", 9, ago(5*time.Second))); code != 200 {
		t.Fatalf("ingest: %d %v", code, out)
	}
	rolledBackOnce(t, b, "production", badID, a)
	// Only a ran the rollback: b's stream hears of it through the database.
	awaitStream(t, stream, "the rollback on the other replica's dashboard stream", func(line string) bool {
		return strings.HasPrefix(line, "data: ") && strings.Contains(line, `"rollback"`) && strings.Contains(line, `"production"`)
	})

	// The leader shuts down; the other replica takes over.
	closed := time.Now()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	awaitMonitor(t, "the takeover", func() bool { return leaderGauge(t, b.URL()) == "1" })
	took := time.Since(closed)
	t.Logf("takeover %v after the leader's Close returned (leader_interval %s)", took.Round(time.Millisecond), b.Config.LeaderInterval)
	if took > 3*b.Config.LeaderInterval+time.Second {
		t.Fatalf("takeover took %v", took)
	}

	staging := deployPair(t, b, "staging")
	if code, out := testkit.Call(t, "POST", b.URL()+"/errors", deployToken, errorBatch("staging", 9, ago(5*time.Second))); code != 200 {
		t.Fatalf("ingest: %d %v", code, out)
	}
	rolledBackOnce(t, b, "staging", staging, b)
	// Nothing decided twice on either side of the takeover.
	if n := len(history(t, b, "production")); n != 1 {
		t.Fatalf("production has %d rollback events", n)
	}
	acq, rel := leadershipRows(t, b, monitor.EventLeaderAcquired), leadershipRows(t, b, monitor.EventLeaderReleased)
	if len(acq) != 2 || len(rel) != 1 || !strings.Contains(acq[0].Message, b.Store.ReplicaID()) || !strings.Contains(rel[0].Message, "shutdown") {
		t.Fatalf("leadership rows: acquired %d, released %d", len(acq), len(rel))
	}
}

// TestResumeAcrossReplicas: the unfinished rollback of a replica that died
// is resumed exactly once by the two that share its database; the rollback
// of a replica that is alive is left alone until it dies too.
func TestResumeAcrossReplicas(t *testing.T) {
	url := testpg.URL(t)
	a := startServer(t, url, monitorSettings)
	b := startServer(t, url, monitorSettings)
	// A third replica runs a rollback: only its store and lock session
	// exist here, which is all others can see of it.
	live, err := sqldb.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	liveLocks, err := live.NewLockSession()
	if err != nil {
		t.Fatal(err)
	}
	defer liveLocks.Close()
	if err := liveLocks.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}

	pending := func(env, owner string) (*roman.RollbackEvent, string) {
		badID := deployPair(t, a, env)
		ev := &roman.RollbackEvent{EventID: roman.NewUUID(), DeploymentID: badID, Environment: env, TriggerType: roman.TriggerManual,
			TriggerReason: "Critical bug in payment flow", InitiatedAt: time.Now().UTC(), Status: roman.RollbackPending,
			Metadata: json.RawMessage(`{"caller":"api","replica":"` + owner + `"}`)}
		if err := a.Store.CreateRollbackEvent(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		return ev, badID
	}
	running, runningBad := pending("staging", live.ReplicaID())
	orphan, orphanBad := pending("production", roman.NewUUID()) // its replica died

	finished := func(ev *roman.RollbackEvent) func() bool {
		return func() bool {
			got, err := a.Store.GetRollbackEvent(context.Background(), ev.EventID)
			return err == nil && got.Finished()
		}
	}
	awaitMonitor(t, "the orphaned rollback", finished(orphan))
	got, _ := a.Store.GetRollbackEvent(context.Background(), orphan.EventID)
	if got.Status != roman.RollbackSuccess || len(got.RollbackSteps) != 8 || replicaOf(t, got) != a.Store.ReplicaID() {
		t.Fatalf("resumed event: %s, %d steps, replica %q (leader %q)", got.Status, len(got.RollbackSteps), replicaOf(t, got), a.Store.ReplicaID())
	}
	if n := len(romanEvents(t, a, orphanBad, "rollback_resumed")); n != 1 {
		t.Fatalf("orphan resumed %d times", n)
	}
	// Both events were there from the same rounds: the live replica's was
	// not taken.
	if got, _ := a.Store.GetRollbackEvent(context.Background(), running.EventID); got.Status != roman.RollbackPending || replicaOf(t, got) != live.ReplicaID() {
		t.Fatalf("a live replica's rollback was taken: %s, replica %q", got.Status, replicaOf(t, got))
	}

	// The third replica dies too.
	liveLocks.Close()
	awaitMonitor(t, "the rollback of the replica that died last", finished(running))
	if n := len(romanEvents(t, a, runningBad, "rollback_resumed")); n != 1 {
		t.Fatalf("resumed %d times", n)
	}
	// One new deployment per rollback, never two.
	for _, bad := range []string{orphanBad, runningBad} {
		ds, err := a.Store.ListDeployments(context.Background(), roman.DeploymentFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, d := range ds {
			if d.RollbackFrom != nil && *d.RollbackFrom == bad {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d deployments recorded by the rollback of %s", n, bad)
		}
	}
	_ = b
}
