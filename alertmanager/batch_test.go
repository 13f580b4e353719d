package alertmanager

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/sqldb"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// gatedStore is the real store, with each RecordIntegrationAlerts call's
// size recorded and the first call held until release is closed, so that
// the messages sent meanwhile queue up for one group.
type gatedStore struct {
	*sqldb.DB
	entered chan struct{}
	release chan struct{}

	mu    sync.Mutex
	calls []int
}

func (g *gatedStore) RecordIntegrationAlerts(ctx context.Context, alerts []*roman.IntegrationAlert, events func(i int, outcome string) []*roman.RomanEvent) ([]string, error) {
	g.mu.Lock()
	g.calls = append(g.calls, len(alerts))
	first := len(g.calls) == 1
	g.mu.Unlock()
	if first {
		close(g.entered)
		<-g.release
	}
	return g.DB.RecordIntegrationAlerts(ctx, alerts, events)
}

// refuseFingerprint makes the database itself refuse to store an alert
// with the fingerprint (a trigger that raises an error), as a constraint
// or a broken row would.
func refuseFingerprint(t *testing.T, st *sqldb.DB, fp string) {
	t.Helper()
	stmts := []string{`CREATE TRIGGER refuse_alert BEFORE INSERT ON integration_alerts
		WHEN NEW.fingerprint = '` + fp + `' BEGIN SELECT RAISE(ABORT, 'alert refused by the test'); END`}
	if st.Dialect() == sqldb.DialectPostgres {
		stmts = []string{`CREATE FUNCTION refuse_alert() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF NEW.fingerprint = '` + fp + `' THEN RAISE EXCEPTION 'alert refused by the test'; END IF; RETURN NEW; END $$`,
			`CREATE TRIGGER refuse_alert BEFORE INSERT ON integration_alerts FOR EACH ROW EXECUTE FUNCTION refuse_alert()`}
	}
	for _, q := range stmts {
		if _, err := st.SQL().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

// firing is a message of firing alerts of checkout-api 1.4.2 in
// production, one per fingerprint, all started at startsAt.
func firing(startsAt time.Time, fingerprints ...string) *Message {
	m := &Message{Version: "4", Status: roman.AlertFiring, Receiver: "roman", GroupKey: "{}:{alertname=\"QueueBacklog\"}"}
	for _, fp := range fingerprints {
		m.Alerts = append(m.Alerts, Alert{Status: roman.AlertFiring, StartsAt: startsAt, Fingerprint: fp,
			Labels:      map[string]string{"alertname": "QueueBacklog", "environment": "production", "service": "checkout-api", "version": "1.4.2"},
			Annotations: map[string]string{"summary": "Queue backlog " + fp}})
	}
	return m
}

// TestGroupCommit sends many messages at once while a commit is running:
// they are recorded in one group transaction; re-sent alerts among them
// are recorded once (one "recorded" outcome, the others "duplicate"); a
// message the database refuses fails alone, the group is retried message
// by message, and every other message's alerts land exactly once, with
// exactly one audit row each.
func TestGroupCommit(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		ctx := context.Background()
		st, err := sqldb.Open(ctx, url, testkit.Discard())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		clock := testkit.NewClock(time.Date(2026, 12, 4, 16, 30, 0, 0, time.UTC))
		dep := &roman.Deployment{Service: "checkout-api", Environment: "production", Version: "1.4.2", GitCommit: "c2",
			Status: roman.StatusSuccess, DeployedAt: clock.Now().Add(-10 * time.Minute)}
		if err := st.CreateDeployment(ctx, dep); err != nil {
			t.Fatal(err)
		}
		const bad = "badbadbadbad0000"
		refuseFingerprint(t, st, bad)
		gs := &gatedStore{DB: st, entered: make(chan struct{}), release: make(chan struct{})}
		s := &Service{Deployments: st, Store: gs, Clock: clock.Now, Logger: testkit.Discard()}
		startsAt := clock.Now().Add(-time.Minute)

		// The first message takes the writer and holds it.
		firstDone := make(chan error, 1)
		go func() {
			_, err := s.Receive(ctx, firing(startsAt, "0000000000000000"))
			firstDone <- err
		}()
		<-gs.entered

		// Meanwhile: 16 messages of distinct alerts, three that re-send
		// alerts of others (one of them together with a new alert), and
		// one whose second alert the database refuses.
		var msgs []*Message
		for i := 1; i <= 16; i++ {
			msgs = append(msgs, firing(startsAt, fmt.Sprintf("%016x", i)))
		}
		msgs = append(msgs, firing(startsAt, fmt.Sprintf("%016x", 3)), firing(startsAt, fmt.Sprintf("%016x", 3)),
			firing(startsAt, fmt.Sprintf("%016x", 7), fmt.Sprintf("%016x", 17)),
			firing(startsAt, "goodnextto0bad00", bad))
		type answer struct {
			res *Result
			err error
		}
		answers := make([]answer, len(msgs))
		var wg sync.WaitGroup
		for k, m := range msgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := s.Receive(ctx, m)
				answers[k] = answer{res, err}
			}()
		}
		// Every message waits in the queue before the writer is let go.
		for deadline := time.Now().Add(30 * time.Second); ; {
			s.batch.mu.Lock()
			n := len(s.batch.queue)
			s.batch.mu.Unlock()
			if n == len(msgs) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d messages queued", n, len(msgs))
			}
			time.Sleep(time.Millisecond)
		}
		close(gs.release)
		wg.Wait()
		if err := <-firstDone; err != nil {
			t.Fatalf("first message: %v", err)
		}

		// One call for the first message, one for the whole group (it
		// failed), then one per message.
		gs.mu.Lock()
		calls := append([]int(nil), gs.calls...)
		gs.mu.Unlock()
		total := 0
		for _, m := range msgs {
			total += len(m.Alerts)
		}
		if len(calls) != 2+len(msgs) || calls[0] != 1 || calls[1] != total {
			t.Fatalf("store calls %v: want [1 %d] then one per message (%d)", calls, total, len(msgs))
		}

		recorded := map[string]int{}
		for k, a := range answers {
			m := msgs[k]
			if m.Alerts[len(m.Alerts)-1].Fingerprint == bad {
				if a.err == nil {
					t.Fatalf("the refused message succeeded: %+v", a.res)
				}
				continue
			}
			if a.err != nil {
				t.Fatalf("message %d: %v", k, a.err)
			}
			for _, ar := range a.res.Alerts {
				switch ar.Outcome {
				case roman.AlertOutcomeNew:
					recorded[ar.Fingerprint]++
					if ar.DeploymentID != dep.DeploymentID || ar.AttributionRule != roman.AttributedByVersion {
						t.Errorf("alert %s attributed to %q by %q", ar.Fingerprint, ar.DeploymentID, ar.AttributionRule)
					}
				case roman.AlertOutcomeDuplicate:
				default:
					t.Errorf("alert %s: outcome %q", ar.Fingerprint, ar.Outcome)
				}
			}
		}
		count := func(q string, args ...any) int {
			t.Helper()
			var n int
			if err := st.SQL().QueryRowContext(ctx, st.Rebind(q), args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for i := 0; i <= 17; i++ {
			fp := fmt.Sprintf("%016x", i)
			if i > 0 && recorded[fp] != 1 {
				t.Errorf("alert %s answered recorded %d times, want once", fp, recorded[fp])
			}
			if n := count(`SELECT count(*) FROM integration_alerts WHERE fingerprint = ?`, fp); n != 1 {
				t.Errorf("alert %s: %d rows, want 1", fp, n)
			}
			if n := count(`SELECT count(*) FROM roman_events WHERE event_type = ? AND message LIKE ?`,
				roman.EventIntegrationAlert, "%fingerprint "+fp+"%"); n != 1 {
				t.Errorf("alert %s: %d audit rows, want 1", fp, n)
			}
		}
		for _, fp := range []string{bad, "goodnextto0bad00"} {
			if n := count(`SELECT count(*) FROM integration_alerts WHERE fingerprint = ?`, fp); n != 0 {
				t.Errorf("alert %s of the refused message: %d rows, want none", fp, n)
			}
			if n := count(`SELECT count(*) FROM roman_events WHERE message LIKE ?`, "%"+fp+"%"); n != 0 {
				t.Errorf("alert %s of the refused message: %d audit rows, want none", fp, n)
			}
		}
	})
}

// TestLoneMessageCommitsAlone: a message that finds the writer idle is
// committed at once in its own transaction, and the same message again is
// a duplicate.
func TestLoneMessageCommitsAlone(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		ctx := context.Background()
		st, err := sqldb.Open(ctx, url, testkit.Discard())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		clock := testkit.NewClock(time.Date(2026, 12, 4, 16, 30, 0, 0, time.UTC))
		if err := st.CreateDeployment(ctx, &roman.Deployment{Service: "checkout-api", Environment: "production", Version: "1.4.2",
			GitCommit: "c2", Status: roman.StatusSuccess, DeployedAt: clock.Now().Add(-10 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		gs := &gatedStore{DB: st, entered: make(chan struct{}), release: make(chan struct{})}
		close(gs.release)
		s := &Service{Deployments: st, Store: gs, Clock: clock.Now}
		m := firing(clock.Now().Add(-time.Minute), "00000000000000aa", "00000000000000bb")
		for _, want := range []string{roman.AlertOutcomeNew, roman.AlertOutcomeDuplicate} {
			res, err := s.Receive(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range res.Alerts {
				if a.Outcome != want {
					t.Fatalf("alert %s: %q, want %q", a.Fingerprint, a.Outcome, want)
				}
			}
		}
		if got := strings.Trim(fmt.Sprint(gs.calls), "[]"); got != "2 2" {
			t.Fatalf("store calls %s, want one per message", got)
		}
	})
}

// panickyStore panics when asked to record the alert with fingerprint fp.
type panickyStore struct {
	*sqldb.DB
	fp string
}

func (p panickyStore) RecordIntegrationAlerts(ctx context.Context, alerts []*roman.IntegrationAlert, events func(i int, outcome string) []*roman.RomanEvent) ([]string, error) {
	for _, a := range alerts {
		if a.Fingerprint == p.fp {
			panic("a bug while recording " + p.fp)
		}
	}
	return p.DB.RecordIntegrationAlerts(ctx, alerts, events)
}

// TestCommitPanicFailsOnlyItsMessage: a panic while recording (a bug) runs
// on the batcher's goroutine; it fails the message that caused it with an
// internal error, and the server goes on recording the next ones.
func TestCommitPanicFailsOnlyItsMessage(t *testing.T) {
	ctx := context.Background()
	st, err := sqldb.Open(ctx, testkit.SQLiteURL(t), testkit.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := testkit.NewClock(time.Date(2026, 12, 4, 16, 30, 0, 0, time.UTC))
	if err := st.CreateDeployment(ctx, &roman.Deployment{Service: "checkout-api", Environment: "production", Version: "1.4.2",
		GitCommit: "c2", Status: roman.StatusSuccess, DeployedAt: clock.Now().Add(-10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	s := &Service{Deployments: st, Store: panickyStore{DB: st, fp: "00000000000000ee"}, Clock: clock.Now}
	startsAt := clock.Now().Add(-time.Minute)
	if _, err := s.Receive(ctx, firing(startsAt, "00000000000000ee")); roman.ErrorCode(err) != roman.EINTERNAL {
		t.Fatalf("panicking message: %v, want an internal error", err)
	}
	res, err := s.Receive(ctx, firing(startsAt, "00000000000000ff"))
	if err != nil || res.Recorded != 1 {
		t.Fatalf("next message: %+v %v", res, err)
	}
}
