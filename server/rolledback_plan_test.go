package server

import (
	"strings"
	"testing"
)

// TestRolledBackMarkPlans checks, without timing, that marking a release
// rolled_back reads and writes one row by an index on both stores, however
// large the history: the lookup by deployment_id (the unique index) and the
// UPDATE by id (the primary key). Neither table holds a trigger or foreign
// key that reaches error_events, which has none.
func TestRolledBackMarkPlans(t *testing.T) {
	eachStore(t, func(t *testing.T, m *Server) {
		seedErrorHistory(t, m.Store, 20_000)
		for _, q := range []string{
			`SELECT status FROM deployments WHERE deployment_id = '00000000-0000-4000-8000-000000000001'`,
			`UPDATE deployments SET status = 'rolled_back', rolled_back_at = NULL WHERE id = 1`,
		} {
			plan := explain(t, m.Store, q)
			if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "SCAN deployments") ||
				!strings.Contains(plan, "Index") && !strings.Contains(plan, "INDEX") && !strings.Contains(plan, "PRIMARY KEY") {
				t.Errorf("%s\nwalks the table:\n%s", q, plan)
			}
		}
	})
}
