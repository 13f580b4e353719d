package sqldb_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestRollbackEventGivenEnvironment: a rollback event of a deployment with
// its environment given (a rollback's own, written in one statement) takes
// the deployment's service (the default one when it has none), keeps every
// field, refuses an unknown deployment with nothing written and a second
// unfinished event of the service with the conflict naming the first.
func TestRollbackEventGivenEnvironment(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		d := newDeployment("production", "v2", t0, roman.StatusSuccess)
		d.Service = "checkout"
		plain := newDeployment("production", "v3", t0, roman.StatusSuccess)
		mustCreate(t, db, d, plain)
		by := roman.NewUUID()
		ev := &roman.RollbackEvent{EventID: roman.NewUUID(), DeploymentID: d.DeploymentID, Environment: "production",
			TriggerType: roman.TriggerManual, TriggerReason: "error spike", InitiatedBy: &by, InitiatedAt: t0,
			Status: roman.RollbackPending, Metadata: json.RawMessage(`{"caller":"cli"}`)}
		if err := db.CreateRollbackEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if ev.ID == 0 || ev.Service != "checkout" {
			t.Fatalf("event: id %d service %q", ev.ID, ev.Service)
		}
		got, err := db.GetRollbackEvent(ctx, ev.EventID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != ev.ID || got.Service != "checkout" || got.Environment != "production" || got.DeploymentID != d.DeploymentID ||
			got.InitiatedBy == nil || *got.InitiatedBy != by || !got.InitiatedAt.Equal(roman.UTC(t0)) || got.Status != roman.RollbackPending ||
			got.TriggerReason != "error spike" || string(got.Metadata) != `{"caller": "cli"}` && string(got.Metadata) != `{"caller":"cli"}` ||
			len(got.RollbackSteps) != 0 {
			t.Errorf("stored event %+v", got)
		}

		other := &roman.RollbackEvent{DeploymentID: plain.DeploymentID, Environment: "production", TriggerType: roman.TriggerManual,
			TriggerReason: "x", InitiatedAt: t0}
		if err := db.CreateRollbackEvent(ctx, other); err != nil || other.Service != roman.DefaultService {
			t.Fatalf("default service: %q %v", other.Service, err)
		}

		again := &roman.RollbackEvent{DeploymentID: d.DeploymentID, Environment: "production", TriggerType: roman.TriggerManual,
			TriggerReason: "x", InitiatedAt: t0.Add(time.Second)}
		re := wantCode(t, db.CreateRollbackEvent(ctx, again), roman.ECONFLICT)
		if re.EventID != ev.EventID || re.Message != "a rollback of service checkout in environment production is already in progress" {
			t.Errorf("conflict: %q naming %q", re.Message, re.EventID)
		}

		unknown := &roman.RollbackEvent{DeploymentID: roman.NewUUID(), Environment: "staging", TriggerType: roman.TriggerManual,
			TriggerReason: "x"}
		wantCode(t, db.CreateRollbackEvent(ctx, unknown), roman.ENOTFOUND)
		if evs, err := db.ListRollbackEvents(ctx, roman.RollbackFilter{Environment: "staging"}); err != nil || len(evs) != 0 {
			t.Errorf("an event of an unknown deployment was written: %d %v", len(evs), err)
		}
	})
}

// TestAlertToNoChannel: a roman_events row whose alert no channel takes
// is written alone (no outbox row), its alert still filled with the row's
// id and time; one that a channel takes gets its outbox row.
func TestAlertToNoChannel(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		d := newDeployment("production", "v2", t0, roman.StatusSuccess)
		mustCreate(t, db, d)
		db.SetAlertRouter(func(a *roman.Alert) []string {
			if a.Environment == "production" {
				return []string{"discord"}
			}
			return nil
		})
		quiet := &roman.RomanEvent{EventType: roman.EventRollbackStarted, Severity: roman.SeverityWarning, Message: "started",
			Metadata: json.RawMessage(`{"environment":"staging"}`), Timestamp: t0,
			Alert: &roman.Alert{Kind: roman.AlertRollbackTriggered, Environment: "staging", DeploymentID: d.DeploymentID}}
		if err := db.AddRomanEvent(ctx, quiet); err != nil {
			t.Fatal(err)
		}
		if quiet.ID == 0 || quiet.Alert.EventID != quiet.EventID || !quiet.Alert.At.Equal(roman.UTC(t0)) {
			t.Errorf("row %d, alert %+v", quiet.ID, quiet.Alert)
		}
		claimed, err := db.ClaimAlerts(ctx, t0.Add(time.Minute), time.Minute, 10)
		if err != nil || len(claimed) != 0 {
			t.Fatalf("outbox rows of an alert no channel takes: %d %v", len(claimed), err)
		}
		loud := &roman.RomanEvent{EventType: roman.EventRollbackStarted, Severity: roman.SeverityWarning, Message: "started",
			Metadata: json.RawMessage(`{"environment":"production"}`), Timestamp: t0,
			Alert: &roman.Alert{Kind: roman.AlertRollbackTriggered, Environment: "production", DeploymentID: d.DeploymentID}}
		if err := db.AddRomanEvent(ctx, loud); err != nil {
			t.Fatal(err)
		}
		claimed, err = db.ClaimAlerts(ctx, t0.Add(time.Minute), time.Minute, 10)
		if err != nil || len(claimed) != 1 || claimed[0].EventID != loud.EventID || claimed[0].Channel != "discord" || claimed[0].Attempts != 1 {
			t.Fatalf("outbox rows: %+v %v", claimed, err)
		}
		evs, err := db.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventRollbackStarted})
		if err != nil || len(evs) != 2 {
			t.Errorf("rows: %d %v", len(evs), err)
		}
		dup := &roman.RomanEvent{EventID: quiet.EventID, EventType: "x", Severity: roman.SeverityInfo, Message: "dup", Timestamp: t0}
		wantCode(t, db.AddRomanEvent(ctx, dup), roman.ECONFLICT)
	})
}

// TestUpdateRollbackEventSteps: steps given with an update are appended
// after the event's steps, in order, with their times in UTC, in the same
// write as the status; an update without steps keeps them; an unknown
// event is not found.
func TestUpdateRollbackEventSteps(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ev := newRollback(t, db, "production")
		if err := db.CreateRollbackEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2025, 6, 1, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600))
		first := roman.RollbackStep{Name: roman.StepValidate, Status: roman.StepStatusSuccess, StartedAt: at, FinishedAt: at,
			Detail: json.RawMessage(`{"compliant":true}`)}
		if err := db.AppendRollbackStep(ctx, ev.EventID, first); err != nil {
			t.Fatal(err)
		}
		snap := roman.RollbackStep{Name: roman.StepSnapshot, Status: roman.StepStatusFailed, StartedAt: at, FinishedAt: at.Add(time.Second),
			Detail: json.RawMessage(`{"error":"app database down"}`)}
		target := roman.RollbackStep{Name: roman.StepIdentifyTarget, Status: roman.StepStatusSuccess, StartedAt: at.Add(time.Second),
			FinishedAt: at.Add(time.Second)}
		st := roman.RollbackInProgress
		if err := db.UpdateRollbackEvent(ctx, ev.EventID, roman.RollbackEventUpdate{Status: &st,
			RollbackPlan: json.RawMessage(`{"target_version":"v1"}`), Steps: []roman.RollbackStep{snap, target}}); err != nil {
			t.Fatal(err)
		}
		meta := json.RawMessage(`{"started_step":"execute"}`)
		if err := db.UpdateRollbackEvent(ctx, ev.EventID, roman.RollbackEventUpdate{Metadata: meta}); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetRollbackEvent(ctx, ev.EventID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != roman.RollbackInProgress || len(got.RollbackPlan) == 0 || len(got.Metadata) == 0 {
			t.Errorf("event %+v", got)
		}
		var names []string
		for _, s := range got.RollbackSteps {
			names = append(names, s.Name+":"+s.Status)
		}
		if want := "validate:success pre_rollback_snapshot:failed identify_target:success"; strings.Join(names, " ") != want {
			t.Fatalf("steps %v, want %s", names, want)
		}
		if s := got.RollbackSteps[1]; !s.StartedAt.Equal(at) || s.StartedAt.Location() != time.UTC || !s.FinishedAt.Equal(at.Add(time.Second)) ||
			compactJSON(s.Detail) != `{"error":"app database down"}` {
			t.Errorf("snapshot step %+v", s)
		}
		wantCode(t, db.UpdateRollbackEvent(ctx, roman.NewUUID(), roman.RollbackEventUpdate{Steps: []roman.RollbackStep{target}}), roman.ENOTFOUND)
	})
}

func compactJSON(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
