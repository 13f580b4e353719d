package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
)

// Error is a failed call: roman's JSON error answer, or a transport failure
// (StatusCode 0, Code roman.EUNAVAILABLE). Its Message is what the server
// said, safe to show to a person.
type Error struct {
	// StatusCode is the HTTP status of the answer; 0 when none arrived.
	StatusCode int
	// Code is roman's error code (roman.EINVALID, roman.ENOTFOUND,
	// roman.ECONFLICT, roman.EREJECTED, ...), from the answer's "code" when
	// the server sends one, else mapped from the status.
	Code string
	// Message is the server's "error" text, or what went wrong on the way.
	Message string
	// Field is the request field the error is about, when the server names
	// one ("field", or the field its message quotes).
	Field string
	// EventID is the rollback event a rejection or a conflict is about.
	EventID string
	// Validation is the constitution's verdict of a rejected rollback (422).
	Validation *roman.Validation
	// Err is the underlying cause of a transport or decoding failure.
	Err error
}

// Error implements error as "roman: <message> (<code>)".
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("roman: %s (%s)", msg, e.Code)
}

// Unwrap exposes the error as the domain errors it stands for: a
// *roman.Error with the same code, message and event, a *roman.RejectedError
// when the answer is a constitutional rejection, and the cause.
func (e *Error) Unwrap() []error {
	out := []error{&roman.Error{Code: e.Code, Message: e.Message, EventID: e.EventID}}
	if e.Validation != nil {
		out = append(out, &roman.RejectedError{EventID: e.EventID, Validation: *e.Validation})
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// errorBody is roman's JSON error answer. Code and Field are read when a
// server sends them; the other fields are api.ErrorResponse's.
type errorBody struct {
	api.ErrorResponse
	Code  string `json:"code"`
	Field string `json:"field"`
}

// fieldRE finds the field roman's validation messages quote: `invalid value
// for field "x": ...`, `missing required field "x"` and `invalid value for
// path parameter "x": ...`.
var fieldRE = regexp.MustCompile(`(?:field|parameter) "([^"]+)"`)

// responseError turns a non-2xx answer into an *Error.
func responseError(status int, data []byte) *Error {
	var b errorBody
	if json.Unmarshal(data, &b) != nil || b.Error == "" {
		b = errorBody{}
		b.Error = fmt.Sprintf("server answered %d %s", status, http.StatusText(status))
	}
	e := &Error{StatusCode: status, Code: b.Code, Message: b.Error, Field: b.Field, EventID: b.EventID}
	if e.Code == "" {
		e.Code = api.CodeForStatus(status)
	}
	if e.Field == "" {
		if m := fieldRE.FindStringSubmatch(b.Error); m != nil {
			e.Field = m[1]
		}
	}
	if status == http.StatusUnprocessableEntity && b.Validation != nil {
		v := *b.Validation
		e.Validation = &v
	}
	return e
}

// transportError describes a failure to reach the server, without the URL,
// which the caller already knows.
func transportError(err error) *Error {
	reason := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		reason = ue.Err.Error()
		if ue.Timeout() {
			reason = "timed out"
		}
	}
	return &Error{Code: roman.EUNAVAILABLE, Message: "cannot reach roman server: " + reason, Err: err}
}
