package server

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odyssey-1/roman/internal/testkit"
)

// amBody is a webhook message of one alert of checkout-api 1.4.2 in env,
// named name, with the given fingerprint, started at startsAt.
func amBody(t testing.TB, env, name, fingerprint string, startsAt time.Time) []byte {
	return []byte(amPayload(t, amFiringFile, func(p map[string]any) {
		a := amAlert(p, 0)
		a["startsAt"] = startsAt.UTC().Format(time.RFC3339Nano)
		a["fingerprint"] = fingerprint
		labels := a["labels"].(map[string]any)
		labels["environment"], labels["alertname"] = env, name
	}))
}

// postAMBytes posts a webhook message as Alertmanager does and returns the
// status.
func postAMBytes(client *http.Client, base string, body []byte) int {
	req, _ := http.NewRequest("POST", base+"/integrations/alertmanager", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+deployToken)
	resp, err := client.Do(req)
	if err != nil {
		return -1
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

// BenchmarkAlertmanagerDetectionLatency measures detection latency from an
// Alertmanager webhook: from sending the notification of a firing trigger
// alert (named in alert_triggers, started after the release) to the
// automatic rollback being recorded (the rollback's first change on the
// hub), like BenchmarkDetectionLatency for an error batch. Each iteration
// uses its own environment. Reports p50-ms and p99-ms. Run with
// -benchtime=200x.
func BenchmarkAlertmanagerDetectionLatency(b *testing.B) {
	for _, s := range testkit.Stores {
		b.Run(s.Name, func(b *testing.B) {
			m := startServer(b, s.URL(b), amTriggers)
			ch, cancel := m.Hub.Subscribe(1 << 12)
			defer cancel()
			var lat []time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				env := fmt.Sprintf("bench-%d", i)
				id := deployCheckout(b, m, env)
				body := amBody(b, env, "HighErrorRate", fmt.Sprintf("%016x", i), time.Now().Add(time.Millisecond))
				lat = append(lat, timeToRollback(b, ch, m, env, id, "webhook", func() int {
					return postAMBytes(http.DefaultClient, m.URL(), body)
				}))
			}
			reportLatencies(b, lat)
		})
	}
}

// amClients is how many concurrent Alertmanager senders the throughput
// benchmark runs: as many as the server admits ingest requests at once on
// two cores, so no request is turned away with 429.
const amClients = 4

// amSeq numbers the throughput benchmark's new alerts.
var amSeq atomic.Int64

// BenchmarkAlertmanagerThroughput measures webhook requests per second
// through the whole server (HTTP, auth, decoding, attribution, the
// deduplicating write with its audit row, the hub notification and the
// monitor's re-evaluation it causes), amClients senders at once, each
// request one alert group of one alert attributed by version to a watched
// release. "new": every request carries an alert not seen before (a row and
// an integration_alert row written); "resent": the same group again (a
// duplicate, nothing written), as Alertmanager re-sends on retries and
// group_interval. "errors-reference" posts one error event per POST
// /errors at the same concurrency: the built-in ingest path, for
// comparison on the same machine and load. Reports req/s.
func BenchmarkAlertmanagerThroughput(b *testing.B) {
	for _, s := range testkit.Stores {
		b.Run(s.Name, func(b *testing.B) {
			m := startServer(b, s.URL(b), amTriggers)
			deployCheckout(b, m, "production")
			startsAt := time.Now().Add(time.Millisecond)
			resent := amBody(b, "production", "QueueBacklog", "00000000000000ff", startsAt)
			if code := postAMBytes(http.DefaultClient, m.URL(), resent); code != 200 {
				b.Fatalf("first: %d", code)
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: amClients}}
			for _, mode := range []string{"new", "resent", "errors-reference"} {
				b.Run(mode, func(b *testing.B) {
					bodies := make([][]byte, b.N)
					for i := range bodies {
						switch mode {
						case "errors-reference":
							// The built-in path at the same concurrency: one
							// error event per POST /errors.
							bodies[i] = []byte(`{"service":"checkout-api","environment":"production","message":"TypeError: cart is undefined"}`)
						case "new":
							// Unique across the benchmark's runs of growing b.N.
							bodies[i] = amBody(b, "production", "QueueBacklog", fmt.Sprintf("%016x", amSeq.Add(1)), startsAt)
						default:
							bodies[i] = resent
						}
					}
					var next atomic.Int64
					var bad atomic.Int64
					var wg sync.WaitGroup
					b.ResetTimer()
					start := time.Now()
					for c := 0; c < amClients; c++ {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for {
								i := next.Add(1) - 1
								if i >= int64(b.N) {
									return
								}
								code := 0
								if mode == "errors-reference" {
									code = post(m.URL()+"/errors", deployToken, bodies[i])
								} else {
									code = postAMBytes(client, m.URL(), bodies[i])
								}
								if code != 200 {
									bad.Add(1)
								}
							}
						}()
					}
					wg.Wait()
					el := time.Since(start)
					b.StopTimer()
					if bad.Load() > 0 {
						b.Fatalf("%d requests not answered 200", bad.Load())
					}
					b.ReportMetric(float64(b.N)/el.Seconds(), "req/s")
				})
			}
			var n int
			_ = m.Store.SQL().QueryRow(`SELECT count(*) FROM integration_alerts`).Scan(&n)
			if n < 1 {
				b.Fatalf("no alerts stored")
			}
		})
	}
}
