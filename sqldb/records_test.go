package sqldb_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

func testSnapshots(t *testing.T, db *sqldb.DB) {
	d := newDeployment("production", "v1", t0, roman.StatusSuccess)
	mustCreate(t, db, d)
	s := &roman.Snapshot{
		DeploymentID: d.DeploymentID, SnapshotType: roman.SnapshotPreRollback,
		DatabaseSchemaHash: "abc", TableCounts: map[string]int64{"users": 10, "orders": 0},
		KeyMetrics:        json.RawMessage(`{"error_rate_per_minute": 8.5}`),
		EnvironmentConfig: map[string]any{"region": "eu", "nested": map[string]any{"n": 1.5}},
		CreatedAt:         t0,
	}
	if err := db.CreateSnapshot(ctx, s); err != nil {
		t.Fatal(err)
	}
	if s.ID == 0 || !roman.ValidUUID(s.SnapshotID) {
		t.Fatalf("CreateSnapshot did not fill ID/SnapshotID: %+v", s)
	}
	got, err := db.GetSnapshot(ctx, s.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	if got.DeploymentID != d.DeploymentID || got.SnapshotType != s.SnapshotType || got.DatabaseSchemaHash != "abc" ||
		!reflect.DeepEqual(got.TableCounts, s.TableCounts) || !reflect.DeepEqual(got.EnvironmentConfig, s.EnvironmentConfig) ||
		!jsonEqual(t, got.KeyMetrics, s.KeyMetrics) || !got.CreatedAt.Equal(t0.Truncate(time.Microsecond)) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, s)
	}
	later := &roman.Snapshot{DeploymentID: d.DeploymentID, SnapshotType: roman.SnapshotPostDeployment, CreatedAt: t0.Add(time.Second)}
	if err := db.CreateSnapshot(ctx, later); err != nil {
		t.Fatal(err)
	}
	list, err := db.ListSnapshots(ctx, d.DeploymentID)
	if err != nil || len(list) != 2 || list[0].SnapshotID != later.SnapshotID || list[1].SnapshotID != s.SnapshotID {
		t.Fatalf("ListSnapshots = %+v, %v", list, err)
	}
	if list[0].TableCounts != nil || list[0].KeyMetrics != nil || list[0].DatabaseSchemaHash != "" {
		t.Errorf("empty snapshot fields read back as %+v", list[0])
	}
	_, err = db.GetSnapshot(ctx, roman.NewUUID())
	wantCode(t, err, roman.ENOTFOUND)
	orphan := &roman.Snapshot{DeploymentID: roman.NewUUID(), SnapshotType: roman.SnapshotPreDeployment}
	wantCode(t, db.CreateSnapshot(ctx, orphan), roman.ENOTFOUND)
}

func testMigrations(t *testing.T, db *sqldb.DB) {
	d := newDeployment("production", "v1", t0, roman.StatusSuccess)
	mustCreate(t, db, d)
	ms, script := int64(120), "DROP TABLE widgets;"
	first := &roman.Migration{DeploymentID: d.DeploymentID, MigrationName: "0001_widgets", MigrationHash: "h1",
		AppliedAt: t0, ExecutionTimeMS: &ms, RollbackScript: &script, Metadata: json.RawMessage(`{"tool":"goose"}`)}
	second := &roman.Migration{DeploymentID: d.DeploymentID, MigrationName: "0002_gadgets", MigrationHash: "h2",
		AppliedAt: t0.Add(time.Second)}
	for _, m := range []*roman.Migration{first, second} {
		if err := db.CreateMigration(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	dup := &roman.Migration{DeploymentID: d.DeploymentID, MigrationName: "0001_widgets", MigrationHash: "other"}
	re := wantCode(t, db.CreateMigration(ctx, dup), roman.ECONFLICT)
	if re.Message != "migration 0001_widgets already exists" {
		t.Errorf("message = %q", re.Message)
	}
	orphan := &roman.Migration{DeploymentID: roman.NewUUID(), MigrationName: "0003", MigrationHash: "h3"}
	wantCode(t, db.CreateMigration(ctx, orphan), roman.ENOTFOUND)

	list, err := db.ListMigrations(ctx, d.DeploymentID)
	if err != nil || len(list) != 2 || list[0].MigrationName != "0001_widgets" || list[1].MigrationName != "0002_gadgets" {
		t.Fatalf("ListMigrations = %+v, %v", list, err)
	}
	m := list[0]
	if m.ID != first.ID || m.MigrationHash != "h1" || *m.ExecutionTimeMS != 120 || *m.RollbackScript != script ||
		!jsonEqual(t, m.Metadata, first.Metadata) || !m.AppliedAt.Equal(t0.Truncate(time.Microsecond)) ||
		m.RolledBackAt != nil || m.RollbackSuccessful != nil || m.ErrorMessage != nil {
		t.Errorf("round trip: %+v", m)
	}
	if err := db.RecordMigrationRollbacks(ctx, []roman.MigrationRollback{{ID: first.ID, At: t0.Add(time.Hour), Error: "syntax error"}}); err != nil {
		t.Fatal(err)
	}
	list, _ = db.ListMigrations(ctx, d.DeploymentID)
	if m := list[0]; m.RolledBackAt == nil || m.RollbackSuccessful == nil || *m.RollbackSuccessful ||
		m.ErrorMessage == nil || *m.ErrorMessage != "syntax error" {
		t.Errorf("after RecordMigrationRollbacks: %+v", m)
	}
	wantCode(t, db.RecordMigrationRollbacks(ctx, []roman.MigrationRollback{{ID: 987654, At: t0, Successful: true}}), roman.ENOTFOUND)
}

func testRomanEvents(t *testing.T, db *sqldb.DB) {
	dep := roman.NewUUID()
	events := []*roman.RomanEvent{
		{EventType: roman.EventRollbackValidation, Severity: roman.SeverityError, Message: "rejected",
			Metadata: json.RawMessage(fmt.Sprintf(`{"deployment_id":%q,"compliant":false}`, dep)), Timestamp: t0},
		{EventType: roman.EventRollbackStarted, Severity: roman.SeverityInfo, Message: "started",
			Metadata: json.RawMessage(`{"deployment_id":"other","environment":"staging","service":"checkout"}`), Timestamp: t0.Add(time.Second)},
		{EventType: roman.EventRollbackValidation, Severity: roman.SeverityInfo, Message: "approved",
			Timestamp: t0.Add(2 * time.Second)},
	}
	for _, e := range events {
		if err := db.AddRomanEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.ID == 0 || !roman.ValidUUID(e.EventID) {
			t.Fatalf("AddRomanEvent did not fill ids: %+v", e)
		}
	}
	since := t0.Add(time.Second)
	tests := []struct {
		name string
		f    roman.RomanEventFilter
		want string
	}{
		{"newest first", roman.RomanEventFilter{}, "approved,started,rejected"},
		{"type", roman.RomanEventFilter{EventType: roman.EventRollbackValidation}, "approved,rejected"},
		{"severity", roman.RomanEventFilter{Severity: roman.SeverityInfo}, "approved,started"},
		{"deployment", roman.RomanEventFilter{DeploymentID: dep}, "rejected"},
		{"limit", roman.RomanEventFilter{Limit: 1}, "approved"},
		{"environment", roman.RomanEventFilter{Environment: "staging"}, "started"},
		{"service", roman.RomanEventFilter{Service: "checkout"}, "started"},
		{"no service is default", roman.RomanEventFilter{Service: "default"}, "approved,rejected"},
		{"since", roman.RomanEventFilter{Since: &since}, "approved,started"},
	}
	for _, tc := range tests {
		got, err := db.ListRomanEvents(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		msgs := ""
		for i, e := range got {
			if i > 0 {
				msgs += ","
			}
			msgs += e.Message
		}
		if msgs != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, msgs, tc.want)
		}
	}
	got, _ := db.ListRomanEvents(ctx, roman.RomanEventFilter{DeploymentID: dep})
	if e := got[0]; e.EventID != events[0].EventID || e.EventType != events[0].EventType ||
		e.Severity != roman.SeverityError || !jsonEqual(t, e.Metadata, events[0].Metadata) ||
		!e.Timestamp.Equal(t0.Truncate(time.Microsecond)) {
		t.Errorf("round trip: %+v", e)
	}
}

func testCountErrors(t *testing.T, db *sqldb.DB) {
	d := newDeployment("production", "v1", t0, roman.StatusSuccess)
	other := newDeployment("production", "v0", t0, roman.StatusSuccess)
	mustCreate(t, db, d, other)
	now := t0.Truncate(time.Microsecond)
	at := func(offsets ...time.Duration) []roman.ErrorEvent {
		var out []roman.ErrorEvent
		for _, o := range offsets {
			out = append(out, roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: "production",
				OccurredAt: now.Add(o), Message: "boom", Severity: "error", Fingerprint: "f"})
		}
		return out
	}
	batch := at(
		0,                             // now: in both windows
		-time.Microsecond,             // in both
		-time.Minute+time.Microsecond, // last microsecond inside the minute
		-time.Minute,                  // exactly now-60s: outside the minute, inside 5 minutes
		-5*time.Minute+time.Microsecond,
		-5*time.Minute,   // exactly now-5m: outside both
		time.Microsecond, // in the future: outside both
	)
	batch = append(batch, roman.ErrorEvent{DeploymentID: other.DeploymentID, Environment: "production", OccurredAt: now})
	if err := db.InsertErrorEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	one, five, err := db.CountErrors(ctx, d.DeploymentID, now)
	if err != nil || one != 3 || five != 5 {
		t.Fatalf("CountErrors = %d, %d, %v; want 3, 5", one, five, err)
	}
	one, five, err = db.CountErrors(ctx, roman.NewUUID(), now)
	if err != nil || one != 0 || five != 0 {
		t.Fatalf("CountErrors(unknown) = %d, %d, %v", one, five, err)
	}
}

func testErrorBatches(t *testing.T, db *sqldb.DB) {
	d := newDeployment("production", "v1", t0, roman.StatusSuccess)
	mustCreate(t, db, d)
	const n = 2345 // several SQLite chunks and a remainder
	batch := make([]roman.ErrorEvent, n)
	for i := range batch {
		batch[i] = roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: "production",
			OccurredAt: t0.Add(-time.Duration(i) * time.Millisecond), Message: fmt.Sprint("e", i), Severity: "error"}
	}
	if err := db.InsertErrorEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	_, five, err := db.CountErrors(ctx, d.DeploymentID, t0)
	if err != nil || five != n {
		t.Fatalf("stored %d of %d, %v", five, n, err)
	}
	// A batch naming an unknown deployment is refused whole.
	unknown := roman.NewUUID()
	bad := append(batch[:10:10], roman.ErrorEvent{DeploymentID: unknown, OccurredAt: t0})
	re := wantCode(t, db.InsertErrorEvents(ctx, bad), roman.ENOTFOUND)
	if re.Message != "deployment "+unknown+" not found" {
		t.Errorf("message = %q", re.Message)
	}
	wantCode(t, db.InsertErrorEvents(ctx, []roman.ErrorEvent{{DeploymentID: "x"}}), roman.EINVALID)
	if _, five, _ := db.CountErrors(ctx, d.DeploymentID, t0); five != n {
		t.Errorf("refused batch changed the count to %d", five)
	}
	if err := db.InsertErrorEvents(ctx, nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
}

// testDirectErrorInsert inserts an error the way an application may on
// PostgreSQL: straight into the table, relying on the column defaults.
func testDirectErrorInsert(t *testing.T, db *sqldb.DB) {
	d := newDeployment("production", "v1", t0, roman.StatusSuccess)
	mustCreate(t, db, d)
	if _, err := db.SQL().ExecContext(ctx, db.Rebind(`INSERT INTO error_events (deployment_id, message) VALUES (?, ?)`),
		d.DeploymentID, "boom"); err != nil {
		t.Fatal(err)
	}
	one, five, err := db.CountErrors(ctx, d.DeploymentID, time.Now().Add(time.Second))
	if err != nil || one != 1 || five != 1 {
		t.Fatalf("CountErrors = %d, %d, %v; want the directly inserted error", one, five, err)
	}
}

func testLatestMetrics(t *testing.T, db *sqldb.DB) {
	d := newDeployment("production", "v1", t0, roman.StatusSuccess)
	mustCreate(t, db, d)
	s := func(name string, v float64, at time.Duration) roman.MetricSample {
		return roman.MetricSample{DeploymentID: d.DeploymentID, Environment: "production", Name: name, Value: v, At: t0.Add(at)}
	}
	samples := []roman.MetricSample{
		s("p95_response_time_ms", 100, -50*time.Second),
		s("p95_response_time_ms", 250.5, -10*time.Second),
		s("p95_response_time_ms", 999, time.Second),   // after now
		s("memory_usage_percent", 40, -2*time.Minute), // before since
		s("memory_usage_percent", 70, -30*time.Second),
		s("memory_usage_percent", 71, -30*time.Second), // same time: the later insert wins
		s("old_only", 1, -10*time.Minute),
	}
	if err := db.InsertMetricSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	got, err := db.LatestMetrics(ctx, d.DeploymentID, t0.Add(-time.Minute), t0)
	want := map[string]float64{"p95_response_time_ms": 250.5, "memory_usage_percent": 71}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("LatestMetrics = %v, %v; want %v", got, err, want)
	}
	bad := []roman.MetricSample{{DeploymentID: roman.NewUUID(), Name: "x", At: t0}}
	wantCode(t, db.InsertMetricSamples(ctx, bad), roman.ENOTFOUND)
}

func testAPIKeys(t *testing.T, db *sqldb.DB) {
	keys, err := db.ListAPIKeys(ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("fresh store keys = %v, %v", keys, err)
	}
	admin := &roman.APIKey{Name: "bootstrap", Role: roman.RoleAdmin, Hash: roman.HashKey("secret-1-0123456789abcdef"), CreatedAt: t0}
	ci := &roman.APIKey{Name: "ci", Role: roman.RoleDeploy, Hash: roman.HashKey("secret-2-0123456789abcdef")}
	for _, k := range []*roman.APIKey{admin, ci} {
		if err := db.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	dup := &roman.APIKey{Name: "again", Role: roman.RoleRead, Hash: admin.Hash}
	wantCode(t, db.CreateAPIKey(ctx, dup), roman.ECONFLICT)
	wantCode(t, db.CreateAPIKey(ctx, &roman.APIKey{Name: "x", Hash: "h"}), roman.EINVALID)
	keys, err = db.ListAPIKeys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("ListAPIKeys = %v, %v", keys, err)
	}
	if k := keys[0]; k.Name != "bootstrap" || k.Role != roman.RoleAdmin || k.Hash != admin.Hash || !k.CreatedAt.Equal(t0.Truncate(time.Microsecond)) {
		t.Errorf("key round trip: %+v", k)
	}
	if k, ok := roman.NewKeyring(keys).Lookup("secret-2-0123456789abcdef"); !ok || k.Role != roman.RoleDeploy {
		t.Errorf("keyring lookup of a stored key: %+v, %v", k, ok)
	}
}

// testConcurrentWriters hammers the store from many goroutines: no caller
// may see a busy or locked error.
func testConcurrentWriters(t *testing.T, db *sqldb.DB) {
	d := newDeployment("production", "v1", t0, roman.StatusSuccess)
	mustCreate(t, db, d)
	const workers, each = 32, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*4)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				x := newDeployment(fmt.Sprint("env-", w), fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second), roman.StatusInProgress)
				errs <- db.CreateDeployment(ctx, x)
				status := roman.StatusSuccess
				_, err := db.UpdateDeployment(ctx, x.DeploymentID, roman.DeploymentUpdate{Status: &status})
				errs <- err
				errs <- db.InsertErrorEvents(ctx, []roman.ErrorEvent{{DeploymentID: d.DeploymentID, OccurredAt: t0}})
				if _, err := db.ListDeployments(ctx, roman.DeploymentFilter{Environment: x.Environment}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent write: %v", err)
		}
	}
	all, err := db.ListDeployments(ctx, roman.DeploymentFilter{Limit: 1000})
	if err != nil || len(all) != workers*each+1 {
		t.Fatalf("%d deployments after concurrent writes, %v", len(all), err)
	}
}
