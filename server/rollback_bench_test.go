package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/internal/testpg"
)

// BenchmarkRollbackNone measures SPEC §16's "rollback with the none executor
// and no verify window, request to success: p99 < 50 ms": each iteration
// records a bad deployment (untimed) and times POST /auto-rollback through
// the real server until its answer with status success. It reports p50 and
// p99 in milliseconds.
//
//	go test -run '^$' -bench BenchmarkRollbackNone -benchtime 500x ./server/
func BenchmarkRollbackNone(b *testing.B) {
	for _, tc := range []struct {
		name string
		url  func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string { return "sqlite://" + filepath.Join(b.TempDir(), "roman.db") }},
		{"postgres", func(b *testing.B) string { return testpg.URL(b) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			env := map[string]string{"ROMAN_DATABASE": tc.url(b), "ROMAN_LISTEN": "127.0.0.1:0",
				"ROMAN_API_KEYS": "admin:" + adminToken, "ROMAN_VERIFY_WINDOW": "0s", "ROMAN_LOG_LEVEL": "error"}
			cfg, err := config.Load("", func(k string) string { return env[k] })
			if err != nil {
				b.Fatal(err)
			}
			m := &Server{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Stdout: io.Discard}
			if err := m.Open(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			ctx := context.Background()
			good := &roman.Deployment{DeploymentID: roman.NewUUID(), Environment: "production", Version: "v1", GitCommit: "a7f3b29",
				GitBranch: "main", Status: roman.StatusSuccess, HealthCheckPassed: true, DeployedAt: roman.UTC(time.Now().Add(-time.Hour))}
			if err := m.Store.CreateDeployment(ctx, good); err != nil {
				b.Fatal(err)
			}
			client := &http.Client{Timeout: time.Minute}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				bad := &roman.Deployment{DeploymentID: roman.NewUUID(), Environment: "production", Version: "v2", GitCommit: "b81c4d0",
					GitBranch: "main", Status: roman.StatusSuccess, DeployedAt: roman.UTC(time.Now())}
				if err := m.Store.CreateDeployment(ctx, bad); err != nil {
					b.Fatal(err)
				}
				body := `{"deployment_id":"` + bad.DeploymentID + `","trigger_reason":"bench"}`
				req, _ := http.NewRequest("POST", m.URL()+"/auto-rollback", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+adminToken)
				b.StartTimer()
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(start))
				if resp.StatusCode != 200 || !strings.Contains(string(raw), `"status":"success"`) {
					b.Fatalf("rollback %d: %d %s", i, resp.StatusCode, raw)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(q(0.50), "p50_ms")
			b.ReportMetric(q(0.99), "p99_ms")
		})
	}
}
