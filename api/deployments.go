package api

import (
	"net/http"

	"github.com/odyssey-1/roman"
)

// recordDeployment serves POST /deployments: 201 with the new row, or 200
// with the stored row when the same deployment was already recorded.
func (s *Server) recordDeployment(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	var req RecordDeploymentRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	d, created, err := s.deps.Deployments.Record(r.Context(), req.deployment())
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/deployments/"+d.DeploymentID)
	}
	return WriteJSON(w, status, d)
}

// getDeployment serves GET /deployments/{deployment_id}.
func (s *Server) getDeployment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "deployment_id")
	if err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	d, err := s.deps.Deployments.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, d)
}

// listDeployments serves GET /deployments?service=&environment=&status=&limit=,
// newest first.
func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "service", "environment", "status", "limit")
	if err != nil {
		return err
	}
	f := roman.DeploymentFilter{Service: q.Get("service"), Environment: q.Get("environment"), Status: q.Get("status")}
	if err := queryScope(f.Service, f.Environment, ""); err != nil {
		return err
	}
	if f.Status != "" && !roman.ValidDeploymentStatus(f.Status) {
		return roman.Errorf(roman.EINVALID, "invalid value for query parameter \"status\": must be one of pending, in_progress, success, failed, rolled_back")
	}
	if f.Limit, err = queryLimit(q, defaultDeploymentLimit, maxListLimit); err != nil {
		return err
	}
	list, err := s.deps.Deployments.List(r.Context(), f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []*roman.Deployment{}
	}
	return WriteJSON(w, http.StatusOK, DeploymentList{Deployments: list})
}

// updateDeployment serves PATCH /deployments/{deployment_id}.
func (s *Server) updateDeployment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "deployment_id")
	if err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	var req UpdateDeploymentRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	d, err := s.deps.Deployments.Update(r.Context(), id, req.update())
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, d)
}

// createSnapshot serves POST /deployments/{deployment_id}/snapshots.
func (s *Server) createSnapshot(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "deployment_id")
	if err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	var req CreateSnapshotRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	snap, err := s.deps.Snapshots.Create(r.Context(), id, req.SnapshotType)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/snapshots/"+snap.SnapshotID)
	return WriteJSON(w, http.StatusCreated, snap)
}

// listSnapshots serves GET /deployments/{deployment_id}/snapshots. An
// unknown deployment is 404 rather than an empty list, like every other
// route with an id in its path.
func (s *Server) listSnapshots(w http.ResponseWriter, r *http.Request) error {
	id, err := s.knownDeployment(r)
	if err != nil {
		return err
	}
	list, err := s.deps.Snapshots.List(r.Context(), id)
	if err != nil {
		return err
	}
	if list == nil {
		list = []*roman.Snapshot{}
	}
	return WriteJSON(w, http.StatusOK, SnapshotList{Snapshots: list})
}

// getSnapshot serves GET /snapshots/{snapshot_id}.
func (s *Server) getSnapshot(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "snapshot_id")
	if err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	snap, err := s.deps.Snapshots.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, snap)
}

// diffSnapshots serves GET /snapshots/{snapshot_id}/diff/{other_snapshot_id}:
// what changed from the first snapshot to the second.
func (s *Server) diffSnapshots(w http.ResponseWriter, r *http.Request) error {
	a, err := pathUUID(r, "snapshot_id")
	if err != nil {
		return err
	}
	b, err := pathUUID(r, "other_snapshot_id")
	if err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	sa, err := s.deps.Snapshots.Get(r.Context(), a)
	if err != nil {
		return err
	}
	sb, err := s.deps.Snapshots.Get(r.Context(), b)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, roman.DiffSnapshots(sa, sb))
}

// knownDeployment reads the deployment_id path parameter of a list route
// under a deployment, refuses query parameters, and answers 404 for an
// unknown deployment rather than an empty list.
func (s *Server) knownDeployment(r *http.Request) (string, error) {
	id, err := pathUUID(r, "deployment_id")
	if err != nil {
		return "", err
	}
	if _, err := queryParams(r); err != nil {
		return "", err
	}
	if _, err := s.deps.Deployments.Get(r.Context(), id); err != nil {
		return "", err
	}
	return id, nil
}
