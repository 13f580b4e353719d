package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/odyssey-1/roman"
)

// DefaultSnapshotTimeout bounds the reads of one snapshot (the application
// database's schema and table counts, the health) when Snapshots.Timeout is
// not set.
const DefaultSnapshotTimeout = 30 * time.Second

// Snapshots implements roman.SnapshotService: it captures the application
// database's schema hash and table counts, the deployment's health as key
// metrics and the redacted environment configuration, which never holds a
// secret's value.
type Snapshots struct {
	// Store reads the deployment a snapshot is of and keeps the snapshots.
	Store interface {
		roman.DeploymentStore
		roman.SnapshotStore
	}
	App roman.AppDatabase
	// Health computes a deployment's current health for key_metrics.
	Health interface {
		Check(ctx context.Context, d *roman.Deployment) (roman.Health, error)
	}
	// Config returns the environment's configuration; Snapshots redacts it
	// again before storing, so a forgotten secret never reaches a row.
	Config func(env string) map[string]any
	// Timeout bounds the reads of one snapshot (default
	// DefaultSnapshotTimeout). The application database may hang (a
	// migration holding a table lock, a host that drops packets), and a
	// pre_rollback snapshot must never hold a rollback up for long.
	Timeout time.Duration
	Clock   roman.Clock
	Logger  *slog.Logger
}

var _ roman.SnapshotService = (*Snapshots)(nil)

// Create takes a snapshot of the system for a deployment.
func (s *Snapshots) Create(ctx context.Context, deploymentID, snapshotType string) (*roman.Snapshot, error) {
	if !roman.ValidSnapshotType(snapshotType) {
		return nil, roman.Errorf(roman.EINVALID, "invalid snapshot_type %q: want pre_deployment, post_deployment or pre_rollback", snapshotType)
	}
	d, h, read, err := s.deploymentHealth(ctx, deploymentID)
	if err != nil {
		return nil, err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultSnapshotTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var hash string
	var counts map[string]int64
	var methods map[string]string
	if ac, ok := s.App.(roman.AppDatabaseCounts); ok {
		hash, counts, methods, err = ac.InspectCounts(rctx)
	} else {
		hash, counts, err = s.App.Inspect(rctx)
	}
	if err != nil {
		if errors.Is(rctx.Err(), context.DeadlineExceeded) {
			return nil, &roman.Error{Code: roman.EUNAVAILABLE, Err: err,
				Message: "snapshot: the application database did not answer within " + timeout.String()}
		}
		return nil, &roman.Error{Code: roman.EINTERNAL, Err: err}
	}
	if !read {
		if h, err = s.Health.Check(rctx, d); err != nil {
			return nil, err
		}
	}
	metrics, _ := json.Marshal(h)
	var cfg map[string]any
	if s.Config != nil {
		cfg = s.Config(d.Environment)
	}
	snap := &roman.Snapshot{
		SnapshotID:         roman.NewUUID(),
		DeploymentID:       deploymentID,
		SnapshotType:       snapshotType,
		DatabaseSchemaHash: hash,
		TableCounts:        counts,
		TableCountMethods:  methods,
		KeyMetrics:         metrics,
		EnvironmentConfig:  roman.RedactConfig(cfg),
		CreatedAt:          roman.UTC(s.Clock()),
	}
	if err := s.Store.CreateSnapshot(ctx, snap); err != nil {
		return nil, err
	}
	return snap, nil
}

// oneReadChecker is a health checker that computes a deployment's health
// from one read of a roman.CheckReader (*health.Checker).
type oneReadChecker interface {
	CheckOneRead(ctx context.Context, rd roman.CheckReader, deploymentID string) (*roman.CheckRead, roman.Health, error)
}

// deploymentHealth reads the deployment a snapshot is of. With a store
// that reads a check at once (roman.CheckReader) and a health checker
// that computes health from such a read, the same read gives the
// deployment's health too (read is then set): one round trip instead of
// five on PostgreSQL, on every rollback's path. The health is the same
// Check gives.
func (s *Snapshots) deploymentHealth(ctx context.Context, deploymentID string) (d *roman.Deployment, h roman.Health, read bool, err error) {
	if rd, ok := s.Store.(roman.CheckReader); ok {
		if hc, ok := s.Health.(oneReadChecker); ok && roman.ValidUUID(deploymentID) {
			r, h, err := hc.CheckOneRead(ctx, rd, deploymentID)
			if err != nil {
				return nil, roman.Health{}, false, err
			}
			return r.Deployment, h, true, nil
		}
	}
	d, err = s.Store.GetDeployment(ctx, deploymentID)
	return d, roman.Health{}, false, err
}

// Get returns one snapshot.
func (s *Snapshots) Get(ctx context.Context, id string) (*roman.Snapshot, error) {
	return s.Store.GetSnapshot(ctx, id)
}

// List returns a deployment's snapshots newest first (empty for an unknown
// deployment; the API answers 404 for that before asking).
func (s *Snapshots) List(ctx context.Context, deploymentID string) ([]*roman.Snapshot, error) {
	return s.Store.ListSnapshots(ctx, deploymentID)
}
