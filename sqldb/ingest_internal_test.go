package sqldb

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendSQLiteTime: the fast timestamp formatter of the ingest path
// writes exactly what time.Format with the stored layout writes.
func TestAppendSQLiteTime(t *testing.T) {
	times := []time.Time{
		time.Date(2025, 12, 15, 14, 35, 0, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 1000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(5, 3, 4, 5, 6, 7, 80000, time.UTC),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		times = append(times, time.Unix(r.Int64N(1<<36)-1<<34, r.Int64N(1e9)).UTC().Truncate(time.Microsecond))
	}
	for _, tm := range times {
		if got, want := string(appendSQLiteTime(nil, tm)), tm.Format(sqliteTimeLayout); got != want {
			t.Fatalf("%v: %s, want %s", tm, got, want)
		}
	}
}
