package sqldb_test

import (
	"fmt"
	"strconv"
	"testing"

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
				benchInsertBatches(b, db, size, func(i int) string { return "f" + strconv.Itoa(i%distinct) })
			})
		})
	}
}
