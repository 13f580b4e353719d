package roman

import (
	"errors"
	"fmt"
)

// Error codes. The api package maps each to one HTTP status.
const (
	EINVALID      = "invalid"      // malformed or invalid input (400)
	EUNAUTHORIZED = "unauthorized" // missing or invalid credentials (401)
	EFORBIDDEN    = "forbidden"    // role too low (403)
	ENOTFOUND     = "not_found"    // unknown id (404)
	ECONFLICT     = "conflict"     // state conflict (409)
	ETOOLARGE     = "too_large"    // body over the limit (413)
	ETIMEOUT      = "timeout"      // body not received in time (408)
	EREJECTED     = "rejected"     // constitutional rejection, or a cap reached (422)
	EUNAVAILABLE  = "unavailable"  // overloaded or not ready (503)
	EINTERNAL     = "internal"     // anything else; never shown to clients (500)
)

// Error is roman's application error. Its Message is safe to show to a
// client; internal errors are wrapped without a Message and are logged only.
type Error struct {
	Code    string
	Message string
	// EventID names the rollback event a conflict is about, when there is one.
	EventID string
	// Err is the underlying cause, for logs only.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	switch {
	case e.Message != "" && e.Err != nil:
		return fmt.Sprintf("roman error: code=%s message=%s: %v", e.Code, e.Message, e.Err)
	case e.Message != "":
		return fmt.Sprintf("roman error: code=%s message=%s", e.Code, e.Message)
	default:
		return fmt.Sprintf("roman error: code=%s: %v", e.Code, e.Err)
	}
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err. Internal errors give
// "internal error" so their text never leaves the server.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "internal error"
}
