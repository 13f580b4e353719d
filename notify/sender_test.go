package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/notify"
	"github.com/odyssey-1/roman/sqldb"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// channel is a scripted notifier: answer decides each delivery's outcome,
// and every successful delivery is recorded in order.
type channel struct {
	mu        sync.Mutex
	answer    func(a *roman.Alert) (bool, error)
	delivered []string
	attempts  int
}

func (c *channel) Notify(ctx context.Context, a *roman.Alert) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempts++
	if c.answer != nil {
		if retry, err := c.answer(a); err != nil {
			return retry, err
		}
	}
	c.delivered = append(c.delivered, a.DeploymentID[:4]+":"+a.Reason)
	return false, nil
}

func (c *channel) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.delivered...)
}

var t0 = time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)

// senderFixture is a store with one channel ("discord") routed everything.
type senderFixture struct {
	db    *sqldb.DB
	clock *testkit.Clock
	ch    *channel
	s     *notify.Sender
}

func eachStore(t *testing.T, fn func(t *testing.T, f *senderFixture)) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		db, err := sqldb.Open(context.Background(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		db.SetAlertRouter(func(*roman.Alert) []string { return []string{roman.ChannelDiscord} })
		f := &senderFixture{db: db, clock: testkit.NewClock(t0), ch: &channel{}}
		f.s = &notify.Sender{Outbox: db, Clock: f.clock.Now, MaxAge: time.Hour,
			MinBackoff: time.Second, MaxBackoff: time.Minute, Jitter: func() float64 { return 0 },
			Notifier: func(ch, env string) roman.Notifier {
				if ch == roman.ChannelDiscord {
					return f.ch
				}
				return nil
			}}
		fn(t, f)
	})
}

// alert queues an alert about dep with reason as its marker.
func (f *senderFixture) alert(t *testing.T, dep, reason string) {
	t.Helper()
	e := &roman.RomanEvent{EventType: roman.EventRollbackStarted, Severity: roman.SeverityWarning, Message: reason,
		Timestamp: f.clock.Now(), Alert: &roman.Alert{Kind: roman.AlertRollbackTriggered, DeploymentID: dep,
			Environment: "production", Reason: reason}}
	if err := f.db.AddRomanEvent(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func (f *senderFixture) run(t *testing.T) int {
	t.Helper()
	n, err := f.s.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *senderFixture) rows(t *testing.T) []*roman.OutboxAlert {
	t.Helper()
	rows, err := f.db.ListAlerts(context.Background(), roman.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestSenderDeliversOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, f *senderFixture) {
		dep := roman.NewUUID()
		f.alert(t, dep, "first")
		if n := f.run(t); n != 1 {
			t.Fatalf("round handled %d rows", n)
		}
		if n := f.run(t); n != 0 {
			t.Fatalf("a delivered row was handled again (%d)", n)
		}
		if got := f.ch.got(); len(got) != 1 || got[0] != dep[:4]+":first" {
			t.Errorf("delivered %v", got)
		}
		r := f.rows(t)[0]
		if r.DeliveredAt == nil || !r.DeliveredAt.Equal(t0) || r.Attempts != 1 {
			t.Errorf("row = %+v", r)
		}
	})
}

func TestSenderBackoffAndJitter(t *testing.T) {
	eachStore(t, func(t *testing.T, f *senderFixture) {
		f.ch.answer = func(*roman.Alert) (bool, error) { return true, errors.New("discord: HTTP 500: oops") }
		jitter := 0.0
		f.s.Jitter = func() float64 { return jitter }
		f.alert(t, roman.NewUUID(), "x")
		// Waits after failures 1..8 with no jitter: 1s, 2s, 4s, ... capped at 1m.
		for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
			16 * time.Second, 32 * time.Second, time.Minute, time.Minute} {
			if n := f.run(t); n != 1 {
				t.Fatalf("attempt %d: handled %d", i+1, n)
			}
			r := f.rows(t)[0]
			if got := r.NextAttemptAt.Sub(f.clock.Now()); got != want {
				t.Fatalf("after failure %d: next attempt in %s, want %s", i+1, got, want)
			}
			if r.LastError != "discord: HTTP 500: oops" {
				t.Errorf("last_error = %q", r.LastError)
			}
			// Not due before its time.
			if n := f.run(t); n != 0 {
				t.Fatalf("row retried before its backoff ended")
			}
			f.clock.Add(want)
		}
		// Jitter takes up to half off: 0.5 → three quarters of the wait.
		jitter = 0.5
		f.run(t)
		if got := f.rows(t)[0].NextAttemptAt.Sub(f.clock.Now()); got != 45*time.Second {
			t.Errorf("with jitter 0.5 the wait is %s, want 45s", got)
		}
	})
}

func TestSenderHonoursRetryAfter(t *testing.T) {
	eachStore(t, func(t *testing.T, f *senderFixture) {
		a, b := roman.NewUUID(), roman.NewUUID()
		f.alert(t, a, "a1")
		f.ch.answer = func(al *roman.Alert) (bool, error) {
			return true, &notify.RetryAfterError{After: 64570 * time.Millisecond, Err: errors.New("discord: HTTP 429: rate limited")}
		}
		f.run(t)
		f.alert(t, b, "b1") // queued while the channel is rate limited
		r := f.rows(t)
		if got := r[0].NextAttemptAt.Sub(t0); got != 64570*time.Millisecond {
			t.Errorf("next attempt in %s, want retry_after 64.57s", got)
		}
		// The whole channel waits, for alerts queued after the 429 too.
		f.ch.answer = nil
		f.clock.Add(64 * time.Second)
		if n := f.run(t); n != 0 {
			t.Fatalf("%d rows tried before retry_after passed", n)
		}
		f.clock.Add(570 * time.Millisecond)
		if n := f.run(t); n != 2 {
			t.Fatalf("%d rows tried after retry_after, want both", n)
		}
		got := strings.Join(f.ch.got(), ",")
		if !strings.Contains(got, a[:4]+":a1") || !strings.Contains(got, b[:4]+":b1") {
			t.Errorf("delivered %s", got)
		}
	})
}

func TestSenderDefersTheWholeChannelOn429(t *testing.T) {
	eachStore(t, func(t *testing.T, f *senderFixture) {
		a, b := roman.NewUUID(), roman.NewUUID()
		f.alert(t, a, "a1")
		f.alert(t, b, "b1")
		calls := 0
		f.ch.answer = func(al *roman.Alert) (bool, error) {
			calls++
			if al.DeploymentID == a {
				return true, &notify.RetryAfterError{After: 30 * time.Second, Err: errors.New("discord: HTTP 429: rate limited")}
			}
			return true, errors.New("discord: HTTP 500: x") // b fails normally: 1s backoff
		}
		f.run(t)
		rows := f.rows(t)
		for _, r := range rows {
			if got := r.NextAttemptAt.Sub(t0); got != 30*time.Second {
				t.Errorf("row %s: next attempt in %s, want the channel's 30s", r.Alert.Reason, got)
			}
		}
		f.clock.Add(29 * time.Second)
		if n := f.run(t); n != 0 {
			t.Errorf("%d rows tried while the channel is rate limited", n)
		}
	})
}

func TestSenderGivesUpAfterMaxAge(t *testing.T) {
	eachStore(t, func(t *testing.T, f *senderFixture) {
		dep := roman.NewUUID()
		f.alert(t, dep, "old")
		f.alert(t, dep, "next")
		f.ch.answer = func(a *roman.Alert) (bool, error) {
			if a.Reason == "old" {
				return true, errors.New("discord: HTTP 503: down")
			}
			return false, nil
		}
		for f.clock.Now().Sub(t0) < time.Hour {
			f.run(t)
			f.clock.Add(time.Minute)
		}
		f.run(t) // the attempt past MaxAge gives up
		rows := f.rows(t)
		if rows[0].FailedAt == nil || !strings.Contains(rows[0].LastError, "still failing after") {
			t.Fatalf("old row = %+v", rows[0])
		}
		evs, err := f.db.ListRomanEvents(context.Background(), roman.RomanEventFilter{EventType: roman.EventAlertUndeliverable})
		if err != nil || len(evs) != 1 {
			t.Fatalf("alert_undeliverable events = %v, %v", evs, err)
		}
		var meta map[string]any
		_ = json.Unmarshal(evs[0].Metadata, &meta)
		if meta["deployment_id"] != dep || meta["channel"] != "discord" || meta["kind"] != roman.AlertRollbackTriggered {
			t.Errorf("event metadata = %v", meta)
		}
		// The deployment's next alert is no longer blocked.
		f.run(t)
		if got := f.ch.got(); len(got) != 1 || got[0] != dep[:4]+":next" {
			t.Errorf("delivered %v", got)
		}
	})
}

func TestSenderGivesUpOnRefusalAndUnknownChannel(t *testing.T) {
	eachStore(t, func(t *testing.T, f *senderFixture) {
		f.ch.answer = func(*roman.Alert) (bool, error) { return false, errors.New("discord: HTTP 400: invalid_payload") }
		f.alert(t, roman.NewUUID(), "x")
		f.run(t)
		if r := f.rows(t)[0]; r.FailedAt == nil || !strings.Contains(r.LastError, "refused by the channel: discord: HTTP 400") {
			t.Errorf("refused row = %+v", r)
		}
		f.db.SetAlertRouter(func(*roman.Alert) []string { return []string{roman.ChannelSlack} })
		f.alert(t, roman.NewUUID(), "y")
		f.run(t)
		if r := f.rows(t)[1]; r.FailedAt == nil || !strings.Contains(r.LastError, `channel "slack" is not configured`) {
			t.Errorf("unconfigured channel row = %+v", r)
		}
		if evs, _ := f.db.ListRomanEvents(context.Background(), roman.RomanEventFilter{EventType: roman.EventAlertUndeliverable}); len(evs) != 2 {
			t.Errorf("%d alert_undeliverable events, want 2", len(evs))
		}
	})
}

// TestSenderKeepsOrderPerDeployment has a flaky channel (every other attempt
// fails) and many alerts over three deployments: each deployment's alerts
// arrive in the order they were raised, and each exactly once.
func TestSenderKeepsOrderPerDeployment(t *testing.T) {
	eachStore(t, func(t *testing.T, f *senderFixture) {
		deps := []string{roman.NewUUID(), roman.NewUUID(), roman.NewUUID()}
		for i := 0; i < 5; i++ {
			for _, d := range deps {
				f.alert(t, d, fmt.Sprint(i))
			}
		}
		n := 0
		f.ch.answer = func(*roman.Alert) (bool, error) {
			n++
			if n%2 == 1 {
				return true, errors.New("discord: HTTP 502: flaky")
			}
			return false, nil
		}
		for i := 0; i < 200 && len(f.ch.got()) < 15; i++ {
			f.run(t)
			f.clock.Add(time.Minute)
		}
		seen := map[string]int{}
		last := map[string]int{}
		for _, g := range f.ch.got() {
			seen[g]++
			d, i, _ := strings.Cut(g, ":")
			var k int
			fmt.Sscan(i, &k)
			if prev, ok := last[d]; ok && k != prev+1 {
				t.Errorf("deployment %s: alert %d after %d", d, k, prev)
			}
			last[d] = k
		}
		if len(seen) != 15 {
			t.Errorf("%d distinct alerts delivered, want 15", len(seen))
		}
		for g, c := range seen {
			if c != 1 {
				t.Errorf("%s delivered %d times", g, c)
			}
		}
	})
}
