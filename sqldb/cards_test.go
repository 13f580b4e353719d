package sqldb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestDashboardBatchesAgreeWithSingleReads checks each batched read of the
// dashboard against the per-card read it replaces, on both stores, with
// several rollbacks per deployment and per service (so "newest" matters),
// events of other types and deployments, unknown ids, and error buckets
// of whole and partial seconds.
func TestDashboardBatchesAgreeWithSingleReads(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		var deps []*roman.Deployment
		for i := range 6 {
			d := &roman.Deployment{Service: []string{"", "api"}[i%2], Environment: fmt.Sprintf("env-%d", i%3), Version: fmt.Sprintf("v%d", i),
				Status: roman.StatusSuccess, DeployedAt: now.Add(-time.Duration(60-i) * time.Minute)}
			if err := db.CreateDeployment(ctx, d); err != nil {
				t.Fatal(err)
			}
			deps = append(deps, d)
		}
		for i, d := range deps {
			for j := range 3 { // older first, finished, so the next may start
				done := now.Add(-time.Duration(50-10*j-i) * time.Minute)
				ev := &roman.RollbackEvent{DeploymentID: d.DeploymentID, TriggerType: "manual", TriggerReason: fmt.Sprintf("r%d-%d", i, j),
					Status: roman.RollbackSuccess, InitiatedAt: done.Add(-time.Second), CompletedAt: &done}
				if err := db.CreateRollbackEvent(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
			for j, typ := range []string{roman.EventWatchBreach, roman.EventHealthJudgement, roman.EventWatchPassed, "other", roman.EventWatchBreach} {
				md, _ := json.Marshal(map[string]any{"deployment_id": d.DeploymentID})
				if err := db.AddRomanEvent(ctx, &roman.RomanEvent{EventType: typ, Severity: roman.SeverityInfo, Message: fmt.Sprint(j),
					Metadata: md, Timestamp: now.Add(-time.Duration(j) * time.Second)}); err != nil {
					t.Fatal(err)
				}
			}
			var evs []roman.ErrorEvent
			for j := range 50 {
				evs = append(evs, roman.ErrorEvent{DeploymentID: d.DeploymentID, OccurredAt: now.Add(-time.Duration(j*(i+3)*1700) * time.Millisecond),
					Message: "boom", Fingerprint: fmt.Sprintf("fp-%d", j%4)})
			}
			if err := db.InsertErrorEvents(ctx, evs); err != nil {
				t.Fatal(err)
			}
		}
		ids := []string{"not-a-uuid", "00000000-0000-4000-8000-000000000000"}
		var scopes []roman.ServiceEnvironment
		for _, d := range deps {
			ids = append(ids, d.DeploymentID)
			scopes = append(scopes, roman.ServiceEnvironment{Service: roman.ServiceOrDefault(d.Service), Environment: d.Environment})
		}
		scopes = append(scopes, roman.ServiceEnvironment{Service: "nobody", Environment: "env-0"})

		got, err := db.GetDeployments(ctx, ids)
		if err != nil || len(got) != len(deps) {
			t.Fatalf("GetDeployments: %d of %d, %v", len(got), len(deps), err)
		}
		latest, err := db.LatestRollbackEvents(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		scoped, err := db.LatestScopeRollbackEvents(ctx, scopes)
		if err != nil {
			t.Fatal(err)
		}
		decisions, err := db.DeploymentEventsBatch(ctx, ids, []string{roman.EventWatchBreach, roman.EventWatchPassed}, 2)
		if err != nil {
			t.Fatal(err)
		}
		groups, err := db.DeploymentErrorsBatch(ctx, ids, roman.ErrorGroupFilter{Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			one, err := db.GetDeployment(ctx, id)
			if err == nil && !reflect.DeepEqual(one, got[id]) {
				t.Errorf("%s: GetDeployments %+v, GetDeployment %+v", id, got[id], one)
			}
			evs, err := db.ListRollbackEvents(ctx, roman.RollbackFilter{DeploymentID: id, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) == 1 != (latest[id] != nil) || len(evs) == 1 && !reflect.DeepEqual(evs[0], latest[id]) {
				t.Errorf("%s: newest rollback %+v, batched %+v", id, evs, latest[id])
			}
			rows, err := db.ListRomanEvents(ctx, roman.RomanEventFilter{DeploymentID: id, EventTypes: []string{roman.EventWatchBreach, roman.EventWatchPassed}, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(decisions[id]) || len(rows) > 0 && !reflect.DeepEqual(rows, decisions[id]) {
				t.Errorf("%s: events %+v, batched %+v", id, rows, decisions[id])
			}
			gs, err := db.DeploymentErrors(ctx, id, roman.ErrorGroupFilter{Limit: 3})
			if err == nil && len(gs) > 0 && !reflect.DeepEqual(gs, groups[id]) {
				t.Errorf("%s: error groups %+v, batched %+v", id, gs, groups[id])
			}
		}
		for _, s := range scopes {
			evs, err := db.ListRollbackEvents(ctx, roman.RollbackFilter{Service: s.Service, Environment: s.Environment, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) == 1 != (scoped[s] != nil) || len(evs) == 1 && !reflect.DeepEqual(evs[0], scoped[s]) {
				t.Errorf("%v: newest rollback %+v, batched %+v", s, evs, scoped[s])
			}
		}
		var reqs []roman.BucketsRequest
		for i, d := range deps {
			from := now.Add(-time.Duration(10+i) * time.Minute)
			reqs = append(reqs, roman.BucketsRequest{DeploymentID: d.DeploymentID, From: from, Step: time.Duration(i+1) * time.Second, N: 200},
				roman.BucketsRequest{DeploymentID: d.DeploymentID, From: from.Add(300 * time.Millisecond), Step: 1500 * time.Millisecond, N: 100})
		}
		reqs = append(reqs, roman.BucketsRequest{DeploymentID: "not-a-uuid", From: now, Step: time.Second, N: 3})
		buckets, err := db.ErrorBucketsBatch(ctx, reqs)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for i, r := range reqs {
			one, err := db.ErrorBuckets(ctx, r.DeploymentID, r.From, r.Step, r.N)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(one, buckets[i]) {
				t.Errorf("request %d: buckets %v, batched %v", i, one, buckets[i])
			}
			for _, n := range one {
				total += n
			}
		}
		if total == 0 {
			t.Error("the buckets counted no errors: the comparison says nothing")
		}
	})
}
