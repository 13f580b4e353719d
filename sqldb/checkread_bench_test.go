package sqldb

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// BenchmarkReadCheck compares the two ways of reading one
// /auto-rollback/check from the store, one check at a time: one-read is
// ReadCheck (one statement on PostgreSQL, on the check pool), separate-reads
// the reads the check made before it (GetDeployment, CountErrors,
// LatestMetrics, NewErrorsBatch, whether an alert fires, the newest
// suppression rows, the newest judgement rows), and on PostgreSQL
// one-read-custom-plans the one statement on the general pool, where
// PostgreSQL plans it at every execution. The data is that of
// BenchmarkCheckAt1000RPS (server) with typical errors: five deployments,
// each with 20 errors in its window, 10,000 older ones and 400 metric
// samples, plus 200 roman_events rows each (a quarter of them shadow
// judgements) among 3,000 of other deployments. cpu-ms/op is this process,
// db-cpu-ms/op PostgreSQL's processes.
//
//	go test -run '^$' -bench BenchmarkReadCheck -benchtime 3000x ./sqldb/
func BenchmarkReadCheck(b *testing.B) {
	for _, st := range testkit.Stores {
		b.Run(st.Name, func(b *testing.B) {
			db, ids := seedReadCheck(b, st.URL(b))
			for _, way := range []struct {
				name string
				read func(context.Context, roman.CheckQuery) (*roman.CheckRead, error)
			}{{"one-read", db.ReadCheck}, {"separate-reads", db.readCheckSeparately}, {"one-read-custom-plans", func(ctx context.Context, q roman.CheckQuery) (*roman.CheckRead, error) {
				return db.readCheckPGOn(ctx, db.db, q)
			}}} {
				if way.name == "one-read-custom-plans" && db.dialect != DialectPostgres {
					continue
				}
				b.Run(way.name, func(b *testing.B) {
					ctx := context.Background()
					now := time.Now().UTC()
					q := roman.CheckQuery{Now: now, MetricsSince: now.Add(-5 * time.Minute)}
					for i := 0; i < 50; i++ { // warm the sessions' statements
						q.DeploymentID = ids[i%len(ids)]
						if _, err := way.read(ctx, q); err != nil {
							b.Fatal(err)
						}
					}
					b.ResetTimer()
					cpu0, db0 := testkit.ProcessCPU(), testkit.ChildrenCPU()
					for i := 0; i < b.N; i++ {
						q.DeploymentID = ids[i%len(ids)]
						if _, err := way.read(ctx, q); err != nil {
							b.Fatal(err)
						}
					}
					cpu, dbCPU := testkit.ProcessCPU()-cpu0, testkit.ChildrenCPU()-db0
					b.StopTimer()
					b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
					b.ReportMetric(float64(dbCPU.Microseconds())/1000/float64(b.N), "db-cpu-ms/op")
				})
			}
		})
	}
}

// seedReadCheck opens a store at url with BenchmarkReadCheck's data and
// returns it and the five deployments checked.
func seedReadCheck(b *testing.B, url string) (*DB, []string) {
	ctx := context.Background()
	db, err := Open(ctx, url, testkit.Discard())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	now := time.Now().UTC()
	var ids []string
	for e := 0; e < 5; e++ {
		env := fmt.Sprintf("check-%d", e)
		var d *roman.Deployment
		for v := 0; v < 2; v++ { // an earlier release, so new errors count
			d = &roman.Deployment{Environment: env, Version: fmt.Sprintf("v%d", v), GitCommit: fmt.Sprintf("c%d", v),
				GitBranch: "main", DeployedAt: now.Add(time.Duration(v-2) * time.Hour), Status: roman.StatusSuccess}
			if err := db.CreateDeployment(ctx, d); err != nil {
				b.Fatal(err)
			}
		}
		ids = append(ids, d.DeploymentID)
		var evs []roman.ErrorEvent
		for i := 0; i < 20; i++ {
			evs = append(evs, roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: env, Severity: "error", Message: "TypeError",
				OccurredAt: now.Add(-time.Duration(i) * 5 * time.Minute / 20), Fingerprint: fmt.Sprintf("cart-%d", i%7)})
		}
		for i := 0; i < 10000; i++ {
			evs = append(evs, roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: env, Severity: "error", Message: "TimeoutError",
				OccurredAt: now.Add(-6*time.Minute - time.Duration(i)*time.Second/4), Fingerprint: fmt.Sprintf("timeout-%d", i%5)})
		}
		if err := db.InsertErrorEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
		var samples []roman.MetricSample
		for _, name := range []string{roman.MetricDatabaseConnections, roman.MetricActiveQueries, roman.MetricP95ResponseTimeMS, roman.MetricMemoryUsagePercent} {
			for i := 0; i < 100; i++ {
				samples = append(samples, roman.MetricSample{DeploymentID: d.DeploymentID, Environment: env, Name: name,
					Value: float64(10 + i%20), At: now.Add(-time.Duration(i) * 3 * time.Second)})
			}
		}
		if err := db.InsertMetricSamples(ctx, samples); err != nil {
			b.Fatal(err)
		}
		for k := 0; k < 200; k++ {
			typ := []string{roman.EventHealthJudgement, "health_reading", "watch_started", roman.EventAutoRollbackSuppressed}[k%4]
			md := `{"deployment_id":"` + d.DeploymentID + `","judgement":{"judge":"baseline","shadow":true}}`
			if err := db.AddRomanEvent(ctx, &roman.RomanEvent{EventType: typ, Severity: roman.SeverityInfo, Message: "m",
				Metadata: []byte(md), Timestamp: now.Add(-time.Duration(k) * time.Second)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for k := 0; k < 3000; k++ {
		if err := db.AddRomanEvent(ctx, &roman.RomanEvent{EventType: roman.EventHealthJudgement, Severity: roman.SeverityInfo,
			Message: "m", Metadata: []byte(`{"deployment_id":"` + roman.NewUUID() + `"}`)}); err != nil {
			b.Fatal(err)
		}
	}
	if db.dialect == DialectPostgres {
		// What autovacuum does soon after the inserts. (roman never
		// analyzes SQLite, whose plans then come from the indexes alone.)
		if _, err := db.db.ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
			b.Fatal(err)
		}
	}
	return db, ids
}

// readCheckSeparately is ReadCheck as the separate store reads a check
// made before ReadCheck.
func (db *DB) readCheckSeparately(ctx context.Context, q roman.CheckQuery) (*roman.CheckRead, error) {
	d, err := db.GetDeployment(ctx, q.DeploymentID)
	if err != nil {
		return nil, err
	}
	r := &roman.CheckRead{Deployment: d}
	if r.Errors.LastMinute, r.Errors.Last5Minutes, err = db.CountErrors(ctx, d.DeploymentID, q.Now); err != nil {
		return nil, err
	}
	if r.Metrics, err = db.LatestMetrics(ctx, d.DeploymentID, q.MetricsSince, q.Now); err != nil {
		return nil, err
	}
	fresh, err := db.NewErrorsBatch(ctx, []string{d.DeploymentID})
	if err != nil {
		return nil, err
	}
	r.NewErrors = fresh[d.DeploymentID]
	if err := db.queryReadRow(ctx, `SELECT EXISTS (SELECT 1 FROM integration_alerts
		WHERE deployment_id = ? AND status = 'firing')`, d.DeploymentID).Scan(&r.AlertsFiring); err != nil {
		return nil, internal("read check", err)
	}
	newest := func(typ string) (*roman.RomanEvent, error) {
		evs, err := db.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: typ, DeploymentID: d.DeploymentID, Limit: 1})
		if err != nil || len(evs) == 0 {
			return nil, err
		}
		return evs[0], nil
	}
	if r.Suppressed, err = newest(roman.EventAutoRollbackSuppressed); err != nil {
		return nil, err
	}
	if r.Intervention, err = newest(roman.EventManualIntervention); err != nil {
		return nil, err
	}
	evs, err := db.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventHealthJudgement,
		DeploymentID: d.DeploymentID, Limit: roman.CheckJudgementRows})
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		r.Judgements = append(r.Judgements, e.Metadata)
	}
	return r, nil
}
