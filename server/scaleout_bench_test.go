package server

import (
	"testing"

	"github.com/odyssey-1/roman/internal/testpg"
)

// BenchmarkDetectionAcrossReplicas measures detection latency with two
// replicas on one PostgreSQL when the error goes to the
// replica that does not lead: from sending the HTTP request that carries
// the error crossing the trigger to the follower to the leader recording the
// automatic rollback (the rollback's first change on the leader's hub). The
// path: the follower stores the batch, the error_events trigger notifies,
// the leader's relay wakes its monitor. Reports p50-ms and p99-ms. Run with
// -benchtime=200x.
func BenchmarkDetectionAcrossReplicas(b *testing.B) {
	url := testpg.URL(b)
	leader := startServer(b, url, monitorSettings)
	follower := startServer(b, url, monitorSettings)
	if leaderGauge(b, leader.URL()) != "1" || leaderGauge(b, follower.URL()) != "0" {
		b.Fatal("the first replica does not lead")
	}
	measureDetection(b, follower, leader, deployPair)
}
