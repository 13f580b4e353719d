package api

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

// maxScriptText bounds a rollback script (the body limit bounds it too).
const maxScriptText = 256 << 10

// RecordMigrationRequest is the body of POST
// /deployments/{deployment_id}/migrations: one database migration that the
// deployment applied, with the SQL that undoes it. CI sends one
// request per migration, in the order they were applied.
type RecordMigrationRequest struct {
	MigrationName   string          `json:"migration_name"`
	MigrationHash   string          `json:"migration_hash"`
	ExecutionTimeMS *int64          `json:"execution_time_ms,omitempty"`
	RollbackScript  *string         `json:"rollback_script,omitempty"`
	AppliedAt       *time.Time      `json:"applied_at,omitempty"`
	ErrorMessage    *string         `json:"error_message,omitempty"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
}

// Validate checks the request and returns an EINVALID error naming the
// first bad field.
func (req *RecordMigrationRequest) Validate() error {
	if err := roman.RequireFields("migration_name", req.MigrationName, "migration_hash", req.MigrationHash); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"migration_name", req.MigrationName}, {"migration_hash", req.MigrationHash}} {
		if err := roman.CheckText(f.name, f.v, roman.MaxShortText); err != nil {
			return err
		}
	}
	if req.ExecutionTimeMS != nil && *req.ExecutionTimeMS < 0 {
		return roman.InvalidField("execution_time_ms", "must not be negative")
	}
	if req.ExecutionTimeMS != nil && *req.ExecutionTimeMS > math.MaxInt32 {
		// The seed's column is an integer (32 bits on PostgreSQL): a larger
		// value must be a 400 here, not a failed INSERT (500).
		return roman.InvalidField("execution_time_ms", "must be at most 2147483647")
	}
	if req.RollbackScript != nil {
		if err := roman.CheckText("rollback_script", *req.RollbackScript, maxScriptText); err != nil {
			return err
		}
	}
	if req.ErrorMessage != nil {
		if err := roman.CheckText("error_message", *req.ErrorMessage, maxReasonText); err != nil {
			return err
		}
	}
	if req.AppliedAt != nil {
		if err := roman.CheckTime("applied_at", *req.AppliedAt); err != nil {
			return err
		}
	}
	return roman.CheckJSONObject("metadata", req.Metadata)
}

func (req *RecordMigrationRequest) migration(deploymentID string) *roman.Migration {
	m := &roman.Migration{
		DeploymentID: deploymentID, MigrationName: req.MigrationName, MigrationHash: req.MigrationHash,
		ExecutionTimeMS: req.ExecutionTimeMS, RollbackScript: req.RollbackScript, Metadata: nullToEmpty(req.Metadata),
	}
	if req.ErrorMessage != nil && strings.TrimSpace(*req.ErrorMessage) != "" {
		m.ErrorMessage = req.ErrorMessage
	}
	if req.AppliedAt != nil {
		m.AppliedAt = roman.UTC(*req.AppliedAt)
	}
	return m
}

// MigrationList is the body of GET /deployments/{deployment_id}/migrations.
type MigrationList struct {
	Migrations []*roman.Migration `json:"migrations"`
}

// recordMigration serves POST /deployments/{deployment_id}/migrations: 201
// with the row, or 200 with the stored row when the same migration (name,
// deployment and hash) was recorded before; a migration name recorded with
// a different deployment or hash is a 409 (names are unique, as in the
// seed's table). The service decides which.
func (s *Server) recordMigration(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "deployment_id")
	if err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	var req RecordMigrationRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	m, created, err := s.deps.Deployments.RecordMigration(r.Context(), req.migration(id))
	if err != nil {
		return err
	}
	if !created {
		return WriteJSON(w, http.StatusOK, m)
	}
	w.Header().Set("Location", "/deployments/"+id+"/migrations")
	return WriteJSON(w, http.StatusCreated, m)
}

// listMigrations serves GET /deployments/{deployment_id}/migrations in
// applied order, with their rollback outcomes.
func (s *Server) listMigrations(w http.ResponseWriter, r *http.Request) error {
	id, err := s.knownDeployment(r)
	if err != nil {
		return err
	}
	list, err := s.deps.Deployments.ListMigrations(r.Context(), id)
	if err != nil {
		return err
	}
	if list == nil {
		list = []*roman.Migration{}
	}
	return WriteJSON(w, http.StatusOK, MigrationList{Migrations: list})
}
