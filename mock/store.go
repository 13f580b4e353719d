package mock

import (
	"context"
	"time"

	"github.com/odyssey-1/roman"
)

// The store mocks below mirror roman's store interfaces method for method,
// one mock per interface, so a change to an interface breaks this file at
// compile time and a test builds only the stores its code under test takes.

// DeploymentStore is a mock of roman.DeploymentStore.
type DeploymentStore struct {
	CreateDeploymentFn   func(ctx context.Context, d *roman.Deployment) error
	GetDeploymentFn      func(ctx context.Context, deploymentID string) (*roman.Deployment, error)
	ListDeploymentsFn    func(ctx context.Context, f roman.DeploymentFilter) ([]*roman.Deployment, error)
	UpdateDeploymentFn   func(ctx context.Context, deploymentID string, u roman.DeploymentUpdate) (*roman.Deployment, error)
	FindRollbackTargetFn func(ctx context.Context, bad *roman.Deployment) (*roman.Deployment, error)
	CurrentDeploymentFn  func(ctx context.Context, service, env string) (*roman.Deployment, error)
}

var _ roman.DeploymentStore = (*DeploymentStore)(nil)

// CreateDeployment calls CreateDeploymentFn.
func (mk *DeploymentStore) CreateDeployment(ctx context.Context, d *roman.Deployment) error {
	if mk.CreateDeploymentFn == nil {
		panic(unset("DeploymentStore.CreateDeployment"))
	}
	return mk.CreateDeploymentFn(ctx, d)
}

// GetDeployment calls GetDeploymentFn.
func (mk *DeploymentStore) GetDeployment(ctx context.Context, deploymentID string) (*roman.Deployment, error) {
	if mk.GetDeploymentFn == nil {
		panic(unset("DeploymentStore.GetDeployment"))
	}
	return mk.GetDeploymentFn(ctx, deploymentID)
}

// ListDeployments calls ListDeploymentsFn.
func (mk *DeploymentStore) ListDeployments(ctx context.Context, f roman.DeploymentFilter) ([]*roman.Deployment, error) {
	if mk.ListDeploymentsFn == nil {
		panic(unset("DeploymentStore.ListDeployments"))
	}
	return mk.ListDeploymentsFn(ctx, f)
}

// UpdateDeployment calls UpdateDeploymentFn.
func (mk *DeploymentStore) UpdateDeployment(ctx context.Context, deploymentID string, u roman.DeploymentUpdate) (*roman.Deployment, error) {
	if mk.UpdateDeploymentFn == nil {
		panic(unset("DeploymentStore.UpdateDeployment"))
	}
	return mk.UpdateDeploymentFn(ctx, deploymentID, u)
}

// FindRollbackTarget calls FindRollbackTargetFn.
func (mk *DeploymentStore) FindRollbackTarget(ctx context.Context, bad *roman.Deployment) (*roman.Deployment, error) {
	if mk.FindRollbackTargetFn == nil {
		panic(unset("DeploymentStore.FindRollbackTarget"))
	}
	return mk.FindRollbackTargetFn(ctx, bad)
}

// CurrentDeployment calls CurrentDeploymentFn.
func (mk *DeploymentStore) CurrentDeployment(ctx context.Context, service, env string) (*roman.Deployment, error) {
	if mk.CurrentDeploymentFn == nil {
		panic(unset("DeploymentStore.CurrentDeployment"))
	}
	return mk.CurrentDeploymentFn(ctx, service, env)
}

// RollbackStore is a mock of roman.RollbackStore.
type RollbackStore struct {
	CreateRollbackEventFn func(ctx context.Context, e *roman.RollbackEvent) error
	AppendRollbackStepFn  func(ctx context.Context, eventID string, s roman.RollbackStep) error
	UpdateRollbackEventFn func(ctx context.Context, eventID string, u roman.RollbackEventUpdate) error
	GetRollbackEventFn    func(ctx context.Context, eventID string) (*roman.RollbackEvent, error)
	ListRollbackEventsFn  func(ctx context.Context, f roman.RollbackFilter) ([]*roman.RollbackEvent, error)
}

var _ roman.RollbackStore = (*RollbackStore)(nil)

// CreateRollbackEvent calls CreateRollbackEventFn.
func (mk *RollbackStore) CreateRollbackEvent(ctx context.Context, e *roman.RollbackEvent) error {
	if mk.CreateRollbackEventFn == nil {
		panic(unset("RollbackStore.CreateRollbackEvent"))
	}
	return mk.CreateRollbackEventFn(ctx, e)
}

// AppendRollbackStep calls AppendRollbackStepFn.
func (mk *RollbackStore) AppendRollbackStep(ctx context.Context, eventID string, s roman.RollbackStep) error {
	if mk.AppendRollbackStepFn == nil {
		panic(unset("RollbackStore.AppendRollbackStep"))
	}
	return mk.AppendRollbackStepFn(ctx, eventID, s)
}

// UpdateRollbackEvent calls UpdateRollbackEventFn.
func (mk *RollbackStore) UpdateRollbackEvent(ctx context.Context, eventID string, u roman.RollbackEventUpdate) error {
	if mk.UpdateRollbackEventFn == nil {
		panic(unset("RollbackStore.UpdateRollbackEvent"))
	}
	return mk.UpdateRollbackEventFn(ctx, eventID, u)
}

// GetRollbackEvent calls GetRollbackEventFn.
func (mk *RollbackStore) GetRollbackEvent(ctx context.Context, eventID string) (*roman.RollbackEvent, error) {
	if mk.GetRollbackEventFn == nil {
		panic(unset("RollbackStore.GetRollbackEvent"))
	}
	return mk.GetRollbackEventFn(ctx, eventID)
}

// ListRollbackEvents calls ListRollbackEventsFn.
func (mk *RollbackStore) ListRollbackEvents(ctx context.Context, f roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
	if mk.ListRollbackEventsFn == nil {
		panic(unset("RollbackStore.ListRollbackEvents"))
	}
	return mk.ListRollbackEventsFn(ctx, f)
}

// SnapshotStore is a mock of roman.SnapshotStore.
type SnapshotStore struct {
	CreateSnapshotFn func(ctx context.Context, s *roman.Snapshot) error
	GetSnapshotFn    func(ctx context.Context, snapshotID string) (*roman.Snapshot, error)
	ListSnapshotsFn  func(ctx context.Context, deploymentID string) ([]*roman.Snapshot, error)
}

var _ roman.SnapshotStore = (*SnapshotStore)(nil)

// CreateSnapshot calls CreateSnapshotFn.
func (mk *SnapshotStore) CreateSnapshot(ctx context.Context, s *roman.Snapshot) error {
	if mk.CreateSnapshotFn == nil {
		panic(unset("SnapshotStore.CreateSnapshot"))
	}
	return mk.CreateSnapshotFn(ctx, s)
}

// GetSnapshot calls GetSnapshotFn.
func (mk *SnapshotStore) GetSnapshot(ctx context.Context, snapshotID string) (*roman.Snapshot, error) {
	if mk.GetSnapshotFn == nil {
		panic(unset("SnapshotStore.GetSnapshot"))
	}
	return mk.GetSnapshotFn(ctx, snapshotID)
}

// ListSnapshots calls ListSnapshotsFn.
func (mk *SnapshotStore) ListSnapshots(ctx context.Context, deploymentID string) ([]*roman.Snapshot, error) {
	if mk.ListSnapshotsFn == nil {
		panic(unset("SnapshotStore.ListSnapshots"))
	}
	return mk.ListSnapshotsFn(ctx, deploymentID)
}

// MigrationStore is a mock of roman.MigrationStore.
type MigrationStore struct {
	CreateMigrationFn          func(ctx context.Context, m *roman.Migration) error
	ListMigrationsFn           func(ctx context.Context, deploymentID string) ([]*roman.Migration, error)
	RecordMigrationRollbacksFn func(ctx context.Context, outcomes []roman.MigrationRollback) error
}

var _ roman.MigrationStore = (*MigrationStore)(nil)

// CreateMigration calls CreateMigrationFn.
func (mk *MigrationStore) CreateMigration(ctx context.Context, m *roman.Migration) error {
	if mk.CreateMigrationFn == nil {
		panic(unset("MigrationStore.CreateMigration"))
	}
	return mk.CreateMigrationFn(ctx, m)
}

// ListMigrations calls ListMigrationsFn.
func (mk *MigrationStore) ListMigrations(ctx context.Context, deploymentID string) ([]*roman.Migration, error) {
	if mk.ListMigrationsFn == nil {
		panic(unset("MigrationStore.ListMigrations"))
	}
	return mk.ListMigrationsFn(ctx, deploymentID)
}

// RecordMigrationRollbacks calls RecordMigrationRollbacksFn.
func (mk *MigrationStore) RecordMigrationRollbacks(ctx context.Context, outcomes []roman.MigrationRollback) error {
	if mk.RecordMigrationRollbacksFn == nil {
		panic(unset("MigrationStore.RecordMigrationRollbacks"))
	}
	return mk.RecordMigrationRollbacksFn(ctx, outcomes)
}

// EventStore is a mock of roman.EventStore.
type EventStore struct {
	AddRomanEventFn   func(ctx context.Context, e *roman.RomanEvent) error
	ListRomanEventsFn func(ctx context.Context, f roman.RomanEventFilter) ([]*roman.RomanEvent, error)
}

var _ roman.EventStore = (*EventStore)(nil)

// AddRomanEvent calls AddRomanEventFn.
func (mk *EventStore) AddRomanEvent(ctx context.Context, e *roman.RomanEvent) error {
	if mk.AddRomanEventFn == nil {
		panic(unset("EventStore.AddRomanEvent"))
	}
	return mk.AddRomanEventFn(ctx, e)
}

// ListRomanEvents calls ListRomanEventsFn.
func (mk *EventStore) ListRomanEvents(ctx context.Context, f roman.RomanEventFilter) ([]*roman.RomanEvent, error) {
	if mk.ListRomanEventsFn == nil {
		panic(unset("EventStore.ListRomanEvents"))
	}
	return mk.ListRomanEventsFn(ctx, f)
}

// SignalStore is a mock of roman.SignalStore.
type SignalStore struct {
	InsertErrorEventsFn   func(ctx context.Context, events []roman.ErrorEvent) error
	CountErrorsFn         func(ctx context.Context, deploymentID string, now time.Time) (lastMinute, last5Minutes int64, err error)
	CountErrorsBatchFn    func(ctx context.Context, deploymentIDs []string, now time.Time) (map[string]roman.ErrorCounts, error)
	ErrorPeaksFn          func(ctx context.Context, deploymentID string, from, to time.Time) (roman.ErrorPeaks, error)
	InsertMetricSamplesFn func(ctx context.Context, samples []roman.MetricSample) error
	LatestMetricsFn       func(ctx context.Context, deploymentID string, since, now time.Time) (map[string]float64, error)
	LatestMetricsBatchFn  func(ctx context.Context, deploymentIDs []string, since, now time.Time) (map[string]map[string]float64, error)
	RecentMetricsFn       func(ctx context.Context, deploymentID string, since, now time.Time, n int) (map[string][]float64, error)
}

var _ roman.SignalStore = (*SignalStore)(nil)

// InsertErrorEvents calls InsertErrorEventsFn.
func (mk *SignalStore) InsertErrorEvents(ctx context.Context, events []roman.ErrorEvent) error {
	if mk.InsertErrorEventsFn == nil {
		panic(unset("SignalStore.InsertErrorEvents"))
	}
	return mk.InsertErrorEventsFn(ctx, events)
}

// CountErrors calls CountErrorsFn.
func (mk *SignalStore) CountErrors(ctx context.Context, deploymentID string, now time.Time) (lastMinute, last5Minutes int64, err error) {
	if mk.CountErrorsFn == nil {
		panic(unset("SignalStore.CountErrors"))
	}
	return mk.CountErrorsFn(ctx, deploymentID, now)
}

// CountErrorsBatch calls CountErrorsBatchFn.
func (mk *SignalStore) CountErrorsBatch(ctx context.Context, deploymentIDs []string, now time.Time) (map[string]roman.ErrorCounts, error) {
	if mk.CountErrorsBatchFn == nil {
		panic(unset("SignalStore.CountErrorsBatch"))
	}
	return mk.CountErrorsBatchFn(ctx, deploymentIDs, now)
}

// ErrorPeaks calls ErrorPeaksFn.
func (mk *SignalStore) ErrorPeaks(ctx context.Context, deploymentID string, from, to time.Time) (roman.ErrorPeaks, error) {
	if mk.ErrorPeaksFn == nil {
		panic(unset("SignalStore.ErrorPeaks"))
	}
	return mk.ErrorPeaksFn(ctx, deploymentID, from, to)
}

// InsertMetricSamples calls InsertMetricSamplesFn.
func (mk *SignalStore) InsertMetricSamples(ctx context.Context, samples []roman.MetricSample) error {
	if mk.InsertMetricSamplesFn == nil {
		panic(unset("SignalStore.InsertMetricSamples"))
	}
	return mk.InsertMetricSamplesFn(ctx, samples)
}

// LatestMetrics calls LatestMetricsFn.
func (mk *SignalStore) LatestMetrics(ctx context.Context, deploymentID string, since, now time.Time) (map[string]float64, error) {
	if mk.LatestMetricsFn == nil {
		panic(unset("SignalStore.LatestMetrics"))
	}
	return mk.LatestMetricsFn(ctx, deploymentID, since, now)
}

// LatestMetricsBatch calls LatestMetricsBatchFn.
func (mk *SignalStore) LatestMetricsBatch(ctx context.Context, deploymentIDs []string, since, now time.Time) (map[string]map[string]float64, error) {
	if mk.LatestMetricsBatchFn == nil {
		panic(unset("SignalStore.LatestMetricsBatch"))
	}
	return mk.LatestMetricsBatchFn(ctx, deploymentIDs, since, now)
}

// RecentMetrics calls RecentMetricsFn.
func (mk *SignalStore) RecentMetrics(ctx context.Context, deploymentID string, since, now time.Time, n int) (map[string][]float64, error) {
	if mk.RecentMetricsFn == nil {
		panic(unset("SignalStore.RecentMetrics"))
	}
	return mk.RecentMetricsFn(ctx, deploymentID, since, now, n)
}

// KeyStore is a mock of roman.KeyStore.
type KeyStore struct {
	ListAPIKeysFn  func(ctx context.Context) ([]roman.APIKey, error)
	CreateAPIKeyFn func(ctx context.Context, k *roman.APIKey) error
}

var _ roman.KeyStore = (*KeyStore)(nil)

// ListAPIKeys calls ListAPIKeysFn.
func (mk *KeyStore) ListAPIKeys(ctx context.Context) ([]roman.APIKey, error) {
	if mk.ListAPIKeysFn == nil {
		panic(unset("KeyStore.ListAPIKeys"))
	}
	return mk.ListAPIKeysFn(ctx)
}

// CreateAPIKey calls CreateAPIKeyFn.
func (mk *KeyStore) CreateAPIKey(ctx context.Context, k *roman.APIKey) error {
	if mk.CreateAPIKeyFn == nil {
		panic(unset("KeyStore.CreateAPIKey"))
	}
	return mk.CreateAPIKeyFn(ctx, k)
}

// Pinger is a mock of roman.Pinger.
type Pinger struct {
	PingFn func(ctx context.Context) error
}

var _ roman.Pinger = (*Pinger)(nil)

// Ping calls PingFn.
func (mk *Pinger) Ping(ctx context.Context) error {
	if mk.PingFn == nil {
		panic(unset("Pinger.Ping"))
	}
	return mk.PingFn(ctx)
}

// OutboxStore is a mock of roman.OutboxStore.
type OutboxStore struct {
	ClaimAlertsFn       func(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*roman.OutboxAlert, error)
	AlertDeliveredFn    func(ctx context.Context, id int64, at time.Time) error
	RetryAlertFn        func(ctx context.Context, id int64, next time.Time, lastError string) error
	DeferAlertChannelFn func(ctx context.Context, channel string, until time.Time) error
	GiveUpAlertFn       func(ctx context.Context, id int64, at time.Time, lastError string, e *roman.RomanEvent) error
	ListAlertsFn        func(ctx context.Context, f roman.OutboxFilter) ([]*roman.OutboxAlert, error)
}

var _ roman.OutboxStore = (*OutboxStore)(nil)

// ClaimAlerts calls ClaimAlertsFn.
func (mk *OutboxStore) ClaimAlerts(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*roman.OutboxAlert, error) {
	if mk.ClaimAlertsFn == nil {
		panic(unset("OutboxStore.ClaimAlerts"))
	}
	return mk.ClaimAlertsFn(ctx, now, lease, limit)
}

// AlertDelivered calls AlertDeliveredFn.
func (mk *OutboxStore) AlertDelivered(ctx context.Context, id int64, at time.Time) error {
	if mk.AlertDeliveredFn == nil {
		panic(unset("OutboxStore.AlertDelivered"))
	}
	return mk.AlertDeliveredFn(ctx, id, at)
}

// RetryAlert calls RetryAlertFn.
func (mk *OutboxStore) RetryAlert(ctx context.Context, id int64, next time.Time, lastError string) error {
	if mk.RetryAlertFn == nil {
		panic(unset("OutboxStore.RetryAlert"))
	}
	return mk.RetryAlertFn(ctx, id, next, lastError)
}

// DeferAlertChannel calls DeferAlertChannelFn.
func (mk *OutboxStore) DeferAlertChannel(ctx context.Context, channel string, until time.Time) error {
	if mk.DeferAlertChannelFn == nil {
		panic(unset("OutboxStore.DeferAlertChannel"))
	}
	return mk.DeferAlertChannelFn(ctx, channel, until)
}

// GiveUpAlert calls GiveUpAlertFn.
func (mk *OutboxStore) GiveUpAlert(ctx context.Context, id int64, at time.Time, lastError string, e *roman.RomanEvent) error {
	if mk.GiveUpAlertFn == nil {
		panic(unset("OutboxStore.GiveUpAlert"))
	}
	return mk.GiveUpAlertFn(ctx, id, at, lastError, e)
}

// ListAlerts calls ListAlertsFn.
func (mk *OutboxStore) ListAlerts(ctx context.Context, f roman.OutboxFilter) ([]*roman.OutboxAlert, error) {
	if mk.ListAlertsFn == nil {
		panic(unset("OutboxStore.ListAlerts"))
	}
	return mk.ListAlertsFn(ctx, f)
}

// StatsStore is a mock of roman.StatsStore.
type StatsStore struct {
	ActiveDeploymentsFn func(ctx context.Context) ([]*roman.Deployment, error)
	CountDeploymentsFn  func(ctx context.Context) ([]roman.DeploymentCount, error)
	RollbackOutcomesFn  func(ctx context.Context, buckets []float64) ([]roman.RollbackOutcome, error)
	RollbackStatsFn     func(ctx context.Context, since time.Time) (roman.RollbackStats, error)
	CountValidationsFn  func(ctx context.Context) (approved, rejected int64, err error)
	ErrorBucketsFn      func(ctx context.Context, deploymentID string, from time.Time, step time.Duration, n int) ([]int64, error)
}

var _ roman.StatsStore = (*StatsStore)(nil)

// ActiveDeployments calls ActiveDeploymentsFn.
func (mk *StatsStore) ActiveDeployments(ctx context.Context) ([]*roman.Deployment, error) {
	if mk.ActiveDeploymentsFn == nil {
		panic(unset("StatsStore.ActiveDeployments"))
	}
	return mk.ActiveDeploymentsFn(ctx)
}

// CountDeployments calls CountDeploymentsFn.
func (mk *StatsStore) CountDeployments(ctx context.Context) ([]roman.DeploymentCount, error) {
	if mk.CountDeploymentsFn == nil {
		panic(unset("StatsStore.CountDeployments"))
	}
	return mk.CountDeploymentsFn(ctx)
}

// RollbackOutcomes calls RollbackOutcomesFn.
func (mk *StatsStore) RollbackOutcomes(ctx context.Context, buckets []float64) ([]roman.RollbackOutcome, error) {
	if mk.RollbackOutcomesFn == nil {
		panic(unset("StatsStore.RollbackOutcomes"))
	}
	return mk.RollbackOutcomesFn(ctx, buckets)
}

// RollbackStats calls RollbackStatsFn.
func (mk *StatsStore) RollbackStats(ctx context.Context, since time.Time) (roman.RollbackStats, error) {
	if mk.RollbackStatsFn == nil {
		panic(unset("StatsStore.RollbackStats"))
	}
	return mk.RollbackStatsFn(ctx, since)
}

// CountValidations calls CountValidationsFn.
func (mk *StatsStore) CountValidations(ctx context.Context) (approved, rejected int64, err error) {
	if mk.CountValidationsFn == nil {
		panic(unset("StatsStore.CountValidations"))
	}
	return mk.CountValidationsFn(ctx)
}

// ErrorBuckets calls ErrorBucketsFn.
func (mk *StatsStore) ErrorBuckets(ctx context.Context, deploymentID string, from time.Time, step time.Duration, n int) ([]int64, error) {
	if mk.ErrorBucketsFn == nil {
		panic(unset("StatsStore.ErrorBuckets"))
	}
	return mk.ErrorBucketsFn(ctx, deploymentID, from, step, n)
}
