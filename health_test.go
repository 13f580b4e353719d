package roman_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

func TestFormatRate(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{{9, "9"}, {8.5, "8.5"}, {0.2, "0.2"}, {0, "0"}, {0.25, "0.3"}, {93, "93"}, {92.96, "93"}, {62, "62"}, {5.04, "5"}} {
		if got := roman.FormatRate(tc.in); got != tc.want {
			t.Errorf("FormatRate(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestFormatErrorRate: the noun agrees with the number as printed, in every
// text that prints a rate (reasons, warnings, alerts, the CLI, the
// constitution's errors_per_minute).
func TestFormatErrorRate(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{1, "1 error/minute"}, {0.96, "1 error/minute"}, {1.04, "1 error/minute"},
		{0, "0 errors/minute"}, {0.2, "0.2 errors/minute"}, {1.05, "1.1 errors/minute"},
		{2, "2 errors/minute"}, {8.5, "8.5 errors/minute"}, {9, "9 errors/minute"},
	} {
		if got := roman.FormatErrorRate(tc.in); got != tc.want {
			t.Errorf("FormatErrorRate(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestHealthTextsPluralise: the reason and warning texts read "1 error/minute"
// and "8.5 errors/minute"; the seed's texts stay exact.
func TestHealthTextsPluralise(t *testing.T) {
	now := time.Date(2025, 12, 15, 14, 35, 0, 0, time.UTC)
	th := roman.DefaultThresholds()
	one := roman.EvaluateHealth(roman.HealthInputs{ErrorsLastMinute: 1, ErrorsLast5Minutes: 1}, th, now)
	if !slices.Equal(one.Warnings, []string{"Elevated error rate: 1 error/minute"}) {
		t.Errorf("one error: warnings %q", one.Warnings)
	}
	two := roman.EvaluateHealth(roman.HealthInputs{ErrorsLastMinute: 2, ErrorsLast5Minutes: 2}, th, now)
	if !slices.Equal(two.Warnings, []string{"Elevated error rate: 2 errors/minute"}) {
		t.Errorf("two errors: warnings %q", two.Warnings)
	}
	seed := roman.EvaluateHealth(roman.HealthInputs{Metrics: map[string]float64{roman.SignalErrorRate: 8.5}}, th, now)
	if seed.Reason != "High error rate: 8.5 errors/minute" {
		t.Errorf("seed reason %q", seed.Reason)
	}
	recent := roman.EvaluateHealth(roman.HealthInputs{ErrorsLastMinute: 2, ErrorsLast5Minutes: 62}, th, now)
	if recent.Reason != "Too many recent errors: 62 in 5 minutes" {
		t.Errorf("seed reason %q", recent.Reason)
	}
	low := th
	low.ErrorRate, low.WarnErrorRate = 0.5, 0.5
	if h := roman.EvaluateHealth(roman.HealthInputs{ErrorsLastMinute: 1, ErrorsLast5Minutes: 1}, low, now); h.Reason != "High error rate: 1 error/minute" {
		t.Errorf("one error over a low trigger: reason %q", h.Reason)
	}
}

func f(v float64) *float64 { return &v }

func TestEvaluateHealth(t *testing.T) {
	now := time.Date(2025, 12, 15, 14, 35, 0, 0, time.UTC)
	th := roman.DefaultThresholds()
	for _, tc := range []struct {
		name     string
		in       roman.HealthInputs
		status   string
		reason   string
		warnings int
	}{
		{"no errors", roman.HealthInputs{}, roman.HealthHealthy, "", 0},
		{"below one per minute", roman.HealthInputs{ErrorsLastMinute: 0, ErrorsLast5Minutes: 4}, roman.HealthHealthy, "", 0},
		{"3 per minute degraded", roman.HealthInputs{ErrorsLastMinute: 3, ErrorsLast5Minutes: 3}, roman.HealthDegraded, "", 1},
		{"exactly 5 is not over", roman.HealthInputs{ErrorsLastMinute: 5, ErrorsLast5Minutes: 5}, roman.HealthDegraded, "", 1},
		{"9 per minute", roman.HealthInputs{ErrorsLastMinute: 9, ErrorsLast5Minutes: 9}, roman.HealthUnhealthy, "High error rate: 9 errors/minute", 0},
		{"62 recent", roman.HealthInputs{ErrorsLastMinute: 2, ErrorsLast5Minutes: 62}, roman.HealthUnhealthy, "Too many recent errors: 62 in 5 minutes", 0},
		{"rate wins over recent", roman.HealthInputs{ErrorsLastMinute: 9, ErrorsLast5Minutes: 62}, roman.HealthUnhealthy, "High error rate: 9 errors/minute", 0},
		{"db connections", roman.HealthInputs{Metrics: map[string]float64{roman.MetricDatabaseConnectionUtilization: 93}}, roman.HealthUnhealthy, "Database connection utilization at 93%", 0},
		{"db at 90 is not over", roman.HealthInputs{Metrics: map[string]float64{roman.MetricDatabaseConnectionUtilization: 90}}, roman.HealthHealthy, "", 0},
		{"slow p95 warns", roman.HealthInputs{Metrics: map[string]float64{roman.MetricP95ResponseTimeMS: 5200}}, roman.HealthDegraded, "", 1},
		{"memory warns", roman.HealthInputs{Metrics: map[string]float64{roman.MetricMemoryUsagePercent: 96}}, roman.HealthDegraded, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := roman.EvaluateHealth(tc.in, th, now)
			if h.Status != tc.status || h.Reason != tc.reason || len(h.Warnings) != tc.warnings {
				t.Fatalf("got status=%s reason=%q warnings=%v; want %s %q %d", h.Status, h.Reason, h.Warnings, tc.status, tc.reason, tc.warnings)
			}
			if h.Healthy != (tc.reason == "") {
				t.Fatalf("healthy=%v with reason %q", h.Healthy, h.Reason)
			}
			if !h.Timestamp.Equal(now) {
				t.Fatalf("timestamp %v", h.Timestamp)
			}
		})
	}
}

func TestHealthMissingSignalsAreNull(t *testing.T) {
	h := roman.EvaluateHealth(roman.HealthInputs{Metrics: map[string]float64{roman.MetricActiveQueries: 12}}, roman.DefaultThresholds(), time.Now())
	if h.DatabaseConnections != nil || h.MemoryUsagePercent != nil || h.ActiveQueries == nil || *h.ActiveQueries != 12 {
		t.Fatalf("signals: %+v", h)
	}
}

func TestStableAndEntropy(t *testing.T) {
	th := roman.DefaultThresholds()
	calm := roman.EvaluateHealth(roman.HealthInputs{}, th, time.Now())
	if !calm.Stable(th) || calm.Entropy(th) != 0 {
		t.Fatal("no errors must be stable with zero entropy")
	}
	db := roman.EvaluateHealth(roman.HealthInputs{Metrics: map[string]float64{roman.MetricDatabaseConnectionUtilization: 95}}, th, time.Now())
	if db.Stable(th) {
		t.Fatal("a DB-connection trigger with no errors is not stable")
	}
	spike := roman.EvaluateHealth(roman.HealthInputs{ErrorsLastMinute: 20}, th, time.Now())
	if spike.Entropy(th) != 1 {
		t.Fatalf("entropy capped at 1, got %v", spike.Entropy(th))
	}
}

func TestThresholdsValidate(t *testing.T) {
	if err := roman.DefaultThresholds().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		change func(*roman.Thresholds)
		want   []string
	}{
		{func(t *roman.Thresholds) { t.ErrorRate = -1 }, []string{"thresholds.error_rate: must not be negative, got -1", "thresholds.warn_error_rate: 1 is above the error_rate trigger -1"}},
		{func(t *roman.Thresholds) { t.RecentErrors = -3 }, []string{"thresholds.recent_errors: must not be negative, got -3"}},
		{func(t *roman.Thresholds) { t.DBConnections = 101 }, []string{"thresholds.db_connections: must be at most 100, got 101"}},
		{func(t *roman.Thresholds) { t.WarnP95MS = math.NaN() }, []string{"thresholds.warn_p95_ms: not a number"}},
		{func(t *roman.Thresholds) { t.WarnMemoryPercent = math.Inf(1) }, []string{"thresholds.warn_memory_percent: not a number"}},
		{func(t *roman.Thresholds) { t.WarnErrorRate = 6 }, []string{"thresholds.warn_error_rate: 6 is above the error_rate trigger 5"}},
	} {
		th := roman.DefaultThresholds()
		tc.change(&th)
		var got []string
		for _, fe := range roman.FieldErrors(th.Validate()) {
			got = append(got, fe.Error())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// TestWarningSignal: every warning EvaluateHealth writes names its signal.
func TestWarningSignal(t *testing.T) {
	h := roman.EvaluateHealth(roman.HealthInputs{ErrorsLastMinute: 2, ErrorsLast5Minutes: 2, Metrics: map[string]float64{
		roman.MetricP95ResponseTimeMS: 6200, roman.MetricMemoryUsagePercent: 97}}, roman.DefaultThresholds(), time.Now())
	var got []string
	for _, w := range h.Warnings {
		got = append(got, roman.WarningSignal(w))
	}
	want := []string{roman.MetricP95ResponseTimeMS, roman.MetricMemoryUsagePercent, roman.SignalErrorRate}
	if !slices.Equal(got, want) || roman.WarningSignal("something else") != "" {
		t.Fatalf("signals of %q = %q, want %q", h.Warnings, got, want)
	}
}
