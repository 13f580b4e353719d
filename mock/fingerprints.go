package mock

import (
	"context"
	"time"

	"github.com/odyssey-1/roman"
)

// FingerprintStore is a mock of roman.FingerprintStore.
type FingerprintStore struct {
	MarkNewFingerprintFn func(ctx context.Context, deploymentID, fingerprint string, at time.Time) error
	NewErrorsBatchFn     func(ctx context.Context, deploymentIDs []string) (map[string]roman.NewErrorCounts, error)
	DeploymentErrorsFn   func(ctx context.Context, deploymentID string, f roman.ErrorGroupFilter) ([]roman.ErrorGroup, error)
}

var _ roman.FingerprintStore = (*FingerprintStore)(nil)

// MarkNewFingerprint calls MarkNewFingerprintFn.
func (mk *FingerprintStore) MarkNewFingerprint(ctx context.Context, deploymentID, fingerprint string, at time.Time) error {
	if mk.MarkNewFingerprintFn == nil {
		panic(unset("FingerprintStore.MarkNewFingerprint"))
	}
	return mk.MarkNewFingerprintFn(ctx, deploymentID, fingerprint, at)
}

// NewErrorsBatch calls NewErrorsBatchFn.
func (mk *FingerprintStore) NewErrorsBatch(ctx context.Context, deploymentIDs []string) (map[string]roman.NewErrorCounts, error) {
	if mk.NewErrorsBatchFn == nil {
		panic(unset("FingerprintStore.NewErrorsBatch"))
	}
	return mk.NewErrorsBatchFn(ctx, deploymentIDs)
}

// DeploymentErrors calls DeploymentErrorsFn.
func (mk *FingerprintStore) DeploymentErrors(ctx context.Context, deploymentID string, f roman.ErrorGroupFilter) ([]roman.ErrorGroup, error) {
	if mk.DeploymentErrorsFn == nil {
		panic(unset("FingerprintStore.DeploymentErrors"))
	}
	return mk.DeploymentErrorsFn(ctx, deploymentID, f)
}

// NewErrorsService is a mock of roman.NewErrorsService.
type NewErrorsService struct {
	DeploymentErrorsFn func(ctx context.Context, deploymentID string, f roman.ErrorGroupFilter) ([]roman.ErrorGroup, error)
}

var _ roman.NewErrorsService = (*NewErrorsService)(nil)

// DeploymentErrors calls DeploymentErrorsFn.
func (mk *NewErrorsService) DeploymentErrors(ctx context.Context, deploymentID string, f roman.ErrorGroupFilter) ([]roman.ErrorGroup, error) {
	if mk.DeploymentErrorsFn == nil {
		panic(unset("NewErrorsService.DeploymentErrors"))
	}
	return mk.DeploymentErrorsFn(ctx, deploymentID, f)
}
