// Package deploy is the service of the deployment use case: it records
// and changes deployments, takes and reads snapshots of the system, and
// records the database migrations a deployment applied. The api package
// calls it through roman.DeploymentService and roman.SnapshotService; the
// rollback step machine uses its snapshots through roman.SnapshotService and
// never imports this package.
package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/odyssey-1/roman"
)

// MaxDeployedAtSkew is how far in the future a recorded deployment's
// deployed_at may be (CI's clock may run a little ahead of roman's).
const MaxDeployedAtSkew = time.Minute

// Deployments implements roman.DeploymentService on the stores: it validates
// input with the domain's rules, makes re-sent records idempotent, stamps
// completion times, takes the post_deployment snapshot on success and tells
// the monitor. It also records the database migrations a deployment applied
// (migrations.go).
type Deployments struct {
	// Store keeps the deployments, their migrations and the audit log of
	// their changes.
	Store interface {
		roman.DeploymentStore
		roman.MigrationStore
		roman.EventStore
	}
	Snapshots *Snapshots
	Clock     roman.Clock
	Logger    *slog.Logger
	// OnSuccess, when set, is called after a deployment became success (the
	// monitor opens its watch window).
	OnSuccess func(d *roman.Deployment)
	// Hub, when set, is told of every recorded or changed deployment.
	Hub *roman.Hub
}

var _ roman.DeploymentService = (*Deployments)(nil)

// Record stores a new deployment, as CI reports it when a deploy starts or
// ends.
func (s *Deployments) Record(ctx context.Context, d *roman.Deployment) (*roman.Deployment, bool, error) {
	if err := d.Validate(); err != nil {
		return nil, false, err
	}
	now := roman.UTC(s.Clock())
	rec := *d
	if rec.DeploymentID == "" {
		rec.DeploymentID = roman.NewUUID()
	}
	if rec.Status == "" {
		rec.Status = roman.StatusInProgress
	}
	if rec.DeployedAt.IsZero() {
		rec.DeployedAt = now
	}
	rec.DeployedAt = roman.UTC(rec.DeployedAt)
	if rec.DeployedAt.After(now.Add(MaxDeployedAtSkew)) {
		// The newest deployed_at is an environment's current deployment and
		// the bound of its rollback targets: a typo'd year would outrank
		// every later deployment for good.
		return nil, false, roman.Errorf(roman.EINVALID, "invalid value for field \"deployed_at\": %s is more than %s in the future (server time %s)",
			rec.DeployedAt.Format(time.RFC3339), MaxDeployedAtSkew, now.Format(time.RFC3339))
	}
	if rec.Status == roman.StatusSuccess || rec.Status == roman.StatusFailed {
		rec.CompletedAt = &now
	}
	rec.RollbackFrom, rec.RolledBackAt, rec.ConstitutionalValidation = nil, nil, nil

	if err := s.Store.CreateDeployment(ctx, &rec); err != nil {
		if roman.ErrorCode(err) != roman.ECONFLICT {
			return nil, false, err
		}
		old, gerr := s.Store.GetDeployment(ctx, rec.DeploymentID)
		if gerr != nil {
			return nil, false, gerr
		}
		if sameRecord(old, d) {
			return old, false, nil
		}
		return nil, false, roman.Errorf(roman.ECONFLICT, "deployment_id %s already exists with different fields", rec.DeploymentID)
	}
	addEvent(ctx, s.Store, s.Clock, s.Logger, roman.EventDeploymentRecorded, roman.SeverityInfo,
		"Deployment "+rec.Version+" recorded in "+rec.Environment,
		map[string]any{"deployment_id": rec.DeploymentID, "service": rec.Service, "environment": rec.Environment, "version": rec.Version, "status": rec.Status})
	s.Hub.Publish(roman.Change{Kind: roman.ChangeDeployment, Service: rec.Service, Environment: rec.Environment, DeploymentID: rec.DeploymentID})
	if rec.Status == roman.StatusSuccess {
		s.succeeded(ctx, &rec)
	}
	return &rec, true, nil
}

// Get returns one deployment.
func (s *Deployments) Get(ctx context.Context, id string) (*roman.Deployment, error) {
	return s.Store.GetDeployment(ctx, id)
}

// List returns deployments newest first.
func (s *Deployments) List(ctx context.Context, f roman.DeploymentFilter) ([]*roman.Deployment, error) {
	if f.Environment != "" && !roman.ValidEnvironment(f.Environment) {
		return nil, roman.Errorf(roman.EINVALID, "invalid environment %q: must match [a-z0-9_-]{1,64}", f.Environment)
	}
	if f.Status != "" && !roman.ValidDeploymentStatus(f.Status) {
		return nil, roman.Errorf(roman.EINVALID, "invalid status %q", f.Status)
	}
	return s.Store.ListDeployments(ctx, f)
}

// Update changes a deployment's status and/or health check fields.
func (s *Deployments) Update(ctx context.Context, id string, u roman.DeploymentUpdate) (*roman.Deployment, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	before, err := s.Store.GetDeployment(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.HealthCheckPassed != nil && *u.HealthCheckPassed && !before.HealthCheckPassed {
		if reason, err := s.breach(ctx, before); err != nil {
			return nil, err
		} else if reason != "" {
			return nil, roman.Errorf(roman.ECONFLICT,
				"deployment %s cannot be marked health_check_passed: a trigger fired inside its watch window (%s), and a release whose window breached is never known good",
				before.DeploymentID, reason)
		}
	}
	now := roman.UTC(s.Clock())
	if u.Status != nil && *u.Status != before.Status {
		switch *u.Status {
		case roman.StatusSuccess, roman.StatusFailed:
			u.CompletedAt = &now
		}
	}
	after, err := s.Store.UpdateDeployment(ctx, id, u)
	if err != nil {
		return nil, err
	}
	s.Hub.Publish(roman.Change{Kind: roman.ChangeDeployment, Service: after.Service, Environment: after.Environment, DeploymentID: id})
	if after.Status != before.Status {
		addEvent(ctx, s.Store, s.Clock, s.Logger, roman.EventDeploymentStatus, roman.SeverityInfo,
			"Deployment "+after.Version+" is now "+after.Status,
			map[string]any{"deployment_id": id, "service": after.Service, "environment": after.Environment, "from": before.Status, "to": after.Status})
		if after.Status == roman.StatusSuccess {
			s.succeeded(ctx, after)
		}
	}
	return after, nil
}

// breach returns the reason of a trigger that fired inside d's watch
// window, or "" when none did. The monitor records every breach twice, as a
// watch_breach row and in health_check_details; either one is enough.
func (s *Deployments) breach(ctx context.Context, d *roman.Deployment) (string, error) {
	var det struct {
		Breaches []struct {
			Reason string `json:"reason"`
		} `json:"breaches"`
	}
	if len(d.HealthCheckDetails) > 0 && json.Unmarshal(d.HealthCheckDetails, &det) == nil && len(det.Breaches) > 0 {
		return det.Breaches[0].Reason, nil
	}
	evs, err := s.Store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventWatchBreach, DeploymentID: d.DeploymentID, Limit: 1})
	if err != nil {
		return "", err
	}
	if len(evs) > 0 {
		var b struct {
			Reason string `json:"reason"`
		}
		if json.Unmarshal(evs[0].Metadata, &b) != nil || b.Reason == "" {
			b.Reason = evs[0].Message
		}
		return b.Reason, nil
	}
	return "", nil
}

// succeeded takes the post_deployment snapshot and opens the watch window.
// A failed snapshot is logged, not fatal: the deploy already happened.
func (s *Deployments) succeeded(ctx context.Context, d *roman.Deployment) {
	if s.Snapshots != nil {
		if _, err := s.Snapshots.Create(ctx, d.DeploymentID, roman.SnapshotPostDeployment); err != nil {
			s.Logger.Error("post_deployment snapshot failed", "deployment_id", d.DeploymentID, "err", err)
		}
	}
	if s.OnSuccess != nil {
		s.OnSuccess(d)
	}
}

// sameRecord reports whether a re-sent record matches the stored row in the
// fields the caller controls, so the re-send is an idempotent success.
func sameRecord(old, d *roman.Deployment) bool {
	status := d.Status
	if status == "" {
		status = roman.StatusInProgress
	}
	return old.Environment == d.Environment && old.Service == roman.ServiceOrDefault(d.Service) &&
		old.Version == d.Version &&
		old.GitCommit == d.GitCommit && old.GitBranch == d.GitBranch &&
		equalPtr(old.DeployedBy, d.DeployedBy) &&
		(d.DeployedAt.IsZero() || roman.UTC(d.DeployedAt).Equal(old.DeployedAt)) &&
		(status == old.Status || d.Status == "") &&
		jsonEqual(old.Metadata, d.Metadata)
}

func equalPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 || bytes.Equal(a, []byte("null")) || bytes.Equal(b, []byte("null")) {
		return isNullJSON(a) && isNullJSON(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func isNullJSON(r json.RawMessage) bool { return len(r) == 0 || bytes.Equal(r, []byte("null")) }

// addEvent writes one roman_events row. The audit log must not make a
// request fail after the change it records has happened, so a failed write
// is logged loudly instead of returned.
func addEvent(ctx context.Context, st roman.EventStore, clock roman.Clock, log *slog.Logger, typ, sev, msg string, meta map[string]any) {
	raw, _ := json.Marshal(meta)
	e := &roman.RomanEvent{EventID: roman.NewUUID(), EventType: typ, Severity: sev, Message: msg, Metadata: raw, Timestamp: roman.UTC(clock())}
	if err := st.AddRomanEvent(context.WithoutCancel(ctx), e); err != nil {
		log.Error("writing roman_events row failed", "event_type", typ, "err", err)
	}
}
