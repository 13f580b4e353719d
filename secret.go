package roman

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Secret is a configuration value that must never be shown: an API token, a
// webhook URL, a database URL with its password. Every way of printing it
// (fmt with any verb, JSON, YAML, slog) gives "[REDACTED]"; only Value
// returns the real text, so a secret reaches a log only if someone asks for
// it by name. An empty secret prints as "" so that "not configured" stays
// visible.
//
// It lives in the root package, below both config (which decodes and
// composes the configuration) and the plugins that own their settings
// (executor, health, notify), so that all of them can hold secrets.
type Secret string

// Value returns the secret's real text. Call it only where the secret is used
// (an Authorization header, a connection string), never to print it.
func (s Secret) Value() string { return string(s) }

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s != "" }

// shown is what every printing path shows instead of the secret.
func (s Secret) shown() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.shown() }

// GoString implements fmt.GoStringer so that %#v of a struct holding a secret
// shows no secret either.
func (s Secret) GoString() string { return s.shown() }

// Format implements fmt.Formatter. It catches every verb, including ones that
// are not meant for strings (%d, %x), which fmt would otherwise print with the
// raw value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.shown())
		return
	}
	_, _ = f.Write([]byte(s.shown()))
}

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.shown()) }

// MarshalText implements encoding.TextMarshaler, used by encoders and slog
// handlers that prefer text.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.shown(), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }
