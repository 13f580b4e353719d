package api

import (
	"encoding/json"
	"time"

	"github.com/odyssey-1/roman"
)

// maxReasonText bounds a free-text reason (trigger_reason, a migration's
// error_message). The seed's columns are unbounded text; the limit keeps one
// request from storing megabytes while being far above anything a caller
// sends. Short fields are bounded by roman.MaxShortText.
const maxReasonText = 4096

// Limits of list endpoints.
const (
	defaultDeploymentLimit = 50
	defaultHistoryLimit    = 10 // the seed's ?limit=10
	maxListLimit           = 1000
)

// RecordDeploymentRequest is the body of POST /deployments (CI step 2).
// Optional fields are pointers so that "absent" differs from "zero"; the
// service applies the recording defaults (status in_progress, deployed_at
// now) to what is absent, which keeps an idempotent re-send comparable.
type RecordDeploymentRequest struct {
	// Service is the service deployed; empty is "default".
	Service           string          `json:"service,omitempty"`
	Environment       string          `json:"environment"`
	Version           string          `json:"version"`
	GitCommit         string          `json:"git_commit"`
	GitBranch         string          `json:"git_branch"`
	DeployedBy        *string         `json:"deployed_by,omitempty"`
	DeploymentID      *string         `json:"deployment_id,omitempty"`
	Status            *string         `json:"status,omitempty"`
	Metadata          json.RawMessage `json:"metadata,omitempty"`
	DeployedAt        *time.Time      `json:"deployed_at,omitempty"`
	HealthCheckPassed *bool           `json:"health_check_passed,omitempty"`
}

// Validate checks the request and returns an EINVALID error naming the first
// bad field. The rules are the deployment's own (roman.Deployment.Validate,
// which the service applies as well); the request adds only what a pointer
// can tell and the domain type cannot: an optional field given but empty.
func (req *RecordDeploymentRequest) Validate() error {
	if err := req.deployment().Validate(); err != nil {
		return err
	}
	if req.DeploymentID != nil && *req.DeploymentID == "" {
		return roman.CheckUUID("deployment_id", "")
	}
	if req.Status != nil && *req.Status == "" {
		return roman.InvalidField("status", "must be one of pending, in_progress, success, failed, rolled_back")
	}
	if req.DeployedAt != nil {
		// A zero deployed_at means "now" to the domain type; given
		// explicitly, it is year 1.
		return roman.CheckTime("deployed_at", *req.DeployedAt)
	}
	return nil
}

// deployment converts a validated request into the row handed to the
// service. A missing deployment_id is generated here; status and
// deployed_at stay zero when absent so the service can default them.
func (req *RecordDeploymentRequest) deployment() *roman.Deployment {
	d := &roman.Deployment{
		Service:     req.Service,
		Environment: req.Environment,
		Version:     req.Version,
		GitCommit:   req.GitCommit,
		GitBranch:   req.GitBranch,
		DeployedBy:  req.DeployedBy,
		Metadata:    nullToEmpty(req.Metadata),
	}
	if req.DeploymentID != nil {
		d.DeploymentID = *req.DeploymentID
	} else {
		d.DeploymentID = roman.NewUUID()
	}
	if req.Status != nil {
		d.Status = *req.Status
	}
	if req.DeployedAt != nil {
		d.DeployedAt = roman.UTC(*req.DeployedAt)
	}
	if req.HealthCheckPassed != nil {
		d.HealthCheckPassed = *req.HealthCheckPassed
	}
	return d
}

// UpdateDeploymentRequest is the body of PATCH /deployments/{deployment_id}:
// a status change and/or the health check verdict. At least one field is
// required.
type UpdateDeploymentRequest struct {
	Status             *string         `json:"status,omitempty"`
	HealthCheckPassed  *bool           `json:"health_check_passed,omitempty"`
	HealthCheckDetails json.RawMessage `json:"health_check_details,omitempty"`
}

// Validate checks the request and returns an EINVALID error naming the first
// bad field, by the update's own rules (roman.DeploymentUpdate.Validate,
// which the service applies as well).
func (req *UpdateDeploymentRequest) Validate() error {
	u := req.update()
	return u.Validate()
}

func (req *UpdateDeploymentRequest) update() roman.DeploymentUpdate {
	return roman.DeploymentUpdate{
		Status:             req.Status,
		HealthCheckPassed:  req.HealthCheckPassed,
		HealthCheckDetails: nullToEmpty(req.HealthCheckDetails),
	}
}

// CreateSnapshotRequest is the body of POST
// /deployments/{deployment_id}/snapshots.
type CreateSnapshotRequest struct {
	SnapshotType string `json:"snapshot_type"`
}

// Validate checks the snapshot type.
func (req *CreateSnapshotRequest) Validate() error {
	if err := roman.RequireFields("snapshot_type", req.SnapshotType); err != nil {
		return err
	}
	if !roman.ValidSnapshotType(req.SnapshotType) {
		return roman.InvalidField("snapshot_type", "must be one of pre_deployment, post_deployment, pre_rollback")
	}
	return nil
}

// CheckRequest is the body of POST /auto-rollback/check (seed).
type CheckRequest struct {
	DeploymentID string `json:"deployment_id"`
}

// validateRollbackRequest checks a decoded POST /auto-rollback body. The
// body's shape is roman.RollbackRequest itself, so the seed's fields are
// written once.
func validateRollbackRequest(req *roman.RollbackRequest) error {
	if err := roman.RequireFields("deployment_id", req.DeploymentID, "trigger_reason", req.TriggerReason); err != nil {
		return err
	}
	if err := roman.CheckUUID("deployment_id", req.DeploymentID); err != nil {
		return err
	}
	if err := roman.CheckText("trigger_reason", req.TriggerReason, maxReasonText); err != nil {
		return err
	}
	if req.InitiatedBy != "" {
		if err := roman.CheckUUID("initiated_by", req.InitiatedBy); err != nil {
			return err
		}
	}
	switch req.TriggerType {
	case "", roman.TriggerManual, roman.TriggerAutomatic, roman.TriggerConstitutionalViolation:
	default:
		return roman.InvalidField("trigger_type", "must be one of manual, automatic, constitutional_violation")
	}
	return nil
}

// DeploymentList is the body of GET /deployments.
type DeploymentList struct {
	Deployments []*roman.Deployment `json:"deployments"`
}

// SnapshotList is the body of GET /deployments/{deployment_id}/snapshots.
type SnapshotList struct {
	Snapshots []*roman.Snapshot `json:"snapshots"`
}

// EventList is the body of GET /events.
type EventList struct {
	Events []*roman.RomanEvent `json:"events"`
}

// RollbackHistory is the body of GET /auto-rollback/history (seed).
type RollbackHistory struct {
	Rollbacks []*roman.RollbackEvent `json:"rollbacks"`
}

// StatusResponse is the body of /healthz and /readyz.
type StatusResponse struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}
