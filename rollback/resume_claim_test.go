package rollback_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/odyssey-1/roman"
)

// TestResumeOnlyClaimed: with Claim set (several replicas), Resume runs only
// the events Claim accepts, keeps the owner Claim writes into the metadata,
// and a new event records the service's replica.
func TestResumeOnlyClaimed(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		var ids []string
		for _, name := range []string{"production", "staging"} {
			_, bad := e.seedScenario(t, name)
			ev := e.pendingEvent(t, bad, `{"caller":"ci","replica":"dead"}`)
			ids = append(ids, ev.EventID)
		}
		offered := map[string]int{}
		e.svc.Claim = func(_ context.Context, ev *roman.RollbackEvent) bool {
			offered[ev.EventID]++
			if ev.EventID != ids[0] {
				return false
			}
			ev.Metadata = json.RawMessage(`{"caller":"ci","replica":"me"}`)
			return true
		}
		if n, err := e.svc.Resume(ctx); err != nil || n != 1 {
			t.Fatalf("Resume: %d %v", n, err)
		}
		e.drain(t)
		if offered[ids[0]] != 1 || offered[ids[1]] != 1 {
			t.Fatalf("offered: %v", offered)
		}
		won, _ := e.store.GetRollbackEvent(ctx, ids[0])
		left, _ := e.store.GetRollbackEvent(ctx, ids[1])
		var meta map[string]any
		_ = json.Unmarshal(won.Metadata, &meta)
		if won.Status != roman.RollbackSuccess || meta["replica"] != "me" || left.Status != roman.RollbackPending {
			t.Fatalf("claimed %s (metadata %s), unclaimed %s", won.Status, won.Metadata, left.Status)
		}

		// A rollback this service starts names its replica.
		e.svc.Replica, e.svc.Claim = "replica-1", nil
		_, bad := e.seedScenario(t, "canary")
		res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug", Caller: "api"})
		if err != nil {
			t.Fatal(err)
		}
		e.drain(t)
		got, _ := e.store.GetRollbackEvent(ctx, res.EventID)
		meta = nil
		_ = json.Unmarshal(got.Metadata, &meta)
		if meta["replica"] != "replica-1" || meta["caller"] != "api" {
			t.Fatalf("new event metadata: %s", got.Metadata)
		}
	})
}
