package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/metrics"
	"github.com/odyssey-1/roman/sqldb"
)

// scrape GETs the handler and parses the exposition text.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return fams
}

// value returns the value of the family's metric whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestScrape(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, testkit.SQLiteURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2025, 12, 15, 14, 3, 0, 0, time.UTC)
	mk := func(env, version, status string, completed time.Time) *roman.Deployment {
		d := &roman.Deployment{Environment: env, Version: version, GitCommit: "a7f3b29", GitBranch: "main", Status: status,
			DeployedAt: completed.Add(-time.Minute), CompletedAt: &completed}
		if err := db.CreateDeployment(ctx, d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	mk("production", "v2.5.2", roman.StatusSuccess, now.Add(-time.Hour))
	watched := mk("production", "v2.5.3", roman.StatusSuccess, now.Add(-2*time.Minute))
	mk("staging", "v9", roman.StatusSuccess, now.Add(-time.Hour)) // window over: no error rate
	var errs []roman.ErrorEvent
	for i := range 8 {
		errs = append(errs, roman.ErrorEvent{DeploymentID: watched.DeploymentID, OccurredAt: now.Add(-time.Duration(i) * 5 * time.Second), Message: "boom"})
	}
	errs = append(errs, roman.ErrorEvent{DeploymentID: watched.DeploymentID, OccurredAt: now.Add(-90 * time.Second), Message: "older"})
	if err := db.InsertErrorEvents(ctx, errs); err != nil {
		t.Fatal(err)
	}
	done := now.Add(-30 * time.Second)
	ev := &roman.RollbackEvent{DeploymentID: watched.DeploymentID, TriggerType: roman.TriggerAutomatic, TriggerReason: "High error rate: 8 errors/minute",
		Status: roman.RollbackSuccess, InitiatedAt: done.Add(-1200 * time.Millisecond), CompletedAt: &done}
	if err := db.CreateRollbackEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	for _, sev := range []string{roman.SeverityInfo, roman.SeverityInfo, roman.SeverityError} {
		if err := db.AddRomanEvent(ctx, &roman.RomanEvent{EventID: roman.NewUUID(), EventType: roman.EventRollbackValidation, Severity: sev, Message: "v"}); err != nil {
			t.Fatal(err)
		}
	}

	m := metrics.New(metrics.Config{Store: db, Outbox: db, Clock: func() time.Time { return now },
		WatchWindow: func(string) time.Duration { return 5 * time.Minute }})
	m.ObserveDetection(3 * time.Millisecond)
	m.ObserveDetection(40 * time.Millisecond)
	m.AddErrorsIngested(8)
	m.AddErrorsIngested(1)
	var nilMetrics *metrics.Metrics
	nilMetrics.ObserveDetection(time.Second) // a nil *Metrics ignores observations
	nilMetrics.AddErrorsIngested(1)

	fams := scrape(t, m.Handler())
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"roman_deployments", map[string]string{"environment": "production", "status": "success"}, 2},
		{"roman_deployments", map[string]string{"environment": "staging", "status": "success"}, 1},
		{"roman_rollbacks_total", map[string]string{"environment": "production", "trigger_type": "automatic", "outcome": "success"}, 1},
		{"roman_rollback_duration_seconds", map[string]string{"environment": "production", "outcome": "success"}, 1},
		{"roman_validations_total", map[string]string{"result": "approved"}, 2},
		{"roman_validations_total", map[string]string{"result": "rejected"}, 1},
		{"roman_error_rate_per_minute", map[string]string{"deployment_id": watched.DeploymentID, "version": "v2.5.3"}, 8},
		{"roman_error_events_ingested_total", nil, 9},
		{"roman_detection_latency_seconds", nil, 2},
		{"roman_build_info", nil, 1},
	} {
		got, ok := value(t, fams, tc.name, tc.labels)
		if !ok || got != tc.want {
			t.Errorf("%s%v = %v (present %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	if _, ok := value(t, fams, "roman_error_rate_per_minute", map[string]string{"environment": "staging"}); ok {
		t.Error("a deployment past its watch window must not export an error rate")
	}
	h := fams["roman_rollback_duration_seconds"].GetMetric()[0].GetHistogram()
	if s := h.GetSampleSum(); s < 1.19 || s > 1.21 {
		t.Errorf("duration sum %v, want 1.2", s)
	}
	for _, b := range h.GetBucket() {
		if want := uint64(0); b.GetUpperBound() >= 2.5 {
			want = 1
			if b.GetCumulativeCount() != want {
				t.Errorf("bucket le=%v: %d", b.GetUpperBound(), b.GetCumulativeCount())
			}
		} else if b.GetUpperBound() < 1 && b.GetCumulativeCount() != 0 {
			t.Errorf("bucket le=%v: %d", b.GetUpperBound(), b.GetCumulativeCount())
		}
	}
	if fams["roman_rollbacks_total"].GetType() != dto.MetricType_COUNTER || fams["roman_deployments"].GetType() != dto.MetricType_GAUGE ||
		fams["roman_detection_latency_seconds"].GetType() != dto.MetricType_HISTOGRAM {
		t.Error("metric types")
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("the Go runtime collector is missing")
	}
	if v, ok := value(t, fams, "roman_alert_outbox_pending", nil); !ok || v != 0 {
		t.Errorf("outbox depth: %v %v", v, ok)
	}
}

// failingStore answers every aggregate with an error.
type failingStore struct{ metrics.Store }

func (failingStore) CountDeployments(context.Context) ([]roman.DeploymentCount, error) {
	return nil, errors.New("database is down")
}
func (failingStore) RollbackOutcomes(context.Context, []float64) ([]roman.RollbackOutcome, error) {
	return nil, errors.New("database is down")
}
func (failingStore) CountValidations(context.Context) (int64, int64, error) {
	return 0, 0, errors.New("database is down")
}
func (failingStore) ActiveDeployments(context.Context) ([]*roman.Deployment, error) {
	return nil, errors.New("database is down")
}

// TestScrapeStoreDown checks a failing store does not blank the process's
// own metrics.
func TestScrapeStoreDown(t *testing.T) {
	m := metrics.New(metrics.Config{Store: failingStore{}})
	m.AddErrorsIngested(3)
	fams := scrape(t, m.Handler())
	if v, ok := value(t, fams, "roman_error_events_ingested_total", nil); !ok || v != 3 {
		t.Fatalf("ingested: %v %v", v, ok)
	}
	if _, ok := fams["roman_deployments"]; ok {
		t.Error("a failed query must leave its family out")
	}
	if _, ok := fams["roman_alert_outbox_pending"]; ok {
		t.Error("without an Outbox the depth must not be exported")
	}
}
