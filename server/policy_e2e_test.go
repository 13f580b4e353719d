package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/policy"
	"github.com/odyssey-1/roman/sqldb"
)

// The constitution end to end: the whole program in-process on both stores,
// driven over HTTP, with the audit rows read back by the seed's own SQL.

const (
	policyRollbackToken = "test-rollback-token"
	exampleRules        = "../policy/testdata/freeze.yaml"
	exampleCases        = "../policy/testdata/freeze_cases.yaml"
	failingCases        = "../policy/testdata/failing_cases.yaml"
)

// startPolicyServer is startServer with a constitution file, the given
// clock, the default verify window and a rollback-role key besides the
// admin, deploy and read keys.
func startPolicyServer(t *testing.T, database, constitution string, clock *testkit.Clock) *Server {
	t.Helper()
	return closedAtEnd(t, openServer(t, database, clock.Now, nil, map[string]string{
		"ROMAN_CONSTITUTION":  constitution,
		"ROMAN_VERIFY_WINDOW": "",
		"ROMAN_API_KEYS": "admin:" + adminToken + ",rollback:" + policyRollbackToken +
			",deploy:" + deployToken + ",read:" + readToken,
	}))
}

func eachPolicyStore(t *testing.T, constitution string, clock *testkit.Clock, fn func(t *testing.T, m *Server)) {
	t.Helper()
	testkit.EachStore(t, func(t *testing.T, url string) { fn(t, startPolicyServer(t, url, constitution, clock)) })
}

// recordPair records a known-good deployment 15 minutes ago and a new one
// (in_progress, so no watch window opens) in env, and returns the new one's
// id.
func recordPair(t *testing.T, m *Server, env string, now time.Time) string {
	t.Helper()
	code, good := testkit.Call(t, "POST", m.URL()+"/deployments", deployToken, `{"environment":"`+env+`","version":"v2.5.2","git_commit":"a7f3b29","git_branch":"main",`+
		`"status":"success","health_check_passed":true,"deployed_at":"`+now.Add(-15*time.Minute).Format(time.RFC3339)+`"}`)
	if code != 201 {
		t.Fatalf("record good: %d %v", code, good)
	}
	code, bad := testkit.Call(t, "POST", m.URL()+"/deployments", deployToken, `{"environment":"`+env+`","version":"v2.5.3","git_commit":"b81c4d0","git_branch":"main",`+
		`"deployed_at":"`+now.Add(-5*time.Minute).Format(time.RFC3339)+`"}`)
	if code != 201 {
		t.Fatalf("record bad: %d %v", code, bad)
	}
	return bad["deployment_id"].(string)
}

// spike stores n errors of the deployment in the last minute.
func spike(t *testing.T, m *Server, deploymentID, env string, now time.Time, n int) {
	t.Helper()
	var evs []roman.ErrorEvent
	for i := 0; i < n; i++ {
		evs = append(evs, roman.ErrorEvent{DeploymentID: deploymentID, Environment: env, OccurredAt: now.Add(-time.Duration(i+1) * time.Second),
			Message: "TypeError: payment is undefined", Severity: "error"})
	}
	if err := m.Store.InsertErrorEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

// seedRejections runs the seed's troubleshooting query verbatim (without
// the ops. schema on SQLite, which has none) and returns the rows.
func seedRejections(t *testing.T, m *Server) []map[string]any {
	t.Helper()
	q := `SELECT * FROM ops.roman_events 
WHERE event_type = 'rollback_validation'
  AND severity = 'error'
ORDER BY timestamp DESC
LIMIT 5;`
	if m.Store.Dialect() == sqldb.DialectSQLite {
		q = strings.Replace(q, "ops.", "", 1)
	}
	rows, err := m.Store.SQL().QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := map[string]any{}
		for i, c := range cols {
			row[c] = vals[i]
		}
		var meta map[string]any
		switch v := row["metadata"].(type) {
		case []byte:
			_ = json.Unmarshal(v, &meta)
		case string:
			_ = json.Unmarshal([]byte(v), &meta)
		}
		row["metadata"] = meta
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// counts is what a dry run must leave alone.
type counts struct{ events, rollbacks, deployments int }

func countRows(t *testing.T, m *Server) counts {
	t.Helper()
	var c counts
	for table, n := range map[string]*int{"roman_events": &c.events, "rollback_events": &c.rollbacks, "deployments": &c.deployments} {
		if m.Store.Dialect() == sqldb.DialectPostgres {
			table = "ops." + table
		}
		if err := m.Store.SQL().QueryRowContext(context.Background(), "SELECT count(*) FROM "+table).Scan(n); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// TestConstitutionOverHTTP: the seed's rejection body, the audit row the
// seed's troubleshooting query finds, the dry run that changes nothing, and
// override by role.
func TestConstitutionOverHTTP(t *testing.T) {
	clock := testkit.NewClock(time.Date(2025, 12, 15, 14, 35, 0, 0, time.UTC))
	eachPolicyStore(t, "", clock, func(t *testing.T, m *Server) {
		base, now := m.URL(), clock.Now()
		badID := recordPair(t, m, "production", now)
		body := func(extra string) string {
			return `{"deployment_id":"` + badID + `","trigger_reason":"High error rate"` + extra + `}`
		}

		// The spike has passed: an automatic rollback is rejected with the
		// seed's body.
		code, rej := testkit.Call(t, "POST", base+"/auto-rollback", policyRollbackToken, body(`,"trigger_type":"automatic"`))
		if code != 422 || rej["success"] != false || rej["error"] != "Constitutional validation failed" {
			t.Fatalf("rejection: %d %v", code, rej)
		}
		v := rej["validation"].(map[string]any)
		if v["compliant"] != false || !slices.Equal(strs(v["violations"]), []string{"System already stable: error rate 0/minute"}) ||
			len(v["warnings"].([]any)) != 0 || !slices.Equal(strs(v["rules"]), []string{policy.RuleStabilityAutomatic}) {
			t.Fatalf("validation: %v", v)
		}
		res := v["results"].([]any)[0].(map[string]any)
		if res["rule"] != policy.RuleStabilityAutomatic || res["severity"] != "violation" || res["law"] != "Stability" {
			t.Fatalf("results: %v", v["results"])
		}

		// The seed's troubleshooting query finds the decision, with its
		// inputs, verdict and rule names.
		rows := seedRejections(t, m)
		if len(rows) != 1 || rows[0]["severity"] != "error" || rows[0]["event_type"] != "rollback_validation" {
			t.Fatalf("seed query: %v", rows)
		}
		meta := rows[0]["metadata"].(map[string]any)
		if meta["deployment_id"] != badID || meta["event_id"] != rej["event_id"] || meta["trigger"] != "automatic" ||
			!slices.Equal(strs(meta["rules"]), []string{policy.RuleStabilityAutomatic}) || meta["caller"] != "env-2-rollback" ||
			meta["override"] != false || meta["health"] == nil || meta["action"] == nil || meta["target"] == nil {
			t.Fatalf("metadata: %v", meta)
		}
		verdict := meta["verdict"].(map[string]any)
		if verdict["compliant"] != false || verdict["results"] == nil {
			t.Fatalf("verdict: %v", verdict)
		}
		_, ev := testkit.Call(t, "GET", base+"/auto-rollback/history?deployment_id="+badID, readToken, "")
		if e := ev["rollbacks"].([]any)[0].(map[string]any); e["status"] != "aborted" || e["constitutional_validation"].(map[string]any)["compliant"] != false {
			t.Fatalf("aborted event: %v", e)
		}

		// The dry run answers the same verdict and changes nothing.
		before := countRows(t, m)
		code, dry := testkit.Call(t, "POST", base+"/auto-rollback/validate", readToken, body(`,"trigger_type":"automatic"`))
		if code != 200 || dry["compliant"] != false || !slices.Equal(strs(dry["violations"]), strs(v["violations"])) {
			t.Fatalf("dry run: %d %v", code, dry)
		}
		code, dry = testkit.Call(t, "POST", base+"/functions/v1/auto-rollback/validate", readToken, body(""))
		if code != 200 || dry["compliant"] != true || !slices.Equal(strs(dry["warnings"]), []string{"System already stable: error rate 0/minute"}) {
			t.Fatalf("manual dry run: %d %v", code, dry)
		}
		if after := countRows(t, m); after != before {
			t.Fatalf("a dry run changed rows: %+v -> %+v", before, after)
		}
		if _, d := testkit.Call(t, "GET", base+"/deployments/"+badID, readToken, ""); d["status"] != "in_progress" || d["constitutional_validation"] != nil {
			t.Fatalf("a dry run changed the deployment: %v", d)
		}

		// A failed migration makes the database inconsistent.
		msg := "column already exists"
		if err := m.Store.CreateMigration(context.Background(), &roman.Migration{DeploymentID: badID, MigrationName: "0042_add_index",
			MigrationHash: "abc", AppliedAt: now.Add(-4 * time.Minute), ErrorMessage: &msg}); err != nil {
			t.Fatal(err)
		}
		code, rej = testkit.Call(t, "POST", base+"/auto-rollback", adminToken, body(""))
		if code != 422 || !slices.Contains(strs(rej["validation"].(map[string]any)["violations"]), policy.MsgDatabaseInconsist) {
			t.Fatalf("inconsistent database: %d %v", code, rej)
		}
		// Override needs admin: the rollback role gets 403 and nothing is
		// written.
		before = countRows(t, m)
		if code, out := testkit.Call(t, "POST", base+"/auto-rollback", policyRollbackToken, body(`,"override":true`)); code != 403 ||
			!strings.Contains(out["error"].(string), `override needs role "admin"`) {
			t.Fatalf("rollback-role override: %d %v", code, out)
		}
		if code, _ := testkit.Call(t, "POST", base+"/auto-rollback/validate", readToken, body(`,"override":true`)); code != 403 {
			t.Fatalf("read-role override dry run: %d", code)
		}
		if after := countRows(t, m); after != before {
			t.Fatalf("a refused override changed rows: %+v -> %+v", before, after)
		}
		// An admin override turns the violation into a warning and the
		// rollback runs; the audit row says who overrode.
		code, ok := testkit.Call(t, "POST", base+"/auto-rollback", adminToken, body(`,"override":true,"initiated_by":"0b6c3c52-4a8e-4c55-9d0e-2f4f7a1d8e11"`))
		if code != 200 || ok["success"] != true {
			t.Fatalf("admin override: %d %v", code, ok)
		}
		ov := ok["validation"].(map[string]any)
		if ov["compliant"] != true || ov["override"] != true || !slices.Contains(strs(ov["warnings"]), policy.MsgDatabaseInconsist) {
			t.Fatalf("override verdict: %v", ov)
		}
		evs, err := m.Store.ListRomanEvents(context.Background(), roman.RomanEventFilter{EventType: roman.EventRollbackValidation, DeploymentID: badID})
		if err != nil || len(evs) != 3 || evs[0].Severity != roman.SeverityInfo {
			t.Fatalf("validation rows: %v %+v", err, evs)
		}
		var approved map[string]any
		_ = json.Unmarshal(evs[0].Metadata, &approved)
		if approved["override"] != true || approved["caller"] != "env-1-admin" || approved["initiated_by"] != "0b6c3c52-4a8e-4c55-9d0e-2f4f7a1d8e11" {
			t.Fatalf("override audit: %v", approved)
		}
		found := false
		for _, r := range approved["verdict"].(map[string]any)["results"].([]any) {
			r := r.(map[string]any)
			found = found || r["rule"] == policy.RuleDatabaseConsistency && r["overridden"] == true && r["severity"] == "warning"
		}
		if !found {
			t.Fatalf("the overridden rule is not in the audit: %v", approved["verdict"])
		}
		if _, d := testkit.Call(t, "GET", base+"/deployments/"+badID, readToken, ""); d["status"] != "rolled_back" ||
			d["constitutional_validation"].(map[string]any)["override"] != true {
			t.Fatalf("the verdict is not stored on the deployment: %v", d)
		}

		// The target rule survives an override.
		_, first := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"staging","version":"v1","git_commit":"abc1234","git_branch":"main","status":"success"}`)
		code, rej = testkit.Call(t, "POST", base+"/auto-rollback", adminToken,
			`{"deployment_id":"`+first["deployment_id"].(string)+`","trigger_reason":"broken","override":true}`)
		if code != 422 || !slices.Equal(strs(rej["validation"].(map[string]any)["violations"]), []string{policy.MsgNoTarget}) {
			t.Fatalf("override without target: %d %v", code, rej)
		}
	})
}

// TestFreezeWindowOverHTTP runs the docs' example constitution: a Friday
// production freeze blocks an automatic rollback that a Thursday allows.
func TestFreezeWindowOverHTTP(t *testing.T) {
	thursday := time.Date(2025, 12, 18, 14, 0, 0, 0, time.UTC)
	friday := thursday.Add(24 * time.Hour)
	clock := testkit.NewClock(thursday)
	eachPolicyStore(t, exampleRules, clock, func(t *testing.T, m *Server) {
		clock.Set(thursday)
		base := m.URL()
		badID := recordPair(t, m, "production", thursday)
		automatic := `{"deployment_id":"` + badID + `","trigger_reason":"High error rate: 9 errors/minute","trigger_type":"automatic"}`

		spike(t, m, badID, "production", thursday, 9)
		code, v := testkit.Call(t, "POST", base+"/auto-rollback/validate", readToken, automatic)
		if code != 200 || v["compliant"] != true {
			t.Fatalf("Thursday: %d %v", code, v)
		}

		clock.Set(friday)
		spike(t, m, badID, "production", friday, 9)
		code, v = testkit.Call(t, "POST", base+"/auto-rollback/validate", readToken, automatic)
		if code != 200 || v["compliant"] != false || !slices.Equal(strs(v["rules"]), []string{"production_freeze"}) {
			t.Fatalf("Friday dry run: %d %v", code, v)
		}
		code, rej := testkit.Call(t, "POST", base+"/auto-rollback", policyRollbackToken, automatic)
		if code != 422 || rej["error"] != "Constitutional validation failed" ||
			!slices.Equal(strs(rej["validation"].(map[string]any)["violations"]),
				[]string{"Production freeze: no automatic rollback on Fridays (2025-12-19T14:00:00Z); a human must decide"}) {
			t.Fatalf("Friday automatic: %d %v", code, rej)
		}
		if _, d := testkit.Call(t, "GET", base+"/deployments/"+badID, readToken, ""); d["status"] != "in_progress" {
			t.Fatalf("a rejected rollback changed the deployment: %v", d)
		}
		// A human may still roll back on a Friday, and must say who they are.
		manual := `{"deployment_id":"` + badID + `","trigger_reason":"on-call decision"`
		if code, out := testkit.Call(t, "POST", base+"/auto-rollback", policyRollbackToken, manual+`}`); code != 422 ||
			!slices.Equal(strs(out["validation"].(map[string]any)["rules"]), []string{"production_needs_a_human"}) {
			t.Fatalf("anonymous manual: %d %v", code, out)
		}
		code, ok := testkit.Call(t, "POST", base+"/auto-rollback", policyRollbackToken, manual+`,"initiated_by":"0b6c3c52-4a8e-4c55-9d0e-2f4f7a1d8e11"}`)
		if code != 200 || ok["success"] != true {
			t.Fatalf("Friday manual: %d %v", code, ok)
		}
	})
}

// TestMalformedConstitutionStopsServe: a bad file stops Server.Open before
// the database is opened or a port is bound, naming file, rule and CEL error.
func TestMalformedConstitutionStopsServe(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(bad, []byte("rules:\n  - name: freeze\n    require: enviroment == \"production\"\n    message: frozen\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "roman.db")
	env := map[string]string{"ROMAN_DATABASE": "sqlite://" + dbPath, "ROMAN_LISTEN": "127.0.0.1:0", "ROMAN_CONSTITUTION": bad,
		"ROMAN_API_KEYS": "admin:" + adminToken}
	cfg, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	m := &Server{Config: cfg, Logger: testkit.Discard(), Stdout: io.Discard}
	err = m.Open(context.Background())
	if err == nil {
		m.Close()
		t.Fatal("the server started with a malformed constitution")
	}
	var le *policy.LoadError
	if !errors.As(err, &le) || le.File != bad || le.Rule != "freeze" ||
		!strings.Contains(err.Error(), "constitution "+bad+`: rule "freeze": require: `) ||
		!strings.Contains(err.Error(), "undeclared reference to 'enviroment'") {
		t.Fatalf("error %q must name the file, the rule and the CEL error", err)
	}
	if m.Addr() != "" {
		t.Fatal("listening despite the error")
	}
	if _, err := os.Stat(dbPath); !os.IsNotExist(err) {
		t.Fatalf("the database was opened before the constitution was checked: %v", err)
	}
}
