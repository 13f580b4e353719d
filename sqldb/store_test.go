package sqldb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/sqldb"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// opener returns a fresh, migrated store for one test.
type opener func(t *testing.T) *sqldb.DB

func openSQLite(t *testing.T) *sqldb.DB {
	t.Helper()
	return openURL(t, testkit.SQLiteURL(t))
}

func openURL(t *testing.T, url string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// eachDB runs fn as one subtest per store (testkit.Stores) on a fresh,
// migrated store.
func eachDB(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	t.Helper()
	testkit.EachStore(t, func(t *testing.T, url string) { fn(t, openURL(t, url)) })
}

// eachSuite runs suite as one subtest per store (testkit.Stores); each test
// of the suite opens its own fresh store of that kind.
func eachSuite(t *testing.T, suite func(t *testing.T, open opener)) {
	t.Helper()
	for _, s := range testkit.Stores {
		t.Run(s.Name, func(t *testing.T) {
			s.URL(t) // skips (or fails on CI) once, before the subtests, when there is no server
			suite(t, func(t *testing.T) *sqldb.DB {
				t.Helper()
				return openURL(t, s.URL(t))
			})
		})
	}
}

// TestStore runs the behavioural suite on both stores.
func TestStore(t *testing.T) { eachSuite(t, runStoreSuite) }

// runStoreSuite is the one behavioural suite both stores must pass.
func runStoreSuite(t *testing.T, open opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *sqldb.DB)
	}{
		{"DeploymentRoundTrip", testDeploymentRoundTrip},
		{"DeploymentConflicts", testDeploymentConflicts},
		{"ListDeployments", testListDeployments},
		{"TieBreakByID", testTieBreakByID},
		{"UpdateDeployment", testUpdateDeployment},
		{"IllegalTransitions", testIllegalTransitions},
		{"FindRollbackTarget", testFindRollbackTarget},
		{"CurrentDeployment", testCurrentDeployment},
		{"Services", testServices},
		{"OneUnfinishedRollback", testOneUnfinishedRollback},
		{"ConcurrentRollbacks", testConcurrentRollbacks},
		{"AppendRollbackStep", testAppendRollbackStep},
		{"ConcurrentAppend", testConcurrentAppend},
		{"RollbackEventUpdateList", testRollbackEventUpdateList},
		{"Snapshots", testSnapshots},
		{"Migrations", testMigrations},
		{"RomanEvents", testRomanEvents},
		{"CountErrors", testCountErrors},
		{"ErrorBatches", testErrorBatches},
		{"DirectErrorInsert", testDirectErrorInsert},
		{"LatestMetrics", testLatestMetrics},
		{"APIKeys", testAPIKeys},
		{"ConcurrentWriters", testConcurrentWriters},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// t0 is the suite's reference time, with sub-microsecond noise that the
// stores must truncate.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)

var ctx = context.Background()

// newDeployment returns a valid deployment of env deployed at `at`.
func newDeployment(env, version string, at time.Time, status string) *roman.Deployment {
	return &roman.Deployment{
		DeploymentID: roman.NewUUID(), Environment: env, Version: version,
		GitCommit: "c-" + version, GitBranch: "main", DeployedAt: at, Status: status,
	}
}

// mustCreate records deployments or fails the test.
func mustCreate(t *testing.T, db *sqldb.DB, ds ...*roman.Deployment) {
	t.Helper()
	for _, d := range ds {
		if err := db.CreateDeployment(ctx, d); err != nil {
			t.Fatalf("CreateDeployment(%s): %v", d.Version, err)
		}
	}
}

// wantCode fails unless err carries the roman error code.
func wantCode(t *testing.T, err error, code string) *roman.Error {
	t.Helper()
	if got := roman.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	var re *roman.Error
	errors.As(err, &re)
	return re
}

// jsonEqual reports whether two JSON documents are equal as values
// (PostgreSQL's jsonb normalises spacing and key order).
func jsonEqual(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("bad JSON %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("bad JSON %s: %v", b, err)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

func versions(ds []*roman.Deployment) string {
	var v []string
	for _, d := range ds {
		v = append(v, d.Version)
	}
	return strings.Join(v, ",")
}
