package sqldb

import (
	"context"
	"time"

	"github.com/odyssey-1/roman"
)

// SetPeaksScanBelow sets how many errors ErrorPeaks scans instead of
// narrowing with the counters, and returns the previous value.
func SetPeaksScanBelow(n int64) int64 {
	prev := peaksScanBelow
	peaksScanBelow = n
	return prev
}

// ErrorPeaksScan is ErrorPeaks by a scan of every error in the range.
func (db *DB) ErrorPeaksScan(ctx context.Context, deploymentID string, from, to time.Time) (roman.ErrorPeaks, error) {
	id, _ := lookupID(deploymentID)
	return db.errorPeaksScan(ctx, id, roman.UTC(from), roman.UTC(to))
}
