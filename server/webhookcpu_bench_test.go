package server

import (
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/odyssey-1/roman/internal/testkit"
)

// processCPU returns the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measureWebhooks sends b.N prepared requests from clients concurrent
// senders and reports requests/s and the process's CPU time per request
// (cpu-us/req). On a machine shared with other work the rate follows the
// CPU the process is given; the CPU per request does not, so it compares
// versions of the code under any load. It counts everything the process
// does for a request: the senders' side of HTTP, the server's handling and
// storing, and the monitor's re-evaluations the requests cause.
func measureWebhooks(b *testing.B, clients int, send func(i int) int) {
	b.Helper()
	runtime.GC()
	b.ResetTimer()
	cpu0, start := processCPU(b), time.Now()
	err := concurrently(clients, b.N, func(i int) error {
		if code := send(i); code != 200 {
			return fmt.Errorf("request %d: HTTP %d", i, code)
		}
		return nil
	})
	elapsed, cpu := time.Since(start), processCPU(b)-cpu0
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "requests/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/req")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkWebhookCPU measures the process's CPU time per webhook request
// alongside the rate, for the integrations' throughput paths:
// "alertmanager-new" is BenchmarkAlertmanagerThroughput's "new" mode
// (amClients senders, each message one alert not seen before, attributed
// by version), "sentry" is BenchmarkSentryWebhook (32 senders, signed
// error.created webhooks, each with its own event id). Run with
// -benchtime=3000x.
func BenchmarkWebhookCPU(b *testing.B) {
	for _, s := range testkit.Stores {
		b.Run(s.Name, func(b *testing.B) {
			b.Run("alertmanager-new", func(b *testing.B) {
				m := startServer(b, s.URL(b), amTriggers)
				deployCheckout(b, m, "production")
				startsAt := time.Now().Add(time.Millisecond)
				bodies := make([][]byte, b.N)
				for i := range bodies {
					bodies[i] = amBody(b, "production", "QueueBacklog", fmt.Sprintf("c%015x", amSeq.Add(1)), startsAt)
				}
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: amClients}}
				measureWebhooks(b, amClients, func(i int) int { return postAMBytes(client, m.URL(), bodies[i]) })
			})
			b.Run("sentry", func(b *testing.B) {
				m := startServer(b, s.URL(b), monitorSettings, sentrySettings,
					map[string]string{"ROMAN_ERROR_RATE_THRESHOLD": "1000000000", "ROMAN_RECENT_ERRORS_THRESHOLD": "1000000000"})
				recordRelease(b, m, "front-end", "production", "1.4.2", "c2", time.Hour, false)
				at := time.Now().UTC().Add(-time.Minute)
				bodies := make([][]byte, b.N)
				headers := make([]map[string]string, b.N)
				for i := range bodies {
					bodies[i] = sentryErrorBody(i, at)
					headers[i] = map[string]string{"Sentry-Hook-Resource": "error", "Sentry-Hook-Signature": signed(bodies[i]),
						"Sentry-Hook-Timestamp": strconv.FormatInt(at.Unix(), 10)}
				}
				url := m.URL() + "/integrations/sentry"
				measureWebhooks(b, 32, func(i int) int { return postAs(url, "", "application/json", headers[i], bodies[i]) })
				if n := sqlCount(b, m, "SELECT count(*) FROM error_events"); n != b.N {
					b.Fatalf("stored %d events, want %d", n, b.N)
				}
			})
		})
	}
}
