package server

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// BenchmarkRollbackNone measures the target "rollback with the none executor
// and no verify window, request to success: p99 < 50 ms": each iteration
// records a bad deployment (untimed) and times POST /auto-rollback through
// the real server until its answer with status success. It reports p50 and
// p99 in milliseconds.
//
//	go test -run '^$' -bench BenchmarkRollbackNone -benchtime 500x ./server/
func BenchmarkRollbackNone(b *testing.B) { benchRollbackNone(b, false) }

// benchRollbackNone times POST /auto-rollback with the none executor on each
// store and reports p50 and p99; with cpu it also reports the CPU of this
// process and of PostgreSQL's per iteration (the bad deployment's record
// then counts in the iteration, otherwise it is untimed).
func benchRollbackNone(b *testing.B, cpu bool) {
	for _, s := range testkit.Stores {
		b.Run(s.Name, func(b *testing.B) {
			m := startServer(b, s.URL(b), map[string]string{"ROMAN_LOG_LEVEL": "error"})
			ctx := context.Background()
			good := &roman.Deployment{DeploymentID: roman.NewUUID(), Environment: "production", Version: "v1", GitCommit: "a7f3b29",
				GitBranch: "main", Status: roman.StatusSuccess, HealthCheckPassed: true, DeployedAt: roman.UTC(time.Now().Add(-time.Hour))}
			if err := m.Store.CreateDeployment(ctx, good); err != nil {
				b.Fatal(err)
			}
			client := &http.Client{Timeout: time.Minute}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			cpu0, db0 := testkit.ProcessCPU(), testkit.ChildrenCPU()
			for i := 0; i < b.N; i++ {
				if !cpu {
					b.StopTimer()
				}
				bad := &roman.Deployment{DeploymentID: roman.NewUUID(), Environment: "production", Version: "v2", GitCommit: "b81c4d0",
					GitBranch: "main", Status: roman.StatusSuccess, DeployedAt: roman.UTC(time.Now())}
				if err := m.Store.CreateDeployment(ctx, bad); err != nil {
					b.Fatal(err)
				}
				body := `{"deployment_id":"` + bad.DeploymentID + `","trigger_reason":"bench"}`
				req, _ := http.NewRequest("POST", m.URL()+"/auto-rollback", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+adminToken)
				if !cpu {
					b.StartTimer()
				}
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
			procCPU, dbCPU := testkit.ProcessCPU()-cpu0, testkit.ChildrenCPU()-db0
			b.StopTimer()
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(q(0.50), "p50_ms")
			b.ReportMetric(q(0.99), "p99_ms")
			if cpu {
				b.ReportMetric(float64(procCPU.Microseconds())/1000/float64(b.N), "cpu-ms/op")
				b.ReportMetric(float64(dbCPU.Microseconds())/1000/float64(b.N), "db-cpu-ms/op")
			}
		})
	}
}
