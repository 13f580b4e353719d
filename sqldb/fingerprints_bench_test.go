package sqldb_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// BenchmarkInsertErrorFingerprints measures batches of 10,000 error events
// with 1, 50 and 10,000 distinct fingerprints: the events are stored with
// their grouping by fingerprint and first sightings in one transaction, so
// the cost of the grouping grows with the distinct fingerprints of a
// batch, not with its events. Reports events/s.
func BenchmarkInsertErrorFingerprints(b *testing.B) {
	const size = 10000
	for _, distinct := range []int{1, 50, size} {
		b.Run(fmt.Sprint("fingerprints=", distinct), func(b *testing.B) {
			benchStores(b, func(b *testing.B, db *sqldb.DB) {
				d := newDeployment("production", "v1", t0, roman.StatusSuccess)
				if err := db.CreateDeployment(ctx, d); err != nil {
					b.Fatal(err)
				}
				batch := make([]roman.ErrorEvent, size)
				for i := range batch {
					batch[i] = roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: "production",
						Message: "TypeError: x is undefined", Severity: "error", Fingerprint: "f" + strconv.Itoa(i%distinct)}
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
			})
		})
	}
}
