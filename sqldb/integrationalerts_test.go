package sqldb_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestIntegrationAlerts: alerts are recorded once per (fingerprint,
// startsAt), resolved once, with their audit rows in the same transaction;
// concurrent identical groups record one alert; FiringAlerts returns at
// most sqldb.MaxFiringAlerts per deployment with the triggers first, so
// warnings never crowd a trigger out.
func TestIntegrationAlerts(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		deployedAt := time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC)
		d := newDeployment("production", "v1", deployedAt, roman.StatusSuccess)
		mustCreate(t, db, d)
		alert := func(fp, name, status string, startsAt time.Time) *roman.IntegrationAlert {
			return &roman.IntegrationAlert{Source: roman.SourceAlertmanager, Fingerprint: fp, StartsAt: startsAt, Status: status,
				AlertName: name, DeploymentID: d.DeploymentID, Environment: "production", Service: "default", Rule: roman.AttributedByCurrent}
		}
		event := func(i int, outcome string) []*roman.RomanEvent {
			return []*roman.RomanEvent{{EventType: roman.EventIntegrationAlert, Severity: roman.SeverityInfo, Message: outcome,
				Metadata: []byte(`{"deployment_id":"` + d.DeploymentID + `"}`)}}
		}
		record := func(as ...*roman.IntegrationAlert) []string {
			t.Helper()
			out, err := db.RecordIntegrationAlerts(ctx, as, event)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		rows := func() int {
			evs, err := db.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventIntegrationAlert, DeploymentID: d.DeploymentID, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			return len(evs)
		}

		start := deployedAt.Add(time.Minute)
		if got := record(alert("a", "HighErrorRate", "firing", start)); got[0] != roman.AlertOutcomeNew {
			t.Fatalf("first: %v", got)
		}
		if got := record(alert("a", "HighErrorRate", "firing", start)); got[0] != roman.AlertOutcomeDuplicate || rows() != 1 {
			t.Fatalf("again: %v, %d rows", got, rows())
		}
		// A resolved message with no attribution of its own gets the stored
		// one back.
		res := alert("a", "HighErrorRate", "resolved", start)
		res.DeploymentID, res.Rule = "", ""
		if got := record(res); got[0] != roman.AlertOutcomeResolved || res.DeploymentID != d.DeploymentID || res.Rule != roman.AttributedByCurrent || rows() != 2 {
			t.Fatalf("resolved: %v %+v, %d rows", got, res, rows())
		}
		// Resolved is final: a late firing copy changes nothing.
		if got := record(alert("a", "HighErrorRate", "firing", start), alert("a", "HighErrorRate", "resolved", start)); got[0] != roman.AlertOutcomeDuplicate || got[1] != roman.AlertOutcomeDuplicate {
			t.Fatalf("after resolve: %v", got)
		}
		// The same fingerprint firing again later is a new alert.
		if got := record(alert("a", "HighErrorRate", "firing", start.Add(time.Hour))); got[0] != roman.AlertOutcomeNew {
			t.Fatalf("fired again: %v", got)
		}

		// Concurrent identical groups: one records.
		var wg sync.WaitGroup
		outs := make([][]string, 8)
		for i := range outs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, err := db.RecordIntegrationAlerts(ctx, []*roman.IntegrationAlert{alert("c", "X", "firing", start)}, event)
				if err != nil {
					t.Error(err)
				}
				outs[i] = o
			}()
		}
		wg.Wait()
		n := 0
		for _, o := range outs {
			if len(o) == 1 && o[0] == roman.AlertOutcomeNew {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("concurrent identical groups recorded %d times: %v", n, outs)
		}

		// 60 older warnings, one pre-existing trigger, one labelled and one
		// named trigger that started after the deployment.
		var many []*roman.IntegrationAlert
		for i := 0; i < 60; i++ {
			many = append(many, alert(fmt.Sprintf("w%02d", i), "Noise", "firing", deployedAt.Add(time.Duration(i)*time.Second)))
		}
		many = append(many, alert("old", "CheckoutDown", "firing", deployedAt.Add(-time.Hour)))
		lab := alert("lab", "Custom", "firing", start.Add(time.Minute))
		lab.Labelled = true
		many = append(many, lab, alert("named", "CheckoutDown", "firing", start.Add(2*time.Minute)))
		record(many...)
		firing, err := db.FiringAlerts(ctx, []string{d.DeploymentID, roman.NewUUID(), "not-a-uuid"}, []string{"CheckoutDown"})
		if err != nil {
			t.Fatal(err)
		}
		got := firing[d.DeploymentID]
		if len(firing) != 1 || len(got) != sqldb.MaxFiringAlerts {
			t.Fatalf("firing: %d deployments, %d alerts", len(firing), len(got))
		}
		if got[0].Fingerprint != "lab" || !got[0].Labelled || got[1].Fingerprint != "named" || got[2].Fingerprint == "lab" {
			t.Fatalf("triggers first: %s %s %s", got[0].Fingerprint, got[1].Fingerprint, got[2].Fingerprint)
		}
		for _, a := range got {
			if a.Status != roman.AlertFiring || a.DeploymentID != d.DeploymentID {
				t.Fatalf("alert %+v", a)
			}
		}
	})
}
