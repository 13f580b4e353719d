package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testpg"
)

// BenchmarkDetectionAcrossReplicas measures detection latency with two
// replicas on one PostgreSQL (SPEC §15, §16) when the error goes to the
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
	ch, cancel := leader.Hub.Subscribe(1 << 12)
	defer cancel()
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		env := fmt.Sprintf("bench-%d", i)
		id := deployPair(b, follower, env)
		if code := post(follower.URL()+"/errors", deployToken, []byte(errorBatch(env, 5, ago(time.Second)))); code != 200 {
			b.Fatalf("ingest: %d", code)
		}
		body := []byte(`{"deployment_id":"` + id + `","message":"the sixth"}`)
		drain(ch)
		b.StartTimer()
		start := time.Now()
		if code := post(follower.URL()+"/errors", deployToken, body); code != 200 {
			b.Fatalf("ingest: %d", code)
		}
		for c := range ch {
			if c.Kind == roman.ChangeRollback && c.DeploymentID == id {
				break
			}
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		deadline := time.Now().Add(10 * time.Second)
		for {
			evs, _ := leader.Store.ListRollbackEvents(context.Background(), roman.RollbackFilter{Environment: env})
			if len(evs) == 1 && evs[0].Finished() || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportMetric(percentile(lat, 0.5), "p50-ms")
	b.ReportMetric(percentile(lat, 0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
