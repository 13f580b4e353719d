package rollback_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

// routeAll queues every alert for one channel and returns a function that
// lists the queued alerts in order.
func (e *env) routeAll(t *testing.T) func() []roman.Alert {
	e.store.SetAlertRouter(func(*roman.Alert) []string { return []string{roman.ChannelDiscord} })
	return func() []roman.Alert {
		t.Helper()
		rows, err := e.store.ListAlerts(context.Background(), roman.OutboxFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var out []roman.Alert
		for _, r := range rows {
			out = append(out, r.Alert)
		}
		return out
	}
}

func kinds(as []roman.Alert) string {
	var k []string
	for _, a := range as {
		k = append(k, a.Kind)
	}
	return strings.Join(k, ",")
}

// TestRollbackAlerts checks that a rollback's decision rows carry the seed's
// alert, field for field, into the outbox.
func TestRollbackAlerts(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alerts := e.routeAll(t)
		good, bad := e.seedScenario(t, "production")
		e.clock.Add(2 * time.Minute)
		e.errors(t, bad, 9, time.Minute)
		res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "High error rate: 9 errors/minute",
			TriggerType: roman.TriggerAutomatic})
		if err != nil || !res.Success {
			t.Fatalf("Execute = %+v, %v", res, err)
		}
		e.drain(t)
		got := alerts()
		if kinds(got) != roman.AlertRollbackTriggered+","+roman.AlertRollbackCompleted {
			t.Fatalf("alerts = %s", kinds(got))
		}
		trig := got[0]
		want := roman.Alert{Kind: roman.AlertRollbackTriggered, EventID: trig.EventID, RollbackEventID: res.EventID,
			DeploymentID: bad.DeploymentID, Version: "v2.5.3", Environment: "production", Reason: "High error rate: 9 errors/minute",
			Trigger: roman.TriggerAutomatic, TargetDeploymentID: good.DeploymentID, TargetVersion: "v2.5.2", TargetCommit: "a7f3b29",
			Validation: roman.ValidationApproved, At: trig.At}
		if trig.EventID == "" || !trig.At.Equal(roman.UTC(e.clock.Now())) {
			t.Errorf("alert event %q at %s", trig.EventID, trig.At)
		}
		trig.Warnings = nil
		if !alertEqual(trig, want) {
			t.Errorf("triggered alert\n%+v\nwant\n%+v", trig, want)
		}
		done := got[1]
		if done.DurationSeconds == nil || done.TargetCommit != "a7f3b29" || done.Validation != roman.ValidationApproved {
			t.Errorf("completed alert %+v", done)
		}
		// The alert rode on the rollback_started row.
		rows, _ := e.store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventRollbackStarted})
		if len(rows) != 1 || rows[0].EventID != trig.EventID {
			t.Errorf("triggered alert is not on the rollback_started row")
		}
	})
}

func alertEqual(a, b roman.Alert) bool {
	return a.Kind == b.Kind && a.EventID == b.EventID && a.RollbackEventID == b.RollbackEventID && a.DeploymentID == b.DeploymentID &&
		a.Version == b.Version && a.Environment == b.Environment && a.Reason == b.Reason && a.Trigger == b.Trigger &&
		a.TargetDeploymentID == b.TargetDeploymentID && a.TargetVersion == b.TargetVersion && a.TargetCommit == b.TargetCommit &&
		a.Validation == b.Validation && len(a.Violations) == len(b.Violations) && a.Detail == b.Detail && a.At.Equal(b.At)
}

func TestRejectionAndFailureAlerts(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alerts := e.routeAll(t)
		_, bad := e.seedScenario(t, "production")
		_, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "spike", TriggerType: roman.TriggerAutomatic})
		var rej *roman.RejectedError
		if !errors.As(err, &rej) {
			t.Fatalf("want a rejection, got %v", err)
		}
		got := alerts()
		if kinds(got) != roman.AlertConstitutionalViolation {
			t.Fatalf("alerts = %s", kinds(got))
		}
		v := got[0]
		if v.Validation != roman.ValidationRejected || len(v.Violations) == 0 || v.Violations[0] != "System already stable: error rate 0/minute" ||
			v.TargetVersion != "v2.5.2" || v.TargetCommit != "a7f3b29" || v.Trigger != roman.TriggerAutomatic {
			t.Errorf("violation alert %+v", v)
		}

		e.exec.err = errors.New("platform unreachable")
		res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug"})
		if err != nil || res.Success {
			t.Fatalf("Execute = %+v, %v", res, err)
		}
		e.drain(t)
		got = alerts()
		if kinds(got) != "constitutional_violation,rollback_triggered,rollback_failed" {
			t.Fatalf("alerts = %s", kinds(got))
		}
		f := got[2]
		if !strings.HasPrefix(f.Detail, "executor none failed") || f.Trigger != roman.TriggerManual || f.Validation != roman.ValidationApproved {
			t.Errorf("failed alert %+v", f)
		}
	})
}
