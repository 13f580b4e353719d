package sqldb_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/health"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/sqldb"
)

// TestSQLHealthReadsFiringAlerts computes the health of releases with
// firing Alertmanager alerts twice, with the server's health check
// (health.Checker reading the alerts and the environment's alert_triggers)
// and with ops.get_deployment_health on PostgreSQL, and requires the same
// JSON: a firing trigger alert that started after the release is the
// reason, other firing alerts and pre-existing triggers are warnings, and
// the alerts are listed in the same order with the same fields.
func TestSQLHealthReadsFiringAlerts(t *testing.T) {
	st, err := sqldb.Open(ctx, testpg.URL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 4, 16, 35, 0, 250000000, time.UTC)
	deployedAt := now.Add(-20 * time.Minute)
	triggers := map[string][]string{"production": {"HighErrorRate", "CheckoutDown"}, "staging": nil}
	if err := st.WriteHealthSettings(ctx, map[string]sqldb.HealthSettings{
		sqldb.DefaultSettingsEnvironment: {Thresholds: roman.DefaultThresholds(), ConsecutiveBreaches: 1},
		"production":                     {Thresholds: roman.DefaultThresholds(), ConsecutiveBreaches: 1, AlertTriggers: triggers["production"]},
	}); err != nil {
		t.Fatal(err)
	}
	checker := &health.Checker{Store: st, Alerts: st, Thresholds: func(string) roman.Thresholds { return roman.DefaultThresholds() },
		AlertTriggers: func(env string) []string { return triggers[env] }, Clock: func() time.Time { return now }}

	type alert struct {
		name, summary, status string
		labelled              bool
		start                 time.Duration // from the deployment
	}
	for _, tc := range []struct {
		name   string
		env    string
		errors int // in the last minute
		alerts []alert
		want   string // the Go check's reason, or its status
	}{
		{name: "a firing trigger alert", env: "production",
			alerts: []alert{{name: "HighErrorRate", summary: "Error rate above 5% on checkout-api", status: roman.AlertFiring, start: 3 * time.Minute}},
			want:   "Alert firing: HighErrorRate: Error rate above 5% on checkout-api"},
		{name: "without a summary, with errors", env: "production", errors: 2,
			alerts: []alert{{name: "CheckoutDown", status: roman.AlertFiring, start: 90*time.Second + 123456*time.Microsecond}},
			want:   "Alert firing: CheckoutDown"},
		{name: "triggers first, warnings after", env: "production", alerts: []alert{
			{name: "DiskFilling", summary: "Disk 91% full", status: roman.AlertFiring, start: -time.Hour},
			{name: "HighErrorRate", summary: "started before the release", status: roman.AlertFiring, start: -time.Minute},
			{name: "QueueBacklog", summary: "labelled", status: roman.AlertFiring, labelled: true, start: 5 * time.Minute},
			{name: "CheckoutDown", summary: "the first trigger", status: roman.AlertFiring, start: 2 * time.Minute},
			{name: "HighErrorRate", summary: "resolved", status: roman.AlertResolved, start: time.Minute},
		}, want: "Alert firing: CheckoutDown: the first trigger"},
		{name: "only a pre-existing trigger", env: "production",
			alerts: []alert{{name: "HighErrorRate", summary: "old", status: roman.AlertFiring, start: -time.Second}}, want: roman.HealthDegraded},
		{name: "not a trigger in this environment", env: "staging",
			alerts: []alert{{name: "HighErrorRate", summary: "warning here", status: roman.AlertFiring, start: time.Minute}}, want: roman.HealthDegraded},
		{name: "an error trigger comes first", env: "production", errors: 7,
			alerts: []alert{{name: "HighErrorRate", status: roman.AlertFiring, start: time.Minute}}, want: "High error rate: 7 errors/minute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &roman.Deployment{DeploymentID: roman.NewUUID(), Service: "checkout-api", Environment: tc.env, Version: "1.4.2",
				GitCommit: "c2", GitBranch: "main", DeployedAt: deployedAt, Status: roman.StatusSuccess, CompletedAt: &deployedAt}
			if err := st.CreateDeployment(ctx, d); err != nil {
				t.Fatal(err)
			}
			var evs []roman.ErrorEvent
			for range tc.errors {
				evs = append(evs, roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: tc.env, OccurredAt: now.Add(-time.Second), Message: "x", Severity: "error"})
			}
			if err := st.InsertErrorEvents(ctx, evs); err != nil {
				t.Fatal(err)
			}
			for i, a := range tc.alerts {
				row := &roman.IntegrationAlert{Source: roman.SourceAlertmanager, Fingerprint: fmt.Sprintf("%s-%02d", d.DeploymentID[:8], i),
					StartsAt: deployedAt.Add(a.start), Status: roman.AlertFiring, AlertName: a.name, Summary: a.summary, Labelled: a.labelled,
					DeploymentID: d.DeploymentID, Service: "checkout-api", Environment: tc.env, Rule: roman.AttributedByVersion}
				rows := []*roman.IntegrationAlert{row}
				if a.status == roman.AlertResolved {
					resolved := *row
					resolved.Status = roman.AlertResolved
					rows = append(rows, &resolved)
				}
				if _, err := st.RecordIntegrationAlerts(ctx, rows, nil); err != nil {
					t.Fatal(err)
				}
			}
			h, err := checker.CheckAt(ctx, d, now)
			if err != nil {
				t.Fatal(err)
			}
			if h.Reason != tc.want && h.Status != tc.want {
				t.Fatalf("Go health: reason %q status %q, want %q", h.Reason, h.Status, tc.want)
			}
			goJSON, _ := json.Marshal(h)
			var sqlJSON []byte
			if err := st.SQL().QueryRow(`SELECT ops.get_deployment_health($1, $2)`, d.DeploymentID, now).Scan(&sqlJSON); err != nil {
				t.Fatal(err)
			}
			var a, b map[string]any
			if err := json.Unmarshal(goJSON, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(sqlJSON, &b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("Go and SQL disagree:\n Go: %s\nSQL: %s", goJSON, sqlJSON)
			}
		})
	}
}
