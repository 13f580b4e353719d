package roman

import (
	"context"
	"time"
)

// DashboardStore reads what the dashboard's cards show for many cards at
// once: each method answers, in one statement, what a per-card read of
// StatsStore, DeploymentStore, RollbackStore, EventStore or
// FingerprintStore answers for one card, so a summary costs the same few
// statements however many cards it has.
type DashboardStore interface {
	// GetDeployments returns the deployments with the given ids that
	// exist, keyed by the id as given.
	GetDeployments(ctx context.Context, ids []string) (map[string]*Deployment, error)
	// LatestRollbackEvents returns the newest rollback event (initiated_at,
	// then id) of each deployment that has one, keyed by the id as given.
	LatestRollbackEvents(ctx context.Context, deploymentIDs []string) (map[string]*RollbackEvent, error)
	// LatestScopeRollbackEvents returns the newest rollback event of each
	// service and environment that has one.
	LatestScopeRollbackEvents(ctx context.Context, scopes []ServiceEnvironment) (map[ServiceEnvironment]*RollbackEvent, error)
	// DeploymentEventsBatch returns each deployment's newest roman events
	// (timestamp, then id) of the given types, at most limit each, keyed
	// by the metadata's deployment_id as given.
	DeploymentEventsBatch(ctx context.Context, deploymentIDs, types []string, limit int) (map[string][]*RomanEvent, error)
	// ErrorBucketsBatch returns ErrorBuckets of each request, in order.
	// EINVALID for a request without a positive step and count.
	ErrorBucketsBatch(ctx context.Context, reqs []BucketsRequest) ([][]int64, error)
	// DeploymentErrorsBatch returns DeploymentErrors of each deployment
	// that has error groups, keyed by the id as given.
	DeploymentErrorsBatch(ctx context.Context, deploymentIDs []string, f ErrorGroupFilter) (map[string][]ErrorGroup, error)
}

// ServiceEnvironment names one service in one environment.
type ServiceEnvironment struct{ Service, Environment string }

// BucketsRequest asks for the error counts of one deployment in N buckets
// of Step from From, as StatsStore.ErrorBuckets does.
type BucketsRequest struct {
	DeploymentID string
	From         time.Time
	Step         time.Duration
	N            int
}
