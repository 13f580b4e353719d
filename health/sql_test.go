package health_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/health"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/sqldb"
)

func TestMain(m *testing.M) { testpg.Main(m) }

var ctx = context.Background()

// TestSQLHealthAgreesWithGo computes the health of the same stored data
// twice, with the server's Checker and with ops.get_deployment_health on
// PostgreSQL, and requires the same JSON, for data that exercises every
// trigger, warning and the thresholds and consecutive breaches the server
// writes to health_settings.
func TestSQLHealthAgreesWithGo(t *testing.T) {
	st, err := sqldb.Open(ctx, testpg.URL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2025, 12, 15, 14, 35, 0, 123456000, time.UTC)
	strict := roman.Thresholds{ErrorRate: 2, RecentErrors: 10, DBConnections: 80, WarnErrorRate: 0.5, WarnP95MS: 300, WarnMemoryPercent: 50}
	if err := st.WriteHealthSettings(ctx, map[string]sqldb.HealthSettings{
		sqldb.DefaultSettingsEnvironment: {Thresholds: roman.DefaultThresholds(), ConsecutiveBreaches: 1},
		"strict":                         {Thresholds: strict, ConsecutiveBreaches: 1},
		"patient":                        {Thresholds: roman.DefaultThresholds(), ConsecutiveBreaches: 3},
	}); err != nil {
		t.Fatal(err)
	}
	thresholds := func(env string) roman.Thresholds {
		if env == "strict" {
			return strict
		}
		return roman.DefaultThresholds()
	}
	breaches := func(env string) int {
		if env == "patient" {
			return 3
		}
		return 1
	}
	checker := &health.Checker{Store: st, Thresholds: thresholds, ConsecutiveBreaches: breaches, Clock: func() time.Time { return now }}

	type sample struct {
		name string
		v    float64
		age  time.Duration
	}
	for _, tc := range []struct {
		name    string
		env     string
		errors  []time.Duration // ages of error events
		samples []sample
		want    string // the expected reason or status, as a sanity check
	}{
		{name: "no data", env: "production", want: "healthy"},
		{name: "degraded", env: "production", errors: ages(3, 10*time.Second), want: "degraded"},
		{name: "rate trigger", env: "production", errors: ages(9, 30*time.Second), want: "High error rate: 9 errors/minute"},
		{name: "edges of the windows", env: "production",
			errors: []time.Duration{0, time.Minute, time.Minute - time.Microsecond, 5 * time.Minute, -time.Second}, want: "degraded"},
		{name: "recent errors", env: "production", errors: append(ages(5, 20*time.Second), ages(46, 2*time.Minute)...), want: "Too many recent errors: 51 in 5 minutes"},
		{name: "db connections", env: "production", samples: []sample{{roman.MetricDatabaseConnectionUtilization, 93.25, 10 * time.Second},
			{roman.MetricDatabaseConnections, 93, 10 * time.Second}, {roman.MetricActiveQueries, 12, time.Second}}, want: "Database connection utilization at 93.3%"},
		{name: "warnings", env: "production", errors: ages(1, time.Second), samples: []sample{{roman.MetricP95ResponseTimeMS, 5200, time.Second},
			{roman.MetricMemoryUsagePercent, 96.55, time.Second}, {roman.MetricMemoryUsagePercent, 10, 2 * time.Second}}, want: "degraded"},
		{name: "stale samples are null", env: "production", samples: []sample{{roman.MetricMemoryUsagePercent, 99, 6 * time.Minute}}, want: "healthy"},
		{name: "pushed error rate", env: "production", samples: []sample{{roman.SignalErrorRate, 8.45, time.Second}}, want: "High error rate: 8.5 errors/minute"},
		{name: "pushed recent errors", env: "production", samples: []sample{{roman.SignalRecentErrors, 61.5, time.Second}}, want: "Too many recent errors: 62 in 5 minutes"},
		{name: "environment thresholds", env: "strict", errors: ages(3, time.Second), want: "High error rate: 3 errors/minute"},
		{name: "one error per minute", env: "production", errors: ages(1, time.Second), want: "degraded"},
		{name: "a pushed rate that prints as 1", env: "strict", samples: []sample{{roman.SignalErrorRate, 0.96, time.Second}}, want: "degraded"},
		{name: "two breaches of three", env: "patient", samples: []sample{{roman.MetricDatabaseConnectionUtilization, 95, time.Second},
			{roman.MetricDatabaseConnectionUtilization, 97, 2 * time.Second}}, want: "healthy"},
		{name: "a flaky one of three", env: "patient", samples: []sample{{roman.MetricDatabaseConnectionUtilization, 95, time.Second},
			{roman.MetricDatabaseConnectionUtilization, 40, 2 * time.Second}, {roman.MetricDatabaseConnectionUtilization, 97, 3 * time.Second}}, want: "healthy"},
		{name: "three breaches", env: "patient", samples: []sample{{roman.MetricDatabaseConnectionUtilization, 91, time.Second},
			{roman.MetricDatabaseConnectionUtilization, 95, 2 * time.Second}, {roman.MetricDatabaseConnectionUtilization, 97, 3 * time.Second}},
			want: "Database connection utilization at 91%"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := now.Add(-time.Hour)
			d := &roman.Deployment{DeploymentID: roman.NewUUID(), Environment: tc.env, Version: "v1", GitCommit: "c", GitBranch: "main",
				DeployedAt: at, Status: roman.StatusSuccess, CompletedAt: &at}
			if err := st.CreateDeployment(ctx, d); err != nil {
				t.Fatal(err)
			}
			var evs []roman.ErrorEvent
			for _, age := range tc.errors {
				evs = append(evs, roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: tc.env, OccurredAt: now.Add(-age), Message: "x", Severity: "error"})
			}
			if err := st.InsertErrorEvents(ctx, evs); err != nil {
				t.Fatal(err)
			}
			var ss []roman.MetricSample
			for _, s := range tc.samples {
				ss = append(ss, roman.MetricSample{DeploymentID: d.DeploymentID, Environment: tc.env, Name: s.name, Value: s.v, At: now.Add(-s.age)})
			}
			if err := st.InsertMetricSamples(ctx, ss); err != nil {
				t.Fatal(err)
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

	// The seed's one-argument form answers health now, and NULL for an
	// unknown deployment.
	var raw []byte
	if err := st.SQL().QueryRow(`SELECT ops.get_deployment_health($1)`, roman.NewUUID()).Scan(&raw); err != nil || raw != nil {
		t.Fatalf("unknown deployment: %s %v", raw, err)
	}
}

// ages returns n copies of age.
func ages(n int, age time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = age
	}
	return out
}
