package api

import (
	"net/http"

	"github.com/odyssey-1/roman"
)

// defaultErrorGroupLimit is how many fingerprints GET
// /deployments/{id}/errors lists unless asked for another number.
const defaultErrorGroupLimit = 100

// ErrorGroupList is the body of GET /deployments/{deployment_id}/errors.
type ErrorGroupList struct {
	DeploymentID string             `json:"deployment_id"`
	Errors       []roman.ErrorGroup `json:"errors"`
}

// deploymentErrors serves GET /deployments/{deployment_id}/errors?limit=&new=:
// the release's errors grouped by fingerprint, new ones (no earlier release
// of its service and environment had them) first, then by count.
func (s *Server) deploymentErrors(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "deployment_id")
	if err != nil {
		return err
	}
	q, err := queryParams(r, "limit", "new")
	if err != nil {
		return err
	}
	f := roman.ErrorGroupFilter{}
	if f.Limit, err = queryLimit(q, defaultErrorGroupLimit, maxListLimit); err != nil {
		return err
	}
	switch q.Get("new") {
	case "", "false":
	case "true":
		f.NewOnly = true
	default:
		return roman.Errorf(roman.EINVALID, "invalid value for query parameter \"new\": must be true or false")
	}
	if s.deps.NewErrors == nil {
		return errNotConfigured("error grouping")
	}
	groups, err := s.deps.NewErrors.DeploymentErrors(r.Context(), id, f)
	if err != nil {
		return err
	}
	if groups == nil {
		groups = []roman.ErrorGroup{}
	}
	return WriteJSON(w, http.StatusOK, ErrorGroupList{DeploymentID: id, Errors: groups})
}
