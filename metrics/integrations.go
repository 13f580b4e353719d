package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/odyssey-1/roman"
)

// newUnattributed is the counter of events from other tools that mapped to
// no release, by source.
func newUnattributed() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roman_integration_unattributed_total",
		Help: "Events from other tools (Alertmanager, Sentry, OpenTelemetry) received by this process that mapped to no release; each is a warning row in roman_events.",
	}, []string{"source"})
	// Present at 0 from the start, so a rate over it works before the
	// first unattributed event.
	c.WithLabelValues(roman.SourceAlertmanager)
	return c
}

// AddUnattributed counts n events from source that mapped to no release.
func (m *Metrics) AddUnattributed(source string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.unattributed.WithLabelValues(source).Add(float64(n))
}
