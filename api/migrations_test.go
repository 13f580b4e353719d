package api

import (
	"context"
	"testing"

	"github.com/odyssey-1/roman"
)

// TestRecordMigrationAnswers: the handler answers what the service decided:
// 201 with a Location for a new row, 200 with the stored row for a re-send,
// 409 for a conflicting one, and the request's fields reach the service.
func TestRecordMigrationAnswers(t *testing.T) {
	f := newFixture(t)
	path := "/deployments/" + depID + "/migrations"
	body := `{"migration_name":"0001_orders","migration_hash":"sha256:ab","rollback_script":"DROP TABLE orders;"}`
	var got *roman.Migration
	created, conflict := true, false
	f.deps.RecordMigrationFn = func(_ context.Context, m *roman.Migration) (*roman.Migration, bool, error) {
		got = m
		if conflict {
			return nil, false, roman.Errorf(roman.ECONFLICT, "migration %s is already recorded with another deployment or hash", m.MigrationName)
		}
		out := *m
		out.ID = 7
		return &out, created, nil
	}
	r := f.do("POST", path, deployToken, body).expect(t, 201)
	if r.header.Get("Location") != path || r.json(t)["id"] != float64(7) {
		t.Fatalf("created: Location %q, body %s", r.header.Get("Location"), r.body)
	}
	if got.DeploymentID != depID || got.MigrationName != "0001_orders" || got.RollbackScript == nil || !got.AppliedAt.IsZero() {
		t.Fatalf("service got %+v", got)
	}
	created = false
	if r := f.do("POST", path, deployToken, body).expect(t, 200); r.header.Get("Location") != "" {
		t.Fatalf("re-send answered with a Location")
	}
	conflict = true
	f.do("POST", path, deployToken, body).expect(t, 409)
}
