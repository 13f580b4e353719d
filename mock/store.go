package mock

import (
	"context"
	"time"

	"github.com/odyssey-1/roman"
)

// Store is a mock of roman.Store. It mirrors the interface method for
// method, so a change to roman.Store breaks this file at compile time.
type Store struct {
	CreateDeploymentFn         func(ctx context.Context, d *roman.Deployment) error
	GetDeploymentFn            func(ctx context.Context, deploymentID string) (*roman.Deployment, error)
	ListDeploymentsFn          func(ctx context.Context, f roman.DeploymentFilter) ([]*roman.Deployment, error)
	UpdateDeploymentFn         func(ctx context.Context, deploymentID string, u roman.DeploymentUpdate) (*roman.Deployment, error)
	FindRollbackTargetFn       func(ctx context.Context, env string, before time.Time) (*roman.Deployment, error)
	CurrentDeploymentFn        func(ctx context.Context, env string) (*roman.Deployment, error)
	CreateRollbackEventFn      func(ctx context.Context, e *roman.RollbackEvent) error
	AppendRollbackStepFn       func(ctx context.Context, eventID string, s roman.RollbackStep) error
	UpdateRollbackEventFn      func(ctx context.Context, eventID string, u roman.RollbackEventUpdate) error
	GetRollbackEventFn         func(ctx context.Context, eventID string) (*roman.RollbackEvent, error)
	ListRollbackEventsFn       func(ctx context.Context, f roman.RollbackFilter) ([]*roman.RollbackEvent, error)
	CreateSnapshotFn           func(ctx context.Context, s *roman.Snapshot) error
	GetSnapshotFn              func(ctx context.Context, snapshotID string) (*roman.Snapshot, error)
	ListSnapshotsFn            func(ctx context.Context, deploymentID string) ([]*roman.Snapshot, error)
	CreateMigrationFn          func(ctx context.Context, m *roman.Migration) error
	ListMigrationsFn           func(ctx context.Context, deploymentID string) ([]*roman.Migration, error)
	RecordMigrationRollbacksFn func(ctx context.Context, outcomes []roman.MigrationRollback) error
	AddRomanEventFn            func(ctx context.Context, e *roman.RomanEvent) error
	ListRomanEventsFn          func(ctx context.Context, f roman.RomanEventFilter) ([]*roman.RomanEvent, error)
	InsertErrorEventsFn        func(ctx context.Context, events []roman.ErrorEvent) error
	CountErrorsFn              func(ctx context.Context, deploymentID string, now time.Time) (lastMinute, last5Minutes int64, err error)
	CountErrorsBatchFn         func(ctx context.Context, deploymentIDs []string, now time.Time) (map[string]roman.ErrorCounts, error)
	LatestMetricsBatchFn       func(ctx context.Context, deploymentIDs []string, since, now time.Time) (map[string]map[string]float64, error)
	InsertMetricSamplesFn      func(ctx context.Context, samples []roman.MetricSample) error
	LatestMetricsFn            func(ctx context.Context, deploymentID string, since, now time.Time) (map[string]float64, error)
	RecentMetricsFn            func(ctx context.Context, deploymentID string, since, now time.Time, n int) (map[string][]float64, error)
	ListAPIKeysFn              func(ctx context.Context) ([]roman.APIKey, error)
	CreateAPIKeyFn             func(ctx context.Context, k *roman.APIKey) error
	PingFn                     func(ctx context.Context) error
	CloseFn                    func() error
}

var _ roman.Store = (*Store)(nil)

// CreateDeployment calls CreateDeploymentFn.
func (ms *Store) CreateDeployment(ctx context.Context, d *roman.Deployment) error {
	if ms.CreateDeploymentFn == nil {
		panic(unset("Store.CreateDeployment"))
	}
	return ms.CreateDeploymentFn(ctx, d)
}

// GetDeployment calls GetDeploymentFn.
func (ms *Store) GetDeployment(ctx context.Context, deploymentID string) (*roman.Deployment, error) {
	if ms.GetDeploymentFn == nil {
		panic(unset("Store.GetDeployment"))
	}
	return ms.GetDeploymentFn(ctx, deploymentID)
}

// ListDeployments calls ListDeploymentsFn.
func (ms *Store) ListDeployments(ctx context.Context, f roman.DeploymentFilter) ([]*roman.Deployment, error) {
	if ms.ListDeploymentsFn == nil {
		panic(unset("Store.ListDeployments"))
	}
	return ms.ListDeploymentsFn(ctx, f)
}

// UpdateDeployment calls UpdateDeploymentFn.
func (ms *Store) UpdateDeployment(ctx context.Context, deploymentID string, u roman.DeploymentUpdate) (*roman.Deployment, error) {
	if ms.UpdateDeploymentFn == nil {
		panic(unset("Store.UpdateDeployment"))
	}
	return ms.UpdateDeploymentFn(ctx, deploymentID, u)
}

// FindRollbackTarget calls FindRollbackTargetFn.
func (ms *Store) FindRollbackTarget(ctx context.Context, env string, before time.Time) (*roman.Deployment, error) {
	if ms.FindRollbackTargetFn == nil {
		panic(unset("Store.FindRollbackTarget"))
	}
	return ms.FindRollbackTargetFn(ctx, env, before)
}

// CurrentDeployment calls CurrentDeploymentFn.
func (ms *Store) CurrentDeployment(ctx context.Context, env string) (*roman.Deployment, error) {
	if ms.CurrentDeploymentFn == nil {
		panic(unset("Store.CurrentDeployment"))
	}
	return ms.CurrentDeploymentFn(ctx, env)
}

// CreateRollbackEvent calls CreateRollbackEventFn.
func (ms *Store) CreateRollbackEvent(ctx context.Context, e *roman.RollbackEvent) error {
	if ms.CreateRollbackEventFn == nil {
		panic(unset("Store.CreateRollbackEvent"))
	}
	return ms.CreateRollbackEventFn(ctx, e)
}

// AppendRollbackStep calls AppendRollbackStepFn.
func (ms *Store) AppendRollbackStep(ctx context.Context, eventID string, s roman.RollbackStep) error {
	if ms.AppendRollbackStepFn == nil {
		panic(unset("Store.AppendRollbackStep"))
	}
	return ms.AppendRollbackStepFn(ctx, eventID, s)
}

// UpdateRollbackEvent calls UpdateRollbackEventFn.
func (ms *Store) UpdateRollbackEvent(ctx context.Context, eventID string, u roman.RollbackEventUpdate) error {
	if ms.UpdateRollbackEventFn == nil {
		panic(unset("Store.UpdateRollbackEvent"))
	}
	return ms.UpdateRollbackEventFn(ctx, eventID, u)
}

// GetRollbackEvent calls GetRollbackEventFn.
func (ms *Store) GetRollbackEvent(ctx context.Context, eventID string) (*roman.RollbackEvent, error) {
	if ms.GetRollbackEventFn == nil {
		panic(unset("Store.GetRollbackEvent"))
	}
	return ms.GetRollbackEventFn(ctx, eventID)
}

// ListRollbackEvents calls ListRollbackEventsFn.
func (ms *Store) ListRollbackEvents(ctx context.Context, f roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
	if ms.ListRollbackEventsFn == nil {
		panic(unset("Store.ListRollbackEvents"))
	}
	return ms.ListRollbackEventsFn(ctx, f)
}

// CreateSnapshot calls CreateSnapshotFn.
func (ms *Store) CreateSnapshot(ctx context.Context, s *roman.Snapshot) error {
	if ms.CreateSnapshotFn == nil {
		panic(unset("Store.CreateSnapshot"))
	}
	return ms.CreateSnapshotFn(ctx, s)
}

// GetSnapshot calls GetSnapshotFn.
func (ms *Store) GetSnapshot(ctx context.Context, snapshotID string) (*roman.Snapshot, error) {
	if ms.GetSnapshotFn == nil {
		panic(unset("Store.GetSnapshot"))
	}
	return ms.GetSnapshotFn(ctx, snapshotID)
}

// ListSnapshots calls ListSnapshotsFn.
func (ms *Store) ListSnapshots(ctx context.Context, deploymentID string) ([]*roman.Snapshot, error) {
	if ms.ListSnapshotsFn == nil {
		panic(unset("Store.ListSnapshots"))
	}
	return ms.ListSnapshotsFn(ctx, deploymentID)
}

// CreateMigration calls CreateMigrationFn.
func (ms *Store) CreateMigration(ctx context.Context, m *roman.Migration) error {
	if ms.CreateMigrationFn == nil {
		panic(unset("Store.CreateMigration"))
	}
	return ms.CreateMigrationFn(ctx, m)
}

// ListMigrations calls ListMigrationsFn.
func (ms *Store) ListMigrations(ctx context.Context, deploymentID string) ([]*roman.Migration, error) {
	if ms.ListMigrationsFn == nil {
		panic(unset("Store.ListMigrations"))
	}
	return ms.ListMigrationsFn(ctx, deploymentID)
}

// RecordMigrationRollbacks calls RecordMigrationRollbacksFn.
func (ms *Store) RecordMigrationRollbacks(ctx context.Context, outcomes []roman.MigrationRollback) error {
	if ms.RecordMigrationRollbacksFn == nil {
		panic(unset("Store.RecordMigrationRollbacks"))
	}
	return ms.RecordMigrationRollbacksFn(ctx, outcomes)
}

// AddRomanEvent calls AddRomanEventFn.
func (ms *Store) AddRomanEvent(ctx context.Context, e *roman.RomanEvent) error {
	if ms.AddRomanEventFn == nil {
		panic(unset("Store.AddRomanEvent"))
	}
	return ms.AddRomanEventFn(ctx, e)
}

// ListRomanEvents calls ListRomanEventsFn.
func (ms *Store) ListRomanEvents(ctx context.Context, f roman.RomanEventFilter) ([]*roman.RomanEvent, error) {
	if ms.ListRomanEventsFn == nil {
		panic(unset("Store.ListRomanEvents"))
	}
	return ms.ListRomanEventsFn(ctx, f)
}

// InsertErrorEvents calls InsertErrorEventsFn.
func (ms *Store) InsertErrorEvents(ctx context.Context, events []roman.ErrorEvent) error {
	if ms.InsertErrorEventsFn == nil {
		panic(unset("Store.InsertErrorEvents"))
	}
	return ms.InsertErrorEventsFn(ctx, events)
}

// CountErrors calls CountErrorsFn.
func (ms *Store) CountErrors(ctx context.Context, deploymentID string, now time.Time) (lastMinute, last5Minutes int64, err error) {
	if ms.CountErrorsFn == nil {
		panic(unset("Store.CountErrors"))
	}
	return ms.CountErrorsFn(ctx, deploymentID, now)
}

// InsertMetricSamples calls InsertMetricSamplesFn.
func (ms *Store) InsertMetricSamples(ctx context.Context, samples []roman.MetricSample) error {
	if ms.InsertMetricSamplesFn == nil {
		panic(unset("Store.InsertMetricSamples"))
	}
	return ms.InsertMetricSamplesFn(ctx, samples)
}

// RecentMetrics calls RecentMetricsFn.
func (ms *Store) RecentMetrics(ctx context.Context, deploymentID string, since, now time.Time, n int) (map[string][]float64, error) {
	if ms.RecentMetricsFn == nil {
		panic(unset("Store.RecentMetrics"))
	}
	return ms.RecentMetricsFn(ctx, deploymentID, since, now, n)
}

// CountErrorsBatch calls CountErrorsBatchFn.
func (ms *Store) CountErrorsBatch(ctx context.Context, deploymentIDs []string, now time.Time) (map[string]roman.ErrorCounts, error) {
	if ms.CountErrorsBatchFn == nil {
		panic(unset("Store.CountErrorsBatch"))
	}
	return ms.CountErrorsBatchFn(ctx, deploymentIDs, now)
}

// LatestMetricsBatch calls LatestMetricsBatchFn.
func (ms *Store) LatestMetricsBatch(ctx context.Context, deploymentIDs []string, since, now time.Time) (map[string]map[string]float64, error) {
	if ms.LatestMetricsBatchFn == nil {
		panic(unset("Store.LatestMetricsBatch"))
	}
	return ms.LatestMetricsBatchFn(ctx, deploymentIDs, since, now)
}

// LatestMetrics calls LatestMetricsFn.
func (ms *Store) LatestMetrics(ctx context.Context, deploymentID string, since, now time.Time) (map[string]float64, error) {
	if ms.LatestMetricsFn == nil {
		panic(unset("Store.LatestMetrics"))
	}
	return ms.LatestMetricsFn(ctx, deploymentID, since, now)
}

// ListAPIKeys calls ListAPIKeysFn.
func (ms *Store) ListAPIKeys(ctx context.Context) ([]roman.APIKey, error) {
	if ms.ListAPIKeysFn == nil {
		panic(unset("Store.ListAPIKeys"))
	}
	return ms.ListAPIKeysFn(ctx)
}

// CreateAPIKey calls CreateAPIKeyFn.
func (ms *Store) CreateAPIKey(ctx context.Context, k *roman.APIKey) error {
	if ms.CreateAPIKeyFn == nil {
		panic(unset("Store.CreateAPIKey"))
	}
	return ms.CreateAPIKeyFn(ctx, k)
}

// Ping calls PingFn.
func (ms *Store) Ping(ctx context.Context) error {
	if ms.PingFn == nil {
		panic(unset("Store.Ping"))
	}
	return ms.PingFn(ctx)
}

// Close calls CloseFn; with CloseFn unset it returns nil, because cleanup
// code closes stores that a test never meant to exercise.
func (ms *Store) Close() error {
	if ms.CloseFn == nil {
		return nil
	}
	return ms.CloseFn()
}
