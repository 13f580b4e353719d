package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/odyssey-1/roman"
)

// codeStatus is the one map from roman error codes to HTTP statuses. The
// client inverts it with codeForStatus so that a CLI sees the same code the
// server's service returned.
var codeStatus = map[string]int{
	roman.EINVALID:      http.StatusBadRequest,
	roman.EUNAUTHORIZED: http.StatusUnauthorized,
	roman.EFORBIDDEN:    http.StatusForbidden,
	roman.ENOTFOUND:     http.StatusNotFound,
	roman.ECONFLICT:     http.StatusConflict,
	roman.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	roman.ETIMEOUT:      http.StatusRequestTimeout,
	roman.EREJECTED:     http.StatusUnprocessableEntity,
	roman.EUNAVAILABLE:  http.StatusServiceUnavailable,
	roman.EINTERNAL:     http.StatusInternalServerError,
}

// ErrorStatus returns the HTTP status for a roman error code; unknown codes
// are internal errors (500).
func ErrorStatus(code string) int {
	if s, ok := codeStatus[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// codeForStatus maps an HTTP status back to a roman error code. 429 becomes
// EUNAVAILABLE because both mean "try again later" to a client.
func codeForStatus(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return roman.EUNAVAILABLE
	case http.StatusMethodNotAllowed:
		return roman.EINVALID
	}
	for code, s := range codeStatus {
		if s == status {
			return code
		}
	}
	return roman.EINTERNAL
}

// ErrorResponse is the JSON body of every error answer. Validation
// is set only for a constitutional rejection (422), in the seed's shape;
// EventID names the rollback event a rejection or conflict is about.
type ErrorResponse struct {
	Success    bool              `json:"success"`
	Error      string            `json:"error"`
	Validation *roman.Validation `json:"validation,omitempty"`
	EventID    string            `json:"event_id,omitempty"`
}

// rejectionMessage is the seed's exact error text for a 422.
const rejectionMessage = "Constitutional validation failed"

// WriteJSON writes v as JSON with the given status. The value is encoded
// before the header is written so that an encoding failure still produces a
// clean 500 instead of a truncated 200.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	// API answers are live state (health, rollbacks in progress); no proxy
	// or browser may serve a stale copy.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// writeError answers err as the JSON error body with the status mapped from
// its code. Internal errors are logged with the request's method and path
// (never its headers or body) and shown only as "internal error".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var tooMany *tooManyFailures
	if errors.As(err, &tooMany) {
		w.Header().Set("Retry-After", strconv.Itoa(tooMany.retryAfter))
		_ = WriteJSON(w, http.StatusTooManyRequests, ErrorResponse{Error: tooMany.Error()})
		return
	}
	var rej *roman.RejectedError
	if errors.As(err, &rej) {
		v := normalizeValidation(rej.Validation)
		_ = WriteJSON(w, http.StatusUnprocessableEntity, ErrorResponse{
			Error: rejectionMessage, Validation: &v, EventID: rej.EventID,
		})
		return
	}
	code := roman.ErrorCode(err)
	status := ErrorStatus(code)
	resp := ErrorResponse{Error: roman.ErrorMessage(err)}
	var e *roman.Error
	if errors.As(err, &e) {
		resp.EventID = e.EventID
	}
	if status == http.StatusInternalServerError {
		s.logger.ErrorContext(r.Context(), "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
		resp = ErrorResponse{Error: "internal error"}
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if status == http.StatusRequestTimeout {
		// The rest of the body may still be on its way: the connection
		// cannot carry another request.
		w.Header().Set("Connection", "close")
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	_ = WriteJSON(w, status, resp)
}

// normalizeValidation turns nil lists into empty ones so the JSON shows the
// seed's `"violations": []` rather than null.
func normalizeValidation(v roman.Validation) roman.Validation {
	if v.Violations == nil {
		v.Violations = []string{}
	}
	if v.Warnings == nil {
		v.Warnings = []string{}
	}
	return v
}

// CodeForStatus maps an HTTP status of roman's API back to the roman error
// code the server's service returned (429 is roman.EUNAVAILABLE: both mean
// "try again later"); the Go client uses it for answers without a code.
func CodeForStatus(status int) string { return codeForStatus(status) }
