package health

import (
	"errors"
	"fmt"
	"time"

	"github.com/odyssey-1/roman"
)

// Health source kinds, the values of SourceConfig.Type.
const (
	SourceBuiltin    = "builtin"
	SourcePostgres   = "postgres"
	SourcePrometheus = "prometheus"
	SourceProbe      = "probe"
)

// SourceConfig configures one health source of an environment: an item of
// the health_sources list (ROMAN_HEALTH_SOURCES as "builtin,postgres,
// probe=http://…", which sets each item's type and url).
type SourceConfig struct {
	// Type is builtin, postgres, prometheus or probe.
	Type string `yaml:"type" json:"type"`
	// URL is the Prometheus base URL, the probe's health URL, or the
	// PostgreSQL URL to measure (default: the application database).
	URL roman.Secret `yaml:"url" json:"url"`
	// Queries maps a signal name (error_rate_per_minute, recent_errors,
	// database_connections, database_connection_utilization, active_queries,
	// p95_response_time_ms, memory_usage_percent) to a PromQL query.
	Queries map[string]string `yaml:"queries" json:"queries"`
	// Timeout bounds one pull; 0 means the monitor's default.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
}

// DefaultSources returns the sources of an environment that configures
// none: the built-in source alone.
func DefaultSources() []SourceConfig {
	return []SourceConfig{{Type: SourceBuiltin}}
}

// Validate checks that the source's kind is known and has what it needs.
// It returns all problems at once, joined, each a *roman.FieldError naming
// the source's key (type, url, queries, timeout); no message shows the URL.
func (c SourceConfig) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &roman.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	needsURL := func() {
		if !c.URL.IsSet() {
			add("url", "required by the %s source", c.Type)
		} else if !roman.ValidHTTPURL(c.URL.Value()) {
			add("url", "not an http(s) URL")
		}
	}
	switch c.Type {
	case SourceBuiltin, SourcePostgres:
	case SourcePrometheus:
		needsURL()
		if len(c.Queries) == 0 {
			add("queries", "the prometheus source needs at least one query")
		}
	case SourceProbe:
		needsURL()
	default:
		add("type", "unknown source %q (want builtin, postgres, prometheus or probe)", c.Type)
	}
	if c.Timeout < 0 {
		add("timeout", "must not be negative, got %s", c.Timeout)
	}
	return errors.Join(errs...)
}

// ValidateSources checks an environment's list of sources: at least one,
// each valid. Field names are relative to the list: "" for the list itself,
// "[1].url" for an item's key.
func ValidateSources(sources []SourceConfig) error {
	var errs []error
	if len(sources) == 0 {
		errs = append(errs, &roman.FieldError{Message: "at least one source is needed (e.g. builtin)"})
	}
	for i, s := range sources {
		for _, fe := range roman.FieldErrors(s.Validate()) {
			errs = append(errs, &roman.FieldError{Field: fmt.Sprintf("[%d].%s", i, fe.Field), Message: fe.Message})
		}
	}
	return errors.Join(errs...)
}
