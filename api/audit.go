package api

import (
	"net/http"
	"regexp"

	"github.com/odyssey-1/roman"
)

// Limits of GET /events.
const defaultEventLimit = 100

var eventTypeRE = regexp.MustCompile(`^[a-z0-9_.-]{1,64}$`)

// explainDeployment serves GET /deployments/{deployment_id}/explain: the
// release's decision timeline, oldest first, and its verdict.
func (s *Server) explainDeployment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "deployment_id")
	if err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	if s.deps.Audit == nil {
		return errNotConfigured("the audit trail")
	}
	ex, err := s.deps.Audit.Explain(r.Context(), id)
	if err != nil {
		return err
	}
	if ex.Timeline == nil {
		ex.Timeline = []*roman.ExplainEntry{}
	}
	return WriteJSON(w, http.StatusOK, ex)
}

// listEvents serves GET /events?type=&severity=&deployment_id=&environment=
// &service=&since=&limit=: the audit trail (roman_events), newest first.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "type", "severity", "deployment_id", "environment", "service", "since", "limit")
	if err != nil {
		return err
	}
	f := roman.RomanEventFilter{EventType: q.Get("type"), Severity: q.Get("severity"), DeploymentID: q.Get("deployment_id"),
		Environment: q.Get("environment"), Service: q.Get("service")}
	if f.EventType != "" && !eventTypeRE.MatchString(f.EventType) {
		return roman.Errorf(roman.EINVALID, "invalid value for query parameter \"type\": must match [a-z0-9_.-]{1,64}")
	}
	switch f.Severity {
	case "", roman.SeverityInfo, roman.SeverityWarning, roman.SeverityError, roman.SeverityCritical:
	default:
		return roman.Errorf(roman.EINVALID, "invalid value for query parameter \"severity\": must be one of info, warning, error, critical")
	}
	if err := queryScope(f.Service, f.Environment, f.DeploymentID); err != nil {
		return err
	}
	if f.Since, err = querySince(q); err != nil {
		return err
	}
	if f.Limit, err = queryLimit(q, defaultEventLimit, maxListLimit); err != nil {
		return err
	}
	if s.deps.Audit == nil {
		return errNotConfigured("the audit trail")
	}
	list, err := s.deps.Audit.Events(r.Context(), f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []*roman.RomanEvent{}
	}
	return WriteJSON(w, http.StatusOK, EventList{Events: list})
}
