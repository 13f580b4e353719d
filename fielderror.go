package roman

import (
	"errors"
	"net/url"
)

// FieldError is a problem with one configuration field, named by its YAML
// key. The plugins' Validate methods return these (joined with errors.Join)
// so that the config package, which knows where a setting came from, can
// prefix the key with its environment and name the variable that sets it.
// A Message never contains a secret's value.
type FieldError struct {
	// Field is the YAML key, or a path below one such as "[0].url" or
	// "alert_routes.slack"; empty means the value being validated as a whole.
	Field string
	// Message says what is wrong, e.g. "required by the command executor".
	Message string
}

// Error implements the error interface as "field: message".
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// FieldErrors returns the field errors err holds: err itself, or the errors
// joined in it (at any depth), in order. An error that is not a *FieldError
// becomes one with an empty Field, so no problem is lost.
func FieldErrors(err error) []*FieldError {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*FieldError
		for _, e := range j.Unwrap() {
			out = append(out, FieldErrors(e)...)
		}
		return out
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return []*FieldError{fe}
	}
	return []*FieldError{{Message: err.Error()}}
}

// ValidHTTPURL reports whether s is an absolute http or https URL with a
// host, as every webhook and API base URL of the configuration must be.
func ValidHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
