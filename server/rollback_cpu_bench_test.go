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

// BenchmarkRollbackNoneCPU is BenchmarkRollbackNone with the CPU time each
// rollback costs: cpu-ms/op is this process's (the server, in-process,
// and the client), db-cpu-ms/op PostgreSQL's processes (zero on SQLite),
// both per iteration, which also records the bad deployment (one store
// write). On a shared machine the latencies move with the load; the CPU
// per rollback does much less, so it shows what a change to the rollback's
// path saves.
//
//	go test -run '^$' -bench BenchmarkRollbackNoneCPU -benchtime 100x ./server/
func BenchmarkRollbackNoneCPU(b *testing.B) {
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
				bad := &roman.Deployment{DeploymentID: roman.NewUUID(), Environment: "production", Version: "v2", GitCommit: "b81c4d0",
					GitBranch: "main", Status: roman.StatusSuccess, DeployedAt: roman.UTC(time.Now())}
				if err := m.Store.CreateDeployment(ctx, bad); err != nil {
					b.Fatal(err)
				}
				body := `{"deployment_id":"` + bad.DeploymentID + `","trigger_reason":"bench"}`
				req, _ := http.NewRequest("POST", m.URL()+"/auto-rollback", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+adminToken)
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
			cpu, dbCPU := testkit.ProcessCPU()-cpu0, testkit.ChildrenCPU()-db0
			b.StopTimer()
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(q(0.50), "p50_ms")
			b.ReportMetric(q(0.99), "p99_ms")
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(dbCPU.Microseconds())/1000/float64(b.N), "db-cpu-ms/op")
		})
	}
}
