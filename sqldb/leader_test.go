package sqldb_test

import (
	"database/sql"
	"encoding/json"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for a writer that is not roman

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/sqldb"
)

// replicas opens n stores on one fresh PostgreSQL database, as n roman
// processes sharing it would.
func replicas(t *testing.T, n int) ([]*sqldb.DB, string) {
	t.Helper()
	url := testpg.URL(t)
	out := make([]*sqldb.DB, n)
	for i := range out {
		out[i] = openURL(t, url)
	}
	return out, url
}

// awaitLock tries l's lock every 10 ms until it is won, and fails the test
// with failure after 10 s.
func awaitLock(t *testing.T, l *sqldb.LockSession, failure string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ok, err := l.TryLock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(failure)
		}
	}
}

func lockSession(t *testing.T, db *sqldb.DB) *sqldb.LockSession {
	t.Helper()
	l, err := db.NewLockSession()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// terminateLeader ends, from another session, the backend that holds the
// monitor lock, as a dead connection would.
func terminateLeader(t *testing.T, db *sqldb.DB) {
	t.Helper()
	k := uint64(sqldb.MonitorLockID)
	var ok bool
	err := db.SQL().QueryRowContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'
		AND granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1`, int64(k>>32), int64(k&0xffffffff)).Scan(&ok)
	if err != nil || !ok {
		t.Fatalf("terminating the leader's session: %v %v", ok, err)
	}
}

func TestLockSessionLeadership(t *testing.T) {
	dbs, _ := replicas(t, 2)
	a, b := lockSession(t, dbs[0]), lockSession(t, dbs[1])
	if dbs[0].ReplicaID() == "" || dbs[0].ReplicaID() == dbs[1].ReplicaID() {
		t.Fatalf("replica ids: %q %q", dbs[0].ReplicaID(), dbs[1].ReplicaID())
	}
	if ok, err := a.TryLock(ctx); err != nil || !ok {
		t.Fatalf("first TryLock: %v %v", ok, err)
	}
	if ok, err := b.TryLock(ctx); err != nil || ok {
		t.Fatalf("second replica got the lock: %v %v", ok, err)
	}
	if err := a.Held(ctx); err != nil {
		t.Fatalf("Held: %v", err)
	}
	if err := b.Held(ctx); err == nil {
		t.Fatal("a replica that does not lead says it holds the lock")
	}

	// The leader's session dies: the leader learns it on its next check,
	// and the other replica takes over.
	terminateLeader(t, dbs[1])
	if err := a.Held(ctx); err == nil {
		t.Fatal("Held after the session was terminated")
	}
	awaitLock(t, b, "no takeover after the leader's session was terminated")
	// The old leader reconnects and waits its turn.
	if ok, err := a.TryLock(ctx); err != nil || ok {
		t.Fatalf("old leader after reconnecting: %v %v", ok, err)
	}

	// Unlock hands leadership over without closing the session.
	b.Unlock(ctx)
	if err := b.Held(ctx); err == nil {
		t.Fatal("Held after Unlock")
	}
	if ok, err := a.TryLock(ctx); err != nil || !ok {
		t.Fatalf("TryLock after the leader unlocked: %v %v", ok, err)
	}
	// Close frees it too, as soon as PostgreSQL ends the backend.
	a.Close()
	awaitLock(t, b, "TryLock after the leader closed never succeeded")
	if _, err := a.TryLock(ctx); err == nil {
		t.Fatal("TryLock on a closed session")
	}
}

func TestLockSessionSQLite(t *testing.T) {
	db := openSQLite(t)
	if _, err := db.NewLockSession(); roman.ErrorCode(err) != roman.EINVALID {
		t.Fatalf("NewLockSession on SQLite: %v", err)
	}
	if db.ReplicaID() != "" {
		t.Fatalf("SQLite replica id %q", db.ReplicaID())
	}
}

// ownedRollback records an unfinished rollback event run by owner.
func ownedRollback(t *testing.T, db *sqldb.DB, env, owner string) *roman.RollbackEvent {
	t.Helper()
	ev := newRollback(t, db, env)
	ev.Status = roman.RollbackInProgress
	ev.Metadata, _ = json.Marshal(map[string]any{"caller": "test", "replica": owner})
	if err := db.CreateRollbackEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func owner(t *testing.T, db *sqldb.DB, eventID string) string {
	t.Helper()
	var o string
	if err := db.SQL().QueryRowContext(ctx, `SELECT metadata->>'replica' FROM ops.rollback_events WHERE event_id = $1`, eventID).Scan(&o); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestClaimRollback(t *testing.T) {
	dbs, _ := replicas(t, 4)
	runner, x, y := dbs[0], dbs[1], dbs[2]
	rl := lockSession(t, runner)
	if err := rl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	ev := ownedRollback(t, runner, "production", runner.ReplicaID())
	orphan := ownedRollback(t, runner, "staging", dbs[3].ReplicaID()) // dbs[3] never took its presence lock
	done := ownedRollback(t, runner, "canary", "gone")
	st := roman.RollbackSuccess
	if err := runner.UpdateRollbackEvent(ctx, done.EventID, roman.RollbackEventUpdate{Status: &st}); err != nil {
		t.Fatal(err)
	}

	list, err := x.UnfinishedRollbacks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]sqldb.UnfinishedRollback{}
	for _, u := range list {
		got[u.EventID] = u
	}
	if len(got) != 2 || !got[ev.EventID].OwnerAlive || got[ev.EventID].Owner != runner.ReplicaID() ||
		got[orphan.EventID].OwnerAlive || got[orphan.EventID].Environment != "staging" {
		t.Fatalf("unfinished: %+v", list)
	}
	// The runner is alive: nobody may claim its event.
	if ok, err := x.ClaimRollback(ctx, ev.EventID, runner.ReplicaID()); err != nil || ok {
		t.Fatalf("claimed a live replica's event: %v %v", ok, err)
	}
	// A stale owner never claims (compare and set), nor does a finished event.
	if ok, err := x.ClaimRollback(ctx, orphan.EventID, "someone-else"); err != nil || ok {
		t.Fatalf("claim with the wrong owner: %v %v", ok, err)
	}
	if ok, err := x.ClaimRollback(ctx, done.EventID, "gone"); err != nil || ok {
		t.Fatalf("claimed a finished event: %v %v", ok, err)
	}

	// The runner's session dies under it (a database restart, a network
	// blip): its next round replaces the session and takes its presence
	// back at once, so its event never looks orphaned for long.
	var pid int
	if err := x.SQL().QueryRowContext(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1
		AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('roman replica ' || $1, 0)`, runner.ReplicaID()).Scan(&pid); err != nil {
		t.Fatalf("finding the runner's presence lock: %v", err)
	}
	if _, err := x.SQL().ExecContext(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := rl.TryLock(ctx); err != nil {
			t.Fatalf("the round after the session died: %v", err)
		}
		if list, _ := x.UnfinishedRollbacks(ctx); len(list) == 2 && (list[0].OwnerAlive || list[1].OwnerAlive) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the runner's presence never came back")
		}
	}

	// The runner dies: two replicas race for its event; exactly one wins.
	// (PostgreSQL frees a closed session's locks as its backend exits, a
	// moment after the client hangs up.)
	rl.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		list, err := y.UnfinishedRollbacks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 2 && !list[0].OwnerAlive && !list[1].OwnerAlive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the runner died: %+v", list)
		}
	}
	var wg sync.WaitGroup
	wins := make([]bool, 2)
	for i, db := range []*sqldb.DB{x, y} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := db.ClaimRollback(ctx, ev.EventID, runner.ReplicaID())
			if err != nil {
				t.Error(err)
			}
			wins[i] = ok
		}()
	}
	wg.Wait()
	if wins[0] == wins[1] {
		t.Fatalf("claims: %v, want exactly one", wins)
	}
	winner := x
	if wins[1] {
		winner = y
	}
	if o := owner(t, runner, ev.EventID); o != winner.ReplicaID() {
		t.Fatalf("owner after the claim: %q, want %q", o, winner.ReplicaID())
	}
	// The rest of the metadata is kept.
	got2, err := runner.GetRollbackEvent(ctx, ev.EventID)
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	if json.Unmarshal(got2.Metadata, &meta) != nil || meta["caller"] != "test" {
		t.Fatalf("metadata after the claim: %s", got2.Metadata)
	}
}

// collect subscribes to hub and returns a function that waits for a
// change matching want, failing the test after 10 s.
func collect(t *testing.T, hub *roman.Hub) func(what string, want func(roman.Change) bool) roman.Change {
	t.Helper()
	ch, cancel := hub.Subscribe(1024)
	t.Cleanup(cancel)
	return func(what string, want func(roman.Change) bool) roman.Change {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case c := <-ch:
				if want(c) {
					return c
				}
			case <-deadline:
				t.Fatalf("no change: %s", what)
			}
		}
	}
}

func TestRelay(t *testing.T) {
	dbs, url := replicas(t, 2)
	a, b := dbs[0], dbs[1]
	hubA, hubB := &roman.Hub{}, &roman.Hub{}
	nextA, nextB := collect(t, hubA), collect(t, hubB)
	stopA, stopB := a.Relay(hubA), b.Relay(hubB)
	defer stopA()
	defer stopB()
	// Each relay resynchronises once it listens.
	nextA("resync", func(c roman.Change) bool { return c.Kind == roman.ChangeDeployment && c.Environment == "" })
	nextB("resync", func(c roman.Change) bool { return c.Kind == roman.ChangeDeployment && c.Environment == "" })

	// A deployment recorded on A reaches B.
	d := newDeployment("production", "v1", time.Now(), roman.StatusSuccess)
	mustCreate(t, a, d)
	nextB("deployment", func(c roman.Change) bool {
		return c.Kind == roman.ChangeDeployment && c.DeploymentID == d.DeploymentID && c.Environment == "production"
	})
	// Errors ingested on A reach B, named by deployment.
	if err := a.InsertErrorEvents(ctx, []roman.ErrorEvent{{DeploymentID: d.DeploymentID, Environment: "production",
		OccurredAt: time.Now(), Message: "boom", Severity: "error"}}); err != nil {
		t.Fatal(err)
	}
	nextB("errors", func(c roman.Change) bool { return c.Kind == roman.ChangeErrors && c.DeploymentID == d.DeploymentID })
	// Rollback events and roman_events rows written on B reach A.
	ev := &roman.RollbackEvent{EventID: roman.NewUUID(), DeploymentID: d.DeploymentID, Environment: "production",
		TriggerType: roman.TriggerManual, TriggerReason: "x", InitiatedAt: time.Now(), Status: roman.RollbackPending}
	if err := b.CreateRollbackEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	nextA("rollback", func(c roman.Change) bool {
		return c.Kind == roman.ChangeRollback && c.EventID == ev.EventID && c.Environment == "production" && c.DeploymentID == d.DeploymentID
	})
	meta, _ := json.Marshal(map[string]any{"deployment_id": d.DeploymentID, "environment": "production"})
	re := &roman.RomanEvent{EventID: roman.NewUUID(), EventType: "test", Severity: roman.SeverityInfo, Message: "m", Metadata: meta, Timestamp: time.Now()}
	if err := b.AddRomanEvent(ctx, re); err != nil {
		t.Fatal(err)
	}
	nextA("roman_event", func(c roman.Change) bool {
		return c.Kind == roman.ChangeRomanEvent && c.EventID == re.EventID && c.DeploymentID == d.DeploymentID
	})

	// A replica skips its own changes: A's relay, which delivers in commit
	// order, sees the row an outside writer inserts after A's own deployment,
	// but not that deployment.
	own := newDeployment("staging", "v2", time.Now(), roman.StatusSuccess)
	mustCreate(t, a, own)
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, `INSERT INTO ops.error_events (deployment_id, environment, occurred_at, message, severity)
		VALUES ($1, 'production', now(), 'inserted by the application', 'error')`, d.DeploymentID); err != nil {
		t.Fatal(err)
	}
	nextA("the outside writer's errors", func(c roman.Change) bool {
		if c.DeploymentID == own.DeploymentID {
			t.Fatalf("replica A relayed its own change: %+v", c)
		}
		return c.Kind == roman.ChangeErrors && c.DeploymentID == d.DeploymentID
	})

	// A bulk load is one notification naming nothing ("re-read
	// everything"), not one per row; the single row after it comes next.
	if _, err := raw.ExecContext(ctx, `INSERT INTO ops.roman_events (event_id, event_type, severity, message, metadata)
		SELECT gen_random_uuid(), 'bulk', 'info', 'm', '{}'::jsonb FROM generate_series(1, 5000)`); err != nil {
		t.Fatal(err)
	}
	last := roman.NewUUID()
	if _, err := raw.ExecContext(ctx, `INSERT INTO ops.roman_events (event_id, event_type, severity, message, metadata)
		VALUES ($1, 'single', 'info', 'm', '{}'::jsonb)`, last); err != nil {
		t.Fatal(err)
	}
	bulk := nextA("the bulk load", func(c roman.Change) bool { return c.Kind == roman.ChangeRomanEvent })
	if bulk.EventID != "" {
		t.Fatalf("the bulk load notified row by row: %+v", bulk)
	}
	nextA("the row after the bulk load", func(c roman.Change) bool {
		if c.Kind == roman.ChangeRomanEvent && c.EventID != last {
			t.Fatalf("more than one notification for the bulk load: %+v", c)
		}
		return c.EventID == last
	})
}

func TestParseIngestPayload(t *testing.T) {
	for _, tc := range []struct {
		in, table, origin string
		ids               int
	}{
		{"error_events:a,b@r1", "error_events", "r1", 2},
		{"metric_samples:@r1", "metric_samples", "r1", 0},
		{"error_events:a@", "error_events", "", 1},
		{"error_events:a,b", "error_events", "", 2}, // before migration 00006
	} {
		table, ids, origin := sqldb.ParseIngestPayload(tc.in)
		if table != tc.table || len(ids) != tc.ids || origin != tc.origin {
			t.Errorf("%q: %q %v %q", tc.in, table, ids, origin)
		}
	}
}
