package roman

import (
	"context"
	"encoding/json"
	"regexp"
	"time"
)

// Deployment statuses (seed: ops.deployments.status).
const (
	StatusPending    = "pending"
	StatusInProgress = "in_progress"
	StatusSuccess    = "success"
	StatusFailed     = "failed"
	StatusRolledBack = "rolled_back"
)

// Deployment is one row of ops.deployments, column for column. JSON field names
// are the seed's column names.
type Deployment struct {
	ID                       int64           `json:"id"`
	DeploymentID             string          `json:"deployment_id"`
	Service                  string          `json:"service"`
	Environment              string          `json:"environment"`
	Version                  string          `json:"version"`
	GitCommit                string          `json:"git_commit"`
	GitBranch                string          `json:"git_branch"`
	DeployedBy               *string         `json:"deployed_by"`
	DeployedAt               time.Time       `json:"deployed_at"`
	Status                   string          `json:"status"`
	RollbackFrom             *string         `json:"rollback_from"`
	HealthCheckPassed        bool            `json:"health_check_passed"`
	HealthCheckDetails       json.RawMessage `json:"health_check_details"`
	ConstitutionalValidation json.RawMessage `json:"constitutional_validation"`
	Metadata                 json.RawMessage `json:"metadata"`
	CompletedAt              *time.Time      `json:"completed_at"`
	RolledBackAt             *time.Time      `json:"rolled_back_at"`
}

var environmentRE = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// ValidEnvironment reports whether name is a legal environment name.
func ValidEnvironment(name string) bool { return environmentRE.MatchString(name) }

// DefaultService is the service of a deployment recorded without one.
const DefaultService = "default"

// ValidService reports whether name is a legal service name; service names
// follow the environment name pattern.
func ValidService(name string) bool { return environmentRE.MatchString(name) }

// ServiceOrDefault returns name, or DefaultService when name is empty.
func ServiceOrDefault(name string) string {
	if name == "" {
		return DefaultService
	}
	return name
}

// CheckService returns an EINVALID error naming field when a non-empty
// service name is not legal. An empty name is the default service.
func CheckService(field, name string) error {
	if name != "" && !ValidService(name) {
		return InvalidField(field, "must match [a-z0-9_-]{1,64}")
	}
	return nil
}

// deploymentTransitions lists the legal status changes.
var deploymentTransitions = map[string][]string{
	StatusPending:    {StatusInProgress, StatusFailed},
	StatusInProgress: {StatusSuccess, StatusFailed, StatusRolledBack},
	StatusSuccess:    {StatusRolledBack},
	StatusFailed:     {StatusRolledBack},
}

// ValidDeploymentStatus reports whether s is one of the five statuses.
func ValidDeploymentStatus(s string) bool {
	switch s {
	case StatusPending, StatusInProgress, StatusSuccess, StatusFailed, StatusRolledBack:
		return true
	}
	return false
}

// CanTransition reports whether a deployment may move from one status to
// another. Staying in the same status is not a transition.
func CanTransition(from, to string) bool {
	for _, s := range deploymentTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// CanUndoRollback reports whether a deployment that a rollback marked
// rolled_back may get the status `to` back because the rollback failed
// before its target was redeployed (the executor failed, timed out or was
// interrupted): `to` must be a status the rollback could have marked
// rolled_back. It is no transition a caller can ask for: CanTransition
// still refuses every change away from rolled_back, and only the rollback
// machine undoes its own mark, through DeploymentUpdate.UndoRollbackTo.
func CanUndoRollback(to string) bool {
	return to != StatusRolledBack && CanTransition(to, StatusRolledBack)
}

// TransitionError is the ECONFLICT error for an illegal status change; its
// message names both states.
func TransitionError(from, to string) *Error {
	return Errorf(ECONFLICT, "illegal status transition: deployment is %q and cannot become %q", from, to)
}

// Validate checks a deployment as a caller records it and returns an
// EINVALID error naming the first bad field. Fields a recorder leaves to
// their defaults (deployment_id, service, status, deployed_at) may be zero;
// Validate sets an empty service to DefaultService. A new
// deployment cannot be recorded as rolled_back: only a rollback marks a
// deployment so, after the constitution approved it and with a rollback
// event to show for it.
func (d *Deployment) Validate() error {
	if err := RequireFields("environment", d.Environment, "version", d.Version,
		"git_commit", d.GitCommit, "git_branch", d.GitBranch); err != nil {
		return err
	}
	if !ValidEnvironment(d.Environment) {
		return InvalidField("environment", "must match [a-z0-9_-]{1,64}")
	}
	if err := CheckService("service", d.Service); err != nil {
		return err
	}
	d.Service = ServiceOrDefault(d.Service)
	for _, f := range []struct{ name, v string }{
		{"version", d.Version}, {"git_commit", d.GitCommit}, {"git_branch", d.GitBranch},
	} {
		if err := CheckText(f.name, f.v, MaxShortText); err != nil {
			return err
		}
	}
	if d.DeployedBy != nil {
		if err := CheckUUID("deployed_by", *d.DeployedBy); err != nil {
			return err
		}
	}
	if d.DeploymentID != "" {
		if err := CheckUUID("deployment_id", d.DeploymentID); err != nil {
			return err
		}
	}
	switch {
	case d.Status == StatusRolledBack:
		return errRolledBackByRequest()
	case d.Status != "" && !ValidDeploymentStatus(d.Status):
		return InvalidField("status", "must be one of pending, in_progress, success, failed, rolled_back")
	}
	if !d.DeployedAt.IsZero() {
		if err := CheckTime("deployed_at", d.DeployedAt); err != nil {
			return err
		}
	}
	if err := CheckJSONObject("metadata", d.Metadata); err != nil {
		return err
	}
	return CheckJSONObject("health_check_details", d.HealthCheckDetails)
}

// errRolledBackByRequest refuses status rolled_back from a caller: a
// deployment is rolled back only by a rollback, which the constitution
// validates and a rollback event records.
func errRolledBackByRequest() error {
	return InvalidField("status", "a deployment is rolled back through POST /auto-rollback")
}

// DeploymentFilter selects deployments for listing, newest first.
type DeploymentFilter struct {
	// Service, when set, selects the deployments of one service.
	Service     string
	Environment string
	Status      string
	Limit       int
}

// DeploymentUpdate is a partial update of a deployment. Nil fields are left
// unchanged.
type DeploymentUpdate struct {
	Status                   *string
	HealthCheckPassed        *bool
	HealthCheckDetails       json.RawMessage
	ConstitutionalValidation json.RawMessage
	CompletedAt              *time.Time
	RolledBackAt             *time.Time
	// UndoRollbackTo, when set, takes back the mark of a rollback that
	// failed before its target was redeployed, so that the bad release,
	// which is still what runs, counts as running again: the stored status
	// must be rolled_back; it becomes *UndoRollbackTo (the status the
	// rollback found, see CanUndoRollback) and rolled_back_at is cleared.
	// A deployment that already has that status and no rolled_back_at is
	// left as it is (a resumed rollback may undo twice). It cannot be
	// combined with Status or RolledBackAt. Only the rollback machine sets
	// it; Validate refuses it from a caller.
	UndoRollbackTo *string
}

// Validate checks an update as a caller of DeploymentService.Update sends
// it and returns an EINVALID error naming the first bad field: at least one
// of status, health_check_passed and health_check_details is required, and
// status cannot be rolled_back (see Deployment.Validate). The fields only
// roman itself sets (constitutional_validation, completed_at,
// rolled_back_at) are not checked.
func (u *DeploymentUpdate) Validate() error {
	if u.Status == nil && u.HealthCheckPassed == nil && isNullJSON(u.HealthCheckDetails) {
		return Errorf(EINVALID, "at least one of \"status\", \"health_check_passed\", \"health_check_details\" is required")
	}
	if u.Status != nil && *u.Status == StatusRolledBack {
		return errRolledBackByRequest()
	}
	if u.UndoRollbackTo != nil {
		return Errorf(EINVALID, "only a failed rollback takes back its rolled_back mark")
	}
	if u.Status != nil && !ValidDeploymentStatus(*u.Status) {
		return InvalidField("status", "must be one of pending, in_progress, success, failed")
	}
	return CheckJSONObject("health_check_details", u.HealthCheckDetails)
}

// DeploymentService records and changes deployments and records the
// database migrations they applied. It is what the API calls; it adds
// validation, snapshots and monitoring on top of the stores.
type DeploymentService interface {
	// Record stores a new deployment. Re-sending the same deployment_id with
	// the same fields returns the stored row and created=false; different
	// fields give ECONFLICT. Invalid input gives EINVALID.
	Record(ctx context.Context, d *Deployment) (out *Deployment, created bool, err error)
	// Get returns one deployment or ENOTFOUND.
	Get(ctx context.Context, deploymentID string) (*Deployment, error)
	// List returns deployments newest first.
	List(ctx context.Context, f DeploymentFilter) ([]*Deployment, error)
	// Update changes status and/or health check fields. Illegal transitions
	// give ECONFLICT, unknown ids ENOTFOUND.
	Update(ctx context.Context, deploymentID string, u DeploymentUpdate) (*Deployment, error)
	// RecordMigration stores a database migration that the deployment
	// m.DeploymentID applied; a zero AppliedAt is now. Re-sending the same
	// migration (name, deployment and hash) returns the stored row and
	// created=false; the name recorded with another deployment or hash
	// gives ECONFLICT, an unknown deployment ENOTFOUND.
	RecordMigration(ctx context.Context, m *Migration) (out *Migration, created bool, err error)
	// ListMigrations returns a deployment's migrations in applied order,
	// with their rollback outcomes.
	ListMigrations(ctx context.Context, deploymentID string) ([]*Migration, error)
}
