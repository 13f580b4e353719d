package sqldb_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestIngestRoundTrip: batches of every size the SQLite path cuts
// differently (one row, a few, across the prepared chunk sizes, the
// 10,000-row maximum) store every column of every row as given, in order,
// with the zero time as the store's clock and each row's own deployment,
// on both stores; metric samples likewise.
func TestIngestRoundTrip(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		now := time.Date(2025, 12, 15, 14, 35, 0, 123456000, time.UTC)
		db.SetClock(func() time.Time { return now })
		a := newDeployment("production", "v1", t0, roman.StatusSuccess)
		b := newDeployment("staging", "v1", t0, roman.StatusSuccess)
		mustCreate(t, db, a)
		mustCreate(t, db, b)
		for _, n := range []int{1, 7, 4096 + 1024 + 3, 10000} {
			events := make([]roman.ErrorEvent, n)
			samples := make([]roman.MetricSample, n)
			for i := range events {
				d := a
				if i%3 == 2 {
					d = b
				}
				at := t0.Add(time.Duration(i*1001) * time.Microsecond)
				if i%5 == 4 {
					at = time.Time{}
				}
				events[i] = roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: d.Environment, OccurredAt: at,
					Message: fmt.Sprintf("TypeError %d: \"é\"\t✓", i), Severity: []string{"error", "warning"}[i%2], Fingerprint: fmt.Sprint("f", i%4)}
				samples[i] = roman.MetricSample{DeploymentID: d.DeploymentID, Environment: d.Environment, Name: fmt.Sprint("m", i%3),
					Value: float64(i) / 7, At: at}
			}
			if err := db.InsertErrorEvents(ctx, events); err != nil {
				t.Fatal(err)
			}
			if err := db.InsertMetricSamples(ctx, samples); err != nil {
				t.Fatal(err)
			}
			checkStoredEvents(t, db, events, now)
			checkStoredSamples(t, db, samples, now)
		}
	})
}

// checkStoredEvents compares the newest len(want) rows of error_events
// with want.
func checkStoredEvents(t *testing.T, db *sqldb.DB, want []roman.ErrorEvent, now time.Time) {
	t.Helper()
	rows, err := db.SQL().QueryContext(ctx, db.Rebind(`SELECT deployment_id, environment, occurred_at, message, severity, fingerprint
		FROM (SELECT * FROM error_events ORDER BY id DESC LIMIT ?) newest ORDER BY id`), len(want))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var got roman.ErrorEvent
		if err := rows.Scan(&got.DeploymentID, &got.Environment, sqldb.ScanTime(&got.OccurredAt), &got.Message, &got.Severity, &got.Fingerprint); err != nil {
			t.Fatal(err)
		}
		w := want[i]
		if w.OccurredAt.IsZero() {
			w.OccurredAt = now
		}
		w.OccurredAt = roman.UTC(w.OccurredAt) // both stores keep microseconds
		if !got.OccurredAt.Equal(w.OccurredAt) {
			t.Fatalf("row %d of %d: occurred_at %v, want %v", i, len(want), got.OccurredAt, w.OccurredAt)
		}
		got.OccurredAt = w.OccurredAt
		if got != w {
			t.Fatalf("row %d of %d: %+v, want %+v", i, len(want), got, w)
		}
	}
	if err := rows.Err(); err != nil || i != len(want) {
		t.Fatalf("read %d rows of %d: %v", i, len(want), err)
	}
}

// checkStoredSamples compares the newest len(want) rows of metric_samples
// with want.
func checkStoredSamples(t *testing.T, db *sqldb.DB, want []roman.MetricSample, now time.Time) {
	t.Helper()
	rows, err := db.SQL().QueryContext(ctx, db.Rebind(`SELECT deployment_id, environment, name, value, at
		FROM (SELECT * FROM metric_samples ORDER BY id DESC LIMIT ?) newest ORDER BY id`), len(want))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var got roman.MetricSample
		if err := rows.Scan(&got.DeploymentID, &got.Environment, &got.Name, &got.Value, sqldb.ScanTime(&got.At)); err != nil {
			t.Fatal(err)
		}
		w := want[i]
		if w.At.IsZero() {
			w.At = now
		}
		w.At = roman.UTC(w.At)
		if !got.At.Equal(w.At) {
			t.Fatalf("sample %d of %d: at %v, want %v", i, len(want), got.At, w.At)
		}
		got.At = w.At
		if got != w {
			t.Fatalf("sample %d of %d: %+v, want %+v", i, len(want), got, w)
		}
	}
	if err := rows.Err(); err != nil || i != len(want) {
		t.Fatalf("read %d samples of %d: %v", i, len(want), err)
	}
}
