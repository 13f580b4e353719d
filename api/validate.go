package api

import "net/http"

// validateRollback serves POST /auto-rollback/validate: the
// constitution's verdict for a would-be rollback, as a dry run. The body is
// POST /auto-rollback's (with_migrations is accepted and does not change the
// verdict). The answer is 200 with the verdict whether or not it is
// compliant, because the request itself succeeded; nothing is written: no
// rollback event, no roman_events row, no deployment change. Asking what an
// override would give needs the admin role, as the override itself does.
func (s *Server) validateRollback(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeRollbackRequest(r)
	if err != nil {
		return err
	}
	v, err := s.deps.Rollbacks.Validate(r.Context(), req)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, normalizeValidation(v))
}
