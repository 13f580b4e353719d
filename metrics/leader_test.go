package metrics_test

import (
	"testing"

	"github.com/odyssey-1/roman/metrics"
)

// TestMonitorLeaderGauge checks roman_monitor_leader follows
// SetMonitorLeader (0 until this replica leads).
func TestMonitorLeaderGauge(t *testing.T) {
	m := metrics.New(metrics.Config{})
	for _, tc := range []struct {
		set  *bool
		want float64
	}{
		{nil, 0},
		{ptr(true), 1},
		{ptr(false), 0},
	} {
		if tc.set != nil {
			m.SetMonitorLeader(*tc.set)
		}
		if v, ok := value(t, scrape(t, m.Handler()), "roman_monitor_leader", nil); !ok || v != tc.want {
			t.Fatalf("after %v: %v %v, want %v", tc.set, v, ok, tc.want)
		}
	}
	var nilMetrics *metrics.Metrics
	nilMetrics.SetMonitorLeader(true) // a nil *Metrics ignores it
}

func ptr(b bool) *bool { return &b }
