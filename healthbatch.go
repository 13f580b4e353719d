package roman

import (
	"context"
	"time"
)

// ErrorCounts are the error events of one deployment in the two windows of
// SPEC §4.
type ErrorCounts struct {
	// LastMinute counts errors with occurred_at in (now-1m, now].
	LastMinute int64
	// Last5Minutes counts errors with occurred_at in (now-5m, now].
	Last5Minutes int64
}

// HealthBatchReader reads the built-in health inputs of many deployments
// with one query each, for the monitor's evaluation passes (SPEC §16:
// 10,000 watched deployments evaluated every second). sqldb implements it
// beside Store; with a Store that does not, the health checker reads one
// deployment at a time (Store.CountErrors and Store.LatestMetrics).
type HealthBatchReader interface {
	// CountErrorsBatch returns Store.CountErrors of each of the
	// deployments, keyed by the id as given. A deployment without errors in
	// the windows, or an id that is not a UUID, is absent. Only EINTERNAL.
	CountErrorsBatch(ctx context.Context, deploymentIDs []string, now time.Time) (map[string]ErrorCounts, error)
	// LatestMetricsBatch returns Store.LatestMetrics of each of the
	// deployments, keyed by the id as given. A deployment without samples
	// in (since, now], or an id that is not a UUID, is absent. Only
	// EINTERNAL.
	LatestMetricsBatch(ctx context.Context, deploymentIDs []string, since, now time.Time) (map[string]map[string]float64, error)
}
