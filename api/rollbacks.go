package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/odyssey-1/roman"
)

// executeRollback serves POST /auto-rollback (seed): 200 with the result, or
// 422 with the seed's rejection body when the constitution says no.
func (s *Server) executeRollback(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeRollbackRequest(r)
	if err != nil {
		return err
	}
	// A rollback runs its executor and verification before it answers,
	// which the executor timeout bounds, not the server's write timeout.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	res, err := s.deps.Rollbacks.Execute(r.Context(), req)
	if s.cfg.WriteTimeout > 0 {
		_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	}
	if err != nil {
		return err
	}
	if res == nil {
		return errors.New("rollback service returned no result")
	}
	out := *res
	out.Validation = normalizeValidation(out.Validation)
	return WriteJSON(w, http.StatusOK, out)
}

// decodeRollbackRequest reads the body of POST /auto-rollback and of its dry
// run, POST /auto-rollback/validate: it validates the fields, refuses an
// override from a caller below admin, and stamps the caller for the audit
// trail.
func decodeRollbackRequest(r *http.Request) (roman.RollbackRequest, error) {
	var req roman.RollbackRequest
	if _, err := queryParams(r); err != nil {
		return req, err
	}
	if err := DecodeJSON(r, &req); err != nil {
		return req, err
	}
	if err := validateRollbackRequest(&req); err != nil {
		return req, err
	}
	c, _ := CallerFromContext(r.Context())
	if req.Override && c.Role < roman.RoleAdmin {
		return req, roman.Errorf(roman.EFORBIDDEN, "override needs role %q; API key %q has role %q", roman.RoleAdmin, c.Name, c.Role)
	}
	req.Caller, req.Admin = c.Name, c.Role >= roman.RoleAdmin
	if req.TriggerType == "" {
		// A request through the API is a person or a pipeline asking, which
		// the constitution treats as manual unless the caller says otherwise.
		req.TriggerType = roman.TriggerManual
	}
	return req, nil
}

// checkRollback serves POST /auto-rollback/check (seed) with body
// {"deployment_id": ...}, and GET with ?deployment_id= for convenience.
func (s *Server) checkRollback(w http.ResponseWriter, r *http.Request) error {
	var id string
	if r.Method == http.MethodGet {
		q, err := queryParams(r, "deployment_id")
		if err != nil {
			return err
		}
		if id = q.Get("deployment_id"); id == "" {
			return roman.Errorf(roman.EINVALID, "missing required query parameter \"deployment_id\"")
		} else if !roman.ValidUUID(id) {
			return roman.Errorf(roman.EINVALID, "invalid value for query parameter \"deployment_id\": must be a UUID")
		}
	} else {
		if _, err := queryParams(r); err != nil {
			return err
		}
		var req CheckRequest
		if err := DecodeJSON(r, &req); err != nil {
			return err
		}
		if err := roman.RequireFields("deployment_id", req.DeploymentID); err != nil {
			return err
		}
		if err := roman.CheckUUID("deployment_id", req.DeploymentID); err != nil {
			return err
		}
		id = req.DeploymentID
	}
	res, err := s.deps.Rollbacks.Check(r.Context(), id)
	if err != nil {
		return err
	}
	if res == nil {
		return errors.New("rollback service returned no check result")
	}
	return WriteJSON(w, http.StatusOK, res)
}

// rollbackHistory serves GET /auto-rollback/history?limit=10 (seed), with
// optional service, environment, deployment_id, status and since filters.
func (s *Server) rollbackHistory(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "limit", "service", "environment", "deployment_id", "status", "since")
	if err != nil {
		return err
	}
	f := roman.RollbackFilter{Service: q.Get("service"), Environment: q.Get("environment"), DeploymentID: q.Get("deployment_id"), Status: q.Get("status")}
	if err := queryScope(f.Service, f.Environment, f.DeploymentID); err != nil {
		return err
	}
	switch f.Status {
	case "", roman.RollbackPending, roman.RollbackInProgress, roman.RollbackSuccess, roman.RollbackFailed, roman.RollbackAborted:
	default:
		return roman.Errorf(roman.EINVALID, "invalid value for query parameter \"status\": must be one of pending, in_progress, success, failed, aborted")
	}
	if f.Since, err = querySince(q); err != nil {
		return err
	}
	if f.Limit, err = queryLimit(q, defaultHistoryLimit, maxListLimit); err != nil {
		return err
	}
	list, err := s.deps.Rollbacks.History(r.Context(), f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []*roman.RollbackEvent{}
	}
	return WriteJSON(w, http.StatusOK, RollbackHistory{Rollbacks: list})
}

// healthz serves GET /healthz: the process is up.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return WriteJSON(w, http.StatusOK, StatusResponse{Status: "ok"})
}

// readyTimeout bounds the readiness probe so a hung database answers 503
// rather than hanging the load balancer's check.
const readyTimeout = 2 * time.Second

// readyz serves GET /readyz: 200 when the store answers, 503 otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if s.deps.Store != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.deps.Store.Ping(ctx); err != nil {
			s.logger.WarnContext(r.Context(), "readiness check failed", slog.Any("err", err))
			w.Header().Set("Retry-After", "1")
			return WriteJSON(w, http.StatusServiceUnavailable, StatusResponse{Status: "unavailable", Error: "store unreachable"})
		}
	}
	return WriteJSON(w, http.StatusOK, StatusResponse{Status: "ok"})
}

// openAPI serves GET /openapi.json, the embedded document.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPIDocument)
	return err
}
