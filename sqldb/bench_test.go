package sqldb_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/sqldb"
)

// benchStores runs a benchmark on a fresh store of each dialect.
func benchStores(b *testing.B, fn func(b *testing.B, db *sqldb.DB)) {
	for _, s := range testkit.Stores {
		b.Run(s.Name, func(b *testing.B) {
			db, err := sqldb.Open(ctx, s.URL(b), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			fn(b, db)
		})
	}
}

// BenchmarkInsertErrorEvents measures batched error ingest (the
// target is ≥ 50,000 events/s batched); it reports events/s.
func BenchmarkInsertErrorEvents(b *testing.B) {
	for _, size := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) {
			benchStores(b, func(b *testing.B, db *sqldb.DB) {
				benchInsertBatches(b, db, size, func(int) string { return "f0f0f0" })
			})
		})
	}
}

// benchInsertBatches records a deployment in db and stores batches of size
// error events of it, the fingerprint of event i fingerprint(i), each
// batch newer than the last (application clocks move forward), timing the
// inserts; it reports events/s.
func benchInsertBatches(b *testing.B, db *sqldb.DB, size int, fingerprint func(i int) string) {
	d := newDeployment("production", "v1", t0, roman.StatusSuccess)
	if err := db.CreateDeployment(ctx, d); err != nil {
		b.Fatal(err)
	}
	batch := make([]roman.ErrorEvent, size)
	for i := range batch {
		batch[i] = roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: "production",
			Message: "TypeError: x is undefined", Severity: "error", Fingerprint: fingerprint(i)}
	}
	b.ResetTimer()
	next := 0
	for b.Loop() {
		for i := range batch {
			batch[i].OccurredAt = t0.Add(time.Duration(next) * time.Millisecond)
			next++
		}
		if err := db.InsertErrorEvents(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkCountErrors measures the health check's error count query.
func BenchmarkCountErrors(b *testing.B) {
	benchStores(b, func(b *testing.B, db *sqldb.DB) {
		d := newDeployment("production", "v1", t0, roman.StatusSuccess)
		if err := db.CreateDeployment(ctx, d); err != nil {
			b.Fatal(err)
		}
		batch := make([]roman.ErrorEvent, 10000)
		for i := range batch {
			batch[i] = roman.ErrorEvent{DeploymentID: d.DeploymentID, OccurredAt: t0.Add(-time.Duration(i) * 100 * time.Millisecond)}
		}
		if err := db.InsertErrorEvents(ctx, batch); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, _, err := db.CountErrors(ctx, d.DeploymentID, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
