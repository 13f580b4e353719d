package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// benchEachStore runs a benchmark against a fresh in-process server on
// each store.
func benchEachStore(b *testing.B, fn func(b *testing.B, m *Server)) {
	for _, s := range testkit.Stores {
		b.Run(s.Name, func(b *testing.B) { fn(b, startServer(b, s.URL(b), monitorSettings)) })
	}
}

func post(url, token string, body []byte) int {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1 // reported by the caller as an unexpected status
	}
	var buf [512]byte
	for {
		if _, err := resp.Body.Read(buf[:]); err != nil {
			break
		}
	}
	resp.Body.Close()
	return resp.StatusCode
}

func percentile(ds []time.Duration, p float64) float64 {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	i := int(float64(len(ds)-1) * p)
	return float64(ds[i].Microseconds()) / 1000
}

// BenchmarkDetectionLatency measures detection latency: from
// sending the HTTP request that carries the error crossing the trigger to
// the automatic rollback being recorded (the rollback's first change on the
// hub, after its event row and validation step are stored: an upper bound).
// Each iteration uses its own environment with a healthy and a new
// deployment. Reports p50-ms and p99-ms. Run with -benchtime=200x.
func BenchmarkDetectionLatency(b *testing.B) {
	benchEachStore(b, func(b *testing.B, m *Server) { measureDetection(b, m, m, deployPair) })
}

// measureDetection times, b.N times in fresh environments, the sixth error
// of a minute posted to ingester until decider records the automatic
// rollback on its hub, and reports p50-ms and p99-ms. With one replica both
// are the same server.
func measureDetection(b *testing.B, ingester, decider *Server, deploy func(testing.TB, *Server, string) string) {
	ch, cancel := decider.Hub.Subscribe(1 << 12)
	defer cancel()
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		env := fmt.Sprintf("bench-%d", i)
		id := deploy(b, ingester, env)
		// Five errors: at the trigger, not over it.
		if code := post(ingester.URL()+"/errors", deployToken, []byte(errorBatch(env, 5, ago(time.Second)))); code != 200 {
			b.Fatalf("ingest: %d", code)
		}
		body := []byte(`{"deployment_id":"` + id + `","message":"the sixth"}`)
		lat = append(lat, timeToRollback(b, ch, decider, env, id, "ingest", func() int {
			return post(ingester.URL()+"/errors", deployToken, body)
		}))
	}
	reportLatencies(b, lat)
}

// timeToRollback runs send (which must answer 200) with the benchmark's
// timer on and times it until decider's hub, which ch subscribes to, shows
// the automatic rollback of deployment id; then, timer off, it waits for
// that rollback in env to finish so the next iteration starts quiet.
func timeToRollback(b *testing.B, ch <-chan roman.Change, decider *Server, env, id, what string, send func() int) time.Duration {
	drain(ch)
	b.StartTimer()
	start := time.Now()
	if code := send(); code != 200 {
		b.Fatalf("%s: %d", what, code)
	}
	for c := range ch {
		if c.Kind == roman.ChangeRollback && c.DeploymentID == id {
			break
		}
	}
	d := time.Since(start)
	b.StopTimer()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, _ := decider.Store.ListRollbackEvents(context.Background(), roman.RollbackFilter{Environment: env})
		if len(evs) == 1 && evs[0].Finished() || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return d
}

// reportLatencies reports p50-ms and p99-ms of lat, and no ns/op.
func reportLatencies(b *testing.B, lat []time.Duration) {
	b.ReportMetric(percentile(lat, 0.5), "p50-ms")
	b.ReportMetric(percentile(lat, 0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

func drain(ch <-chan roman.Change) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
