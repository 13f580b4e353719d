package metrics

import "github.com/prometheus/client_golang/prometheus"

// newUnattributed returns the counter of integration items that could not
// be attributed to a release.
func newUnattributed() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roman_integration_unattributed_total",
		Help: "Items received from another tool (Alertmanager, Sentry, OpenTelemetry logs and traces) that could not be attributed to a release, by source; each is also named in a roman_events row (integration_unattributed for Alertmanager, integration_events for the others).",
	}, []string{"source"})
	// Every source shows from the start, at 0.
	for _, source := range []string{"alertmanager", "sentry", "otlp_logs", "otlp_traces"} {
		c.WithLabelValues(source)
	}
	return c
}

// AddUnattributed counts n items of a source (alertmanager, sentry,
// otlp_logs, otlp_traces) that could not be attributed to a release.
func (m *Metrics) AddUnattributed(source string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.unattributed.WithLabelValues(source).Add(float64(n))
}
