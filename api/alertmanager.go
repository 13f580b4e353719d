package api

import (
	"context"
	"fmt"
	"mime"
	"net/http"

	"github.com/odyssey-1/roman/alertmanager"
)

// AlertmanagerReceiver records Alertmanager webhook messages
// (*alertmanager.Service implements it).
type AlertmanagerReceiver interface {
	Receive(ctx context.Context, m *alertmanager.Message) (*alertmanager.Result, error)
}

// postAlertmanager serves POST /integrations/alertmanager: one Alertmanager
// webhook message (version 4), authenticated by a deploy key that
// Alertmanager sends through http_config.authorization. A message that is
// not one is answered 4xx naming the problem, with nothing written; an
// alert that maps to no release is a warning in the answer, never an
// error.
func (s *Server) postAlertmanager(w http.ResponseWriter, r *http.Request) error {
	if s.deps.Alertmanager == nil {
		return errNotConfigured("the Alertmanager integration")
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	if ct := r.Header.Get("Content-Type"); !isJSONMediaType(ct) {
		msg := "Content-Type: missing; want application/json"
		if ct != "" {
			msg = fmt.Sprintf("Content-Type: %q is not supported; want application/json", clipHeader(ct))
		}
		return WriteJSON(w, http.StatusUnsupportedMediaType, ErrorResponse{Error: msg})
	}
	body, err := ReadBody(r)
	if err != nil {
		return err
	}
	// A full server answers 503, not ingest's 429: Alertmanager retries a
	// 5xx with backoff but drops a 4xx until the group's next flush
	// (group_interval, 5 minutes by default).
	select {
	case s.ingestSlots <- struct{}{}:
		defer func() { <-s.ingestSlots }()
	default:
		w.Header().Set("Retry-After", "1")
		return WriteJSON(w, http.StatusServiceUnavailable, ErrorResponse{
			Error: fmt.Sprintf("too many ingest requests in flight (limit %d): retry after 1 second", s.cfg.MaxIngestInflight)})
	}
	m, err := alertmanager.Decode(body)
	if err != nil {
		return err
	}
	res, err := s.deps.Alertmanager.Receive(r.Context(), m)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, res)
}

// isJSONMediaType reports whether a Content-Type is application/json (any
// parameters, such as a charset, allowed).
func isJSONMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

func clipHeader(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
