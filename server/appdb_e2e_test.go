package server

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
)

// TestSnapshotsOfConfiguredApplicationDatabase points ROMAN_APP_DATABASE at
// an application database apart from roman's own (SQLite and PostgreSQL) and
// checks that snapshots count its tables, that a diff sees rows and schema
// change, and that the redacted configuration hides the database password.
const appPassword = "app-db-s3cret"

func TestSnapshotsOfConfiguredApplicationDatabase(t *testing.T) {
	for _, tc := range []struct {
		name, driver string
		url          func(t *testing.T) (url, dsn string)
	}{
		{"sqlite", "sqlite", func(t *testing.T) (string, string) {
			p := filepath.Join(t.TempDir(), "app.db")
			return "sqlite://" + p, p
		}},
		{"postgres", "pgx", func(t *testing.T) (string, string) {
			// The test server trusts loopback, so a password in the URL is
			// accepted and ignored: it is there to prove it never leaks.
			u := testpg.URL(t)
			return strings.Replace(u, "postgres://postgres@", "postgres://postgres:"+appPassword+"@", 1), u
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			appURL, dsn := tc.url(t)
			app, err := sql.Open(tc.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer app.Close()
			exec := func(q string) {
				t.Helper()
				if _, err := app.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			exec(`CREATE TABLE orders (id integer PRIMARY KEY, total numeric)`)
			exec(`INSERT INTO orders (id, total) VALUES (1, 10), (2, 20)`)

			m := startServer(t, testkit.SQLiteURL(t), map[string]string{"ROMAN_APP_DATABASE": appURL})
			base := m.URL()
			_, d := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v1","git_commit":"abc1234","git_branch":"main"}`)
			id := d["deployment_id"].(string)
			code, a := testkit.Call(t, "POST", base+"/deployments/"+id+"/snapshots", deployToken, `{"snapshot_type":"pre_deployment"}`)
			if code != 201 {
				t.Fatalf("snapshot: %d %v", code, a)
			}
			counts := a["table_counts"].(map[string]any)
			var orders any
			for k, v := range counts {
				if k == "orders" || k == "public.orders" {
					orders = v
				}
				if k == "deployments" || k == "ops.deployments" {
					t.Fatalf("snapshot counted roman's own tables, not the application's: %v", counts)
				}
			}
			if orders != 2.0 {
				t.Fatalf("orders count: %v in %v", orders, counts)
			}
			exec(`INSERT INTO orders (id, total) VALUES (3, 30)`)
			exec(`ALTER TABLE orders ADD COLUMN note text`)
			_, b := testkit.Call(t, "POST", base+"/deployments/"+id+"/snapshots", deployToken, `{"snapshot_type":"post_deployment"}`)
			code, diff := testkit.Call(t, "GET", base+"/snapshots/"+a["snapshot_id"].(string)+"/diff/"+b["snapshot_id"].(string), readToken, "")
			if code != 200 || diff["schema_changed"] != true {
				t.Fatalf("diff: %d %v", code, diff)
			}
			for k, v := range diff["table_count_deltas"].(map[string]any) {
				if (k == "orders" || k == "public.orders") && v != 1.0 {
					t.Fatalf("orders delta %v", v)
				}
			}
			if tc.name == "postgres" && !strings.Contains(appURL, appPassword) {
				t.Fatalf("test URL %q carries no password", appURL)
			}
			for _, snap := range []map[string]any{a, b, diff} {
				raw, _ := json.Marshal(snap)
				if strings.Contains(string(raw), appPassword) {
					t.Fatalf("the application database password leaked: %s", raw)
				}
			}
		})
	}
}
