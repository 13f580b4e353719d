// Package mock holds function-field mocks of roman's interfaces for tests.
// Each method calls the field of the same name with "Fn" appended; a test
// sets only the functions it expects to be called, and an unexpected call
// panics with the method's name so the test fails loudly.
package mock

import (
	"context"

	"github.com/odyssey-1/roman"
)

func unset(method string) string { return "mock: " + method + " called but its Fn is not set" }

// DeploymentService is a mock of roman.DeploymentService.
type DeploymentService struct {
	RecordFn func(ctx context.Context, d *roman.Deployment) (*roman.Deployment, bool, error)
	GetFn    func(ctx context.Context, deploymentID string) (*roman.Deployment, error)
	ListFn   func(ctx context.Context, f roman.DeploymentFilter) ([]*roman.Deployment, error)
	UpdateFn func(ctx context.Context, deploymentID string, u roman.DeploymentUpdate) (*roman.Deployment, error)

	RecordMigrationFn func(ctx context.Context, m *roman.Migration) (*roman.Migration, bool, error)
	ListMigrationsFn  func(ctx context.Context, deploymentID string) ([]*roman.Migration, error)
}

var _ roman.DeploymentService = (*DeploymentService)(nil)

// Record calls RecordFn.
func (s *DeploymentService) Record(ctx context.Context, d *roman.Deployment) (*roman.Deployment, bool, error) {
	if s.RecordFn == nil {
		panic(unset("DeploymentService.Record"))
	}
	return s.RecordFn(ctx, d)
}

// Get calls GetFn.
func (s *DeploymentService) Get(ctx context.Context, deploymentID string) (*roman.Deployment, error) {
	if s.GetFn == nil {
		panic(unset("DeploymentService.Get"))
	}
	return s.GetFn(ctx, deploymentID)
}

// List calls ListFn.
func (s *DeploymentService) List(ctx context.Context, f roman.DeploymentFilter) ([]*roman.Deployment, error) {
	if s.ListFn == nil {
		panic(unset("DeploymentService.List"))
	}
	return s.ListFn(ctx, f)
}

// Update calls UpdateFn.
func (s *DeploymentService) Update(ctx context.Context, deploymentID string, u roman.DeploymentUpdate) (*roman.Deployment, error) {
	if s.UpdateFn == nil {
		panic(unset("DeploymentService.Update"))
	}
	return s.UpdateFn(ctx, deploymentID, u)
}

// RecordMigration calls RecordMigrationFn.
func (s *DeploymentService) RecordMigration(ctx context.Context, m *roman.Migration) (*roman.Migration, bool, error) {
	if s.RecordMigrationFn == nil {
		panic(unset("DeploymentService.RecordMigration"))
	}
	return s.RecordMigrationFn(ctx, m)
}

// ListMigrations calls ListMigrationsFn.
func (s *DeploymentService) ListMigrations(ctx context.Context, deploymentID string) ([]*roman.Migration, error) {
	if s.ListMigrationsFn == nil {
		panic(unset("DeploymentService.ListMigrations"))
	}
	return s.ListMigrationsFn(ctx, deploymentID)
}

// RollbackService is a mock of roman.RollbackService.
type RollbackService struct {
	ExecuteFn  func(ctx context.Context, req roman.RollbackRequest) (*roman.RollbackResult, error)
	ValidateFn func(ctx context.Context, req roman.RollbackRequest) (roman.Validation, error)
	CheckFn    func(ctx context.Context, deploymentID string) (*roman.CheckResult, error)
	HistoryFn  func(ctx context.Context, f roman.RollbackFilter) ([]*roman.RollbackEvent, error)
}

var _ roman.RollbackService = (*RollbackService)(nil)

// Execute calls ExecuteFn.
func (s *RollbackService) Execute(ctx context.Context, req roman.RollbackRequest) (*roman.RollbackResult, error) {
	if s.ExecuteFn == nil {
		panic(unset("RollbackService.Execute"))
	}
	return s.ExecuteFn(ctx, req)
}

// Validate calls ValidateFn.
func (s *RollbackService) Validate(ctx context.Context, req roman.RollbackRequest) (roman.Validation, error) {
	if s.ValidateFn == nil {
		panic(unset("RollbackService.Validate"))
	}
	return s.ValidateFn(ctx, req)
}

// Check calls CheckFn.
func (s *RollbackService) Check(ctx context.Context, deploymentID string) (*roman.CheckResult, error) {
	if s.CheckFn == nil {
		panic(unset("RollbackService.Check"))
	}
	return s.CheckFn(ctx, deploymentID)
}

// History calls HistoryFn.
func (s *RollbackService) History(ctx context.Context, f roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
	if s.HistoryFn == nil {
		panic(unset("RollbackService.History"))
	}
	return s.HistoryFn(ctx, f)
}

// SnapshotService is a mock of roman.SnapshotService.
type SnapshotService struct {
	CreateFn func(ctx context.Context, deploymentID, snapshotType string) (*roman.Snapshot, error)
	GetFn    func(ctx context.Context, snapshotID string) (*roman.Snapshot, error)
	ListFn   func(ctx context.Context, deploymentID string) ([]*roman.Snapshot, error)
}

var _ roman.SnapshotService = (*SnapshotService)(nil)

// Create calls CreateFn.
func (s *SnapshotService) Create(ctx context.Context, deploymentID, snapshotType string) (*roman.Snapshot, error) {
	if s.CreateFn == nil {
		panic(unset("SnapshotService.Create"))
	}
	return s.CreateFn(ctx, deploymentID, snapshotType)
}

// Get calls GetFn.
func (s *SnapshotService) Get(ctx context.Context, snapshotID string) (*roman.Snapshot, error) {
	if s.GetFn == nil {
		panic(unset("SnapshotService.Get"))
	}
	return s.GetFn(ctx, snapshotID)
}

// List calls ListFn.
func (s *SnapshotService) List(ctx context.Context, deploymentID string) ([]*roman.Snapshot, error) {
	if s.ListFn == nil {
		panic(unset("SnapshotService.List"))
	}
	return s.ListFn(ctx, deploymentID)
}

// IngestService is a mock of roman.IngestService.
type IngestService struct {
	IngestErrorsFn  func(ctx context.Context, b roman.ErrorBatch) (*roman.IngestResult, error)
	IngestMetricsFn func(ctx context.Context, b roman.MetricBatch) (*roman.IngestResult, error)
}

var _ roman.IngestService = (*IngestService)(nil)

// IngestErrors calls IngestErrorsFn.
func (s *IngestService) IngestErrors(ctx context.Context, b roman.ErrorBatch) (*roman.IngestResult, error) {
	if s.IngestErrorsFn == nil {
		panic(unset("IngestService.IngestErrors"))
	}
	return s.IngestErrorsFn(ctx, b)
}

// IngestMetrics calls IngestMetricsFn.
func (s *IngestService) IngestMetrics(ctx context.Context, b roman.MetricBatch) (*roman.IngestResult, error) {
	if s.IngestMetricsFn == nil {
		panic(unset("IngestService.IngestMetrics"))
	}
	return s.IngestMetricsFn(ctx, b)
}
