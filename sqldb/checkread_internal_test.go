package sqldb

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
)

// TestCheckReadPlan: on PostgreSQL the check's one statement runs on the
// check pool with a generic plan, planned once per session (no custom
// plans), and that plan reads every part through its index range: the
// error windows and counters, a seek per metric (no sort of a metric's
// samples) and the deployment's newest roman_events rows of each type
// through migration 00020's index, among thousands of other rows.
func TestCheckReadPlan(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, testpg.URL(t), testkit.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	var id string
	for e := 0; e < 20; e++ {
		d := &roman.Deployment{Environment: fmt.Sprintf("env-%d", e), Version: "v1", GitCommit: "c1", GitBranch: "main",
			DeployedAt: now.Add(-time.Hour), Status: roman.StatusSuccess}
		if err := db.CreateDeployment(ctx, d); err != nil {
			t.Fatal(err)
		}
		id = d.DeploymentID
		var evs []roman.ErrorEvent
		for i := 0; i < 500; i++ {
			evs = append(evs, roman.ErrorEvent{DeploymentID: id, Environment: d.Environment, Severity: "error", Message: "x",
				Fingerprint: fmt.Sprintf("f%d", i%4), OccurredAt: now.Add(-time.Duration(i) * 2 * time.Second)})
		}
		if err := db.InsertErrorEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		var samples []roman.MetricSample
		for _, name := range []string{roman.MetricActiveQueries, roman.MetricMemoryUsagePercent} {
			for i := 0; i < 100; i++ {
				samples = append(samples, roman.MetricSample{DeploymentID: id, Environment: d.Environment, Name: name,
					Value: float64(i), At: now.Add(-time.Duration(i) * 3 * time.Second)})
			}
		}
		if err := db.InsertMetricSamples(ctx, samples); err != nil {
			t.Fatal(err)
		}
		if _, err := db.db.ExecContext(ctx, `INSERT INTO roman_events (event_id, event_type, severity, message, metadata, "timestamp")
			SELECT gen_random_uuid(), (ARRAY['health_judgement', 'auto_rollback_suppressed', 'manual_intervention_required', 'watch_started'])[1 + i % 4],
				'info', 'm', jsonb_build_object('deployment_id', $1::text, 'judgement', jsonb_build_object('shadow', true)),
				$2::timestamptz - i * interval '1 second'
			FROM generate_series(1, 400) i`, id, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.db.ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
		t.Fatal(err)
	}

	conn, err := db.cdb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tail := now.Truncate(time.Second)
	m1, m5 := db.splitWindow(now.Add(-time.Minute), now), db.splitWindow(now.Add(-5*time.Minute), now)
	args := []any{id, id, m1.from, m1.fromEnd, m5.from, m5.fromEnd, db.ts(tail), db.ts(now),
		m1.first, m5.first, db.secondKey(tail), db.ts(now.Add(-5 * time.Minute))}
	for i := 0; i < 8; i++ {
		rows, err := conn.QueryContext(ctx, checkReadPGSQL, args...)
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	var generic, custom int64
	if err := conn.QueryRowContext(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1`,
		checkReadPGSQL).Scan(&generic, &custom); err != nil {
		t.Fatal(err)
	}
	if generic < 8 || custom != 0 {
		t.Errorf("check statement: %d generic and %d custom plans, want only generic", generic, custom)
	}

	if _, err := conn.ExecContext(ctx, `PREPARE chk AS `+checkReadPGSQL); err != nil {
		t.Fatal(err)
	}
	lits := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			lits[i] = "'" + v.Format(time.RFC3339Nano) + "'"
		default:
			lits[i] = fmt.Sprintf("'%v'", v)
		}
	}
	rows, err := conn.QueryContext(ctx, `EXPLAIN EXECUTE chk(`+strings.Join(lits, ", ")+`)`)
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	rows.Close()
	p := plan.String()
	for _, want := range []string{"error_events_deployment_occurred_idx", "error_seconds_pkey",
		"metric_samples_deployment_name_at_idx", "roman_events_deployment_type_idx"} {
		if !strings.Contains(p, want) {
			t.Errorf("the plan does not use %s:\n%s", want, p)
		}
	}
	for _, bad := range []string{"Seq Scan on error_events", "Seq Scan on metric_samples", "Seq Scan on roman_events",
		"Sort Key: ms.at", "Sort Key: roman_events"} {
		if strings.Contains(p, bad) {
			t.Errorf("the plan has %q:\n%s", bad, p)
		}
	}
}

// TestDecisionCheckReadPool: on PostgreSQL a check read by decision work
// (roman.ForDecisions: a rollback's health reads) runs on the decision
// check pool, whose sessions plan the statement generically like the
// check pool's, and not on the check pool that /auto-rollback/check
// floods take, nor on the decision pool, where it would be planned at
// every execution.
func TestDecisionCheckReadPool(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, testpg.URL(t), testkit.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := &roman.Deployment{Environment: "production", Version: "v1", GitCommit: "c1", GitBranch: "main", Status: roman.StatusSuccess}
	if err := db.CreateDeployment(ctx, d); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	q := roman.CheckQuery{DeploymentID: d.DeploymentID, Now: now, MetricsSince: now.Add(-5 * time.Minute)}
	for i := 0; i < 8; i++ {
		r, err := db.ReadCheck(roman.ForDecisions(ctx), q)
		if err != nil || r.Deployment.DeploymentID != d.DeploymentID {
			t.Fatalf("decision read: %+v %v", r, err)
		}
	}
	if n := db.cdb.Stats().OpenConnections; n != 0 {
		t.Errorf("the check pool opened %d connections for decision reads", n)
	}
	if st := db.dcdb.Stats(); st.OpenConnections == 0 || st.MaxOpenConnections != pgDecisionCheckConns {
		t.Errorf("decision check pool: %+v", st)
	}
	conn, err := db.dcdb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mode string
	var generic, custom int64
	if err := conn.QueryRowContext(ctx, `SELECT current_setting('plan_cache_mode')`).Scan(&mode); err != nil || mode != "force_generic_plan" {
		t.Errorf("decision check session: plan_cache_mode %q (%v)", mode, err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1`,
		checkReadPGSQL).Scan(&generic, &custom); err != nil {
		t.Fatal(err)
	}
	if generic == 0 || custom != 0 {
		t.Errorf("decision check statement: %d generic and %d custom plans, want only generic", generic, custom)
	}
}
