package sqldb_test

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestIntegrationAlertGroups: a group decides each alert exactly as if its
// alerts had been recorded one after the other (PostgreSQL writes a group
// in one statement, SQLite row by row): a repeated identity in the group
// is a duplicate, a resolved alert never seen is recorded resolved, a
// firing alert resolved later in the same group is resolved, a known
// firing alert arriving resolved is resolved with its stored attribution.
// Audit rows are written for the alerts that were not duplicates and only
// for them, ids are filled, and a group with an invalid deployment id
// writes nothing. An audit row that carries an alert for the outbox queues
// it with the alert.
func TestIntegrationAlertGroups(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		deployedAt := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
		d := newDeployment("production", "v1", deployedAt, roman.StatusSuccess)
		mustCreate(t, db, d)
		start := deployedAt.Add(time.Minute)
		alert := func(fp, status string) *roman.IntegrationAlert {
			return &roman.IntegrationAlert{Source: roman.SourceAlertmanager, Fingerprint: fp, StartsAt: start, Status: status,
				AlertName: "Alert" + fp, DeploymentID: d.DeploymentID, Environment: "production", Service: "default",
				Rule: roman.AttributedByVersion, Labels: []byte(`{"alertname":"Alert` + fp + `"}`)}
		}
		record := func(as ...*roman.IntegrationAlert) ([]string, error) {
			return db.RecordIntegrationAlerts(ctx, as, func(i int, outcome string) []*roman.RomanEvent {
				a := as[i]
				return []*roman.RomanEvent{{EventType: roman.EventIntegrationAlert, Severity: roman.SeverityInfo,
					Message:  outcome + " " + a.Fingerprint + " " + a.DeploymentID,
					Metadata: []byte(`{"deployment_id":"` + d.DeploymentID + `","fingerprint":"` + a.Fingerprint + `"}`)}}
			})
		}
		audit := func() []string {
			t.Helper()
			evs, err := db.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventIntegrationAlert, DeploymentID: d.DeploymentID, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range evs {
				out = append(out, e.Message)
			}
			sort.Strings(out)
			return out
		}
		status := func(fp string) string {
			t.Helper()
			var s string
			if err := db.SQL().QueryRow(db.Rebind(`SELECT status FROM integration_alerts WHERE fingerprint = ?`), fp).Scan(&s); err != nil {
				return "absent"
			}
			return s
		}

		if out, err := record(alert("d", roman.AlertFiring), alert("e", roman.AlertFiring)); err != nil || strings.Join(out, " ") != "recorded recorded" {
			t.Fatalf("setup: %v %v", out, err)
		}
		// D arrives resolved without attribution of its own.
		dRes := alert("d", roman.AlertResolved)
		dRes.DeploymentID, dRes.Rule, dRes.Service, dRes.Environment = "", "", "", ""
		end := start.Add(5 * time.Minute)
		dRes.EndsAt = &end
		// B arrives resolved, never seen firing.
		bRes := alert("b", roman.AlertResolved)
		bRes.EndsAt = &end
		group := []*roman.IntegrationAlert{
			alert("a", roman.AlertFiring), alert("a", roman.AlertFiring), bRes,
			alert("c", roman.AlertFiring), alert("c", roman.AlertResolved), dRes, alert("e", roman.AlertFiring),
		}
		out, err := record(group...)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{roman.AlertOutcomeNew, roman.AlertOutcomeDuplicate, roman.AlertOutcomeNew, roman.AlertOutcomeNew,
			roman.AlertOutcomeResolved, roman.AlertOutcomeResolved, roman.AlertOutcomeDuplicate}
		if strings.Join(out, " ") != strings.Join(want, " ") {
			t.Fatalf("outcomes %v, want %v", out, want)
		}
		for i, a := range group {
			if out[i] != roman.AlertOutcomeDuplicate && a.ID == 0 {
				t.Fatalf("alert %d (%s, %s): no id", i, a.Fingerprint, out[i])
			}
		}
		if dRes.DeploymentID != d.DeploymentID || dRes.Rule != roman.AttributedByVersion || dRes.Environment != "production" {
			t.Fatalf("resolved alert without attribution: %+v", dRes)
		}
		for fp, st := range map[string]string{"a": "firing", "b": "resolved", "c": "resolved", "d": "resolved", "e": "firing"} {
			if got := status(fp); got != st {
				t.Fatalf("alert %s: %s, want %s", fp, got, st)
			}
		}
		for _, fp := range []string{"b", "d"} {
			var ended time.Time
			if err := db.SQL().QueryRow(db.Rebind(`SELECT ends_at FROM integration_alerts WHERE fingerprint = ?`), fp).Scan(sqldb.ScanTime(&ended)); err != nil || !ended.Equal(end) {
				t.Fatalf("alert %s ends_at %v (%v), want %v", fp, ended, err, end)
			}
		}
		dep := d.DeploymentID
		wantAudit := []string{"recorded a " + dep, "recorded b " + dep, "recorded c " + dep, "recorded d " + dep,
			"recorded e " + dep, "resolved c " + dep, "resolved d " + dep}
		if got := audit(); strings.Join(got, "|") != strings.Join(wantAudit, "|") {
			t.Fatalf("audit rows:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantAudit, "\n"))
		}

		// Re-sent, twice (PostgreSQL finds the second by reads alone):
		// nothing written.
		for range 2 {
			out, err = record(group...)
			if err != nil || strings.Count(strings.Join(out, " "), roman.AlertOutcomeDuplicate) != len(group) {
				t.Fatalf("re-sent: %v %v", out, err)
			}
			if got := audit(); len(got) != len(wantAudit) {
				t.Fatalf("re-sent group wrote audit rows: %d", len(got))
			}
		}

		// An invalid deployment id fails the group; nothing of it is written.
		bad := alert("g", roman.AlertFiring)
		bad.DeploymentID = "not-a-uuid"
		if _, err := record(alert("f", roman.AlertFiring), bad); roman.ErrorCode(err) != roman.EINVALID {
			t.Fatalf("invalid deployment id: %v", err)
		}
		if status("f") != "absent" || len(audit()) != len(wantAudit) {
			t.Fatalf("a failed group left alert f %s, %d audit rows", status("f"), len(audit()))
		}

		// Without audit rows.
		if out, err := db.RecordIntegrationAlerts(ctx, []*roman.IntegrationAlert{alert("h", roman.AlertFiring)}, nil); err != nil || out[0] != roman.AlertOutcomeNew {
			t.Fatalf("no events: %v %v", out, err)
		}

		// An audit row with an alert for the outbox queues it in the same
		// transaction.
		db.SetAlertRouter(func(*roman.Alert) []string { return []string{roman.ChannelSlack} })
		out, err = db.RecordIntegrationAlerts(ctx, []*roman.IntegrationAlert{alert("i", roman.AlertFiring)}, func(int, string) []*roman.RomanEvent {
			return []*roman.RomanEvent{{EventType: roman.EventIntegrationAlert, Severity: roman.SeverityWarning, Message: "with alert",
				Metadata: []byte(`{"deployment_id":"` + dep + `"}`),
				Alert:    &roman.Alert{Kind: roman.AlertHealthWarning, DeploymentID: dep, Version: "v1", Environment: "production"}}}
		})
		if err != nil || out[0] != roman.AlertOutcomeNew {
			t.Fatalf("with an alert: %v %v", out, err)
		}
		claimed, err := db.ClaimAlerts(ctx, time.Now(), time.Minute, 10)
		if err != nil || len(claimed) != 1 || claimed[0].Channel != roman.ChannelSlack {
			t.Fatalf("outbox: %d rows %v", len(claimed), err)
		}
	})
}
