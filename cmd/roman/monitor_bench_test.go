package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testpg"
)

// benchEachStore runs a benchmark against a fresh in-process server on
// each store.
func benchEachStore(b *testing.B, fn func(b *testing.B, m *Main)) {
	b.Run("sqlite", func(b *testing.B) {
		fn(b, startServer(b, "sqlite://"+filepath.Join(b.TempDir(), "roman.db"), monitorSettings))
	})
	b.Run("postgres", func(b *testing.B) { fn(b, startServer(b, testpg.URL(b), monitorSettings)) })
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

// BenchmarkDetectionLatency measures SPEC §16's detection latency: from
// sending the HTTP request that carries the error crossing the trigger to
// the automatic rollback being recorded (the rollback's first change on the
// hub, after its event row and validation step are stored: an upper bound).
// Each iteration uses its own environment with a healthy and a new
// deployment. Reports p50-ms and p99-ms. Run with -benchtime=200x.
func BenchmarkDetectionLatency(b *testing.B) {
	benchEachStore(b, func(b *testing.B, m *Main) {
		ch, cancel := m.Hub.Subscribe(1 << 12)
		defer cancel()
		var lat []time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			env := fmt.Sprintf("bench-%d", i)
			id := deployPairB(b, m, env)
			// Five errors: at the trigger, not over it.
			if code := post(m.URL()+"/errors", deployToken, []byte(errorBatch(env, 5, ago(time.Second)))); code != 200 {
				b.Fatalf("ingest: %d", code)
			}
			body := []byte(`{"deployment_id":"` + id + `","message":"the sixth"}`)
			drain(ch)
			b.StartTimer()
			start := time.Now()
			if code := post(m.URL()+"/errors", deployToken, body); code != 200 {
				b.Fatalf("ingest: %d", code)
			}
			for c := range ch {
				if c.Kind == roman.ChangeRollback && c.DeploymentID == id {
					break
				}
			}
			lat = append(lat, time.Since(start))
			b.StopTimer()
			// Let the rollback finish before the next iteration.
			deadline := time.Now().Add(10 * time.Second)
			for {
				evs, _ := m.Store.ListRollbackEvents(context.Background(), roman.RollbackFilter{Environment: env})
				if len(evs) == 1 && evs[0].Finished() || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
		b.ReportMetric(percentile(lat, 0.5), "p50-ms")
		b.ReportMetric(percentile(lat, 0.99), "p99-ms")
		b.ReportMetric(0, "ns/op")
	})
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

func deployPairB(b *testing.B, m *Main, env string) string { return deployPair(b, m, env) }

// ingestBody is a POST /errors batch of n events of one deployment.
func ingestBody(id string, n int, at time.Time) []byte {
	var sb strings.Builder
	sb.WriteString(`{"events":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"deployment_id":%q,"occurred_at":%q,"message":"TypeError: cart.items is undefined","severity":"error","fingerprint":"f%d"}`,
			id, at.Add(time.Duration(i)*time.Microsecond).Format(time.RFC3339Nano), i%50)
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

// peakRSSMB is the process's peak resident set (VmHWM), in MB: the server
// runs in-process, so this is the server plus the benchmark's client.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkIngestThroughput measures error ingest through HTTP in batches
// of 10,000 from 4 concurrent clients (events stored durably before each
// answer), then the ceiling: the same rows inserted by the same store and
// driver directly (Store.InsertErrorEvents: multi-row INSERTs on SQLite,
// COPY on PostgreSQL). Reports http-events/s, raw-events/s, their ratio and
// the peak RSS. Run with -benchtime=20x.
func BenchmarkIngestThroughput(b *testing.B) {
	const batch, clients = 10000, 4
	benchEachStore(b, func(b *testing.B, m *Main) {
		id := deployPairB(b, m, "production")
		now := time.Now().UTC().Add(-time.Hour)
		bodies := make([][]byte, clients)
		for i := range bodies {
			bodies[i] = ingestBody(id, batch, now)
		}
		b.ResetTimer()
		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(b.N) {
					if code := post(m.URL()+"/errors", deployToken, bodies[c]); code != 200 {
						b.Errorf("ingest: %d", code)
						return
					}
				}
			}()
		}
		wg.Wait()
		httpRate := float64(b.N*batch) / time.Since(start).Seconds()
		b.StopTimer()
		rows := make([]roman.ErrorEvent, batch)
		for i := range rows {
			rows[i] = roman.ErrorEvent{DeploymentID: id, Environment: "production", OccurredAt: now.Add(time.Duration(i) * time.Microsecond),
				Message: "TypeError: cart.items is undefined", Severity: "error", Fingerprint: "f" + strconv.Itoa(i%50)}
		}
		start = time.Now()
		for i := 0; i < b.N; i++ {
			if err := m.Store.InsertErrorEvents(context.Background(), rows); err != nil {
				b.Fatal(err)
			}
		}
		rawRate := float64(b.N*batch) / time.Since(start).Seconds()
		b.ReportMetric(httpRate, "http-events/s")
		b.ReportMetric(rawRate, "raw-events/s")
		b.ReportMetric(httpRate/rawRate, "ratio")
		b.ReportMetric(peakRSSMB(), "peak-rss-MB")
		b.ReportMetric(0, "ns/op")
	})
}

// BenchmarkIngestFlood sends 10,000-event batches from 64 concurrent
// clients, far more than the server admits (max(4, 2×GOMAXPROCS) in flight):
// the excess is answered 429 with Retry-After at once, so memory stays
// bounded. Reports accepted events/s, the share of requests refused and the
// peak RSS. Run with -benchtime=200x.
func BenchmarkIngestFlood(b *testing.B) {
	const batch, clients = 10000, 64
	benchEachStore(b, func(b *testing.B, m *Main) {
		id := deployPairB(b, m, "production")
		body := ingestBody(id, batch, time.Now().UTC().Add(-time.Hour))
		var ok, refused atomic.Int64
		var next atomic.Int64
		b.ResetTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(b.N) {
					switch code := post(m.URL()+"/errors", deployToken, body); code {
					case 200:
						ok.Add(1)
					case 429, 503:
						refused.Add(1)
					default:
						b.Errorf("flood: %d", code)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(ok.Load()*batch)/time.Since(start).Seconds(), "accepted-events/s")
		b.ReportMetric(float64(refused.Load())/float64(b.N), "refused-share")
		b.ReportMetric(peakRSSMB(), "peak-rss-MB")
		b.ReportMetric(0, "ns/op")
	})
}
