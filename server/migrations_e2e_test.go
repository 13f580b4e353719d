package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odyssey-1/roman/appdb"
	"github.com/odyssey-1/roman/internal/testkit"
)

// TestMigrationsOverHTTP: CI records a deploy's migrations (API and CLI),
// and a manual rollback with with_migrations undoes them in the application
// database, newest first, on both stores; a broken script aborts the next
// rollback and makes the database inconsistent for the constitution.
func TestMigrationsOverHTTP(t *testing.T) {
	for _, s := range testkit.Stores {
		bin := buildRoman(t)
		t.Run(s.Name, func(t *testing.T) {
			ctx := context.Background()
			appURL := testkit.SQLiteURL(t)
			app, err := appdb.Open(appURL)
			if err != nil {
				t.Fatal(err)
			}
			defer app.Close()
			if err := app.RunScripts(ctx, []string{`CREATE TABLE users (id integer PRIMARY KEY)`}); err != nil {
				t.Fatal(err)
			}
			m := startServer(t, s.URL(t), map[string]string{"ROMAN_APP_DATABASE": appURL})
			base := m.URL()
			testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v2.5.2","git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true,"deployed_at":"2025-12-15T13:45:00Z"}`)
			_, bad := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v2.5.3","git_commit":"b81c4d0","git_branch":"main","status":"success"}`)
			badID := bad["deployment_id"].(string)

			// The deploy applied two migrations.
			if err := app.RunScripts(ctx, []string{`CREATE TABLE orders (id integer PRIMARY KEY)`, `ALTER TABLE users ADD COLUMN email text`}); err != nil {
				t.Fatal(err)
			}
			body := `{"migration_name":"20251215_0001_orders","migration_hash":"sha256:aa","execution_time_ms":42,"rollback_script":"DROP TABLE orders","applied_at":"2025-12-15T14:00:00Z"}`
			code, rec := testkit.Call(t, "POST", base+"/deployments/"+badID+"/migrations", deployToken, body)
			if code != 201 || rec["migration_name"] != "20251215_0001_orders" || rec["rollback_successful"] != nil {
				t.Fatalf("record: %d %v", code, rec)
			}
			if code, again := testkit.Call(t, "POST", base+"/deployments/"+badID+"/migrations", deployToken, body); code != 200 || again["id"] != rec["id"] {
				t.Fatalf("idempotent re-send: %d %v", code, again)
			}
			if code, out := testkit.Call(t, "POST", base+"/deployments/"+badID+"/migrations", deployToken, strings.Replace(body, "sha256:aa", "sha256:bb", 1)); code != 409 {
				t.Fatalf("same name, other hash: %d %v", code, out)
			}
			for _, bad := range []struct{ body, field string }{
				{`{"migration_hash":"h"}`, "migration_name"},
				{`{"migration_name":"x","migration_hash":"h","execution_time_ms":-5}`, "execution_time_ms"},
				{`{"migration_name":"x","migration_hash":"h","execution_time_ms":99999999999}`, "execution_time_ms"},
				{`{"migration_name":"x","migration_hash":"h","applied_at":"0000-01-01T00:00:00+01:00"}`, "applied_at"},
				{`{"migration_name":"x","migration_hash":"h","rollback_scipt":"DROP"}`, "rollback_scipt"},
			} {
				if code, out := testkit.Call(t, "POST", base+"/deployments/"+badID+"/migrations", deployToken, bad.body); code != 400 || !strings.Contains(out["error"].(string), bad.field) {
					t.Errorf("%s: %d %v", bad.body, code, out)
				}
			}
			if code, _ := testkit.Call(t, "POST", base+"/deployments/"+badID+"/migrations", readToken, body); code != 403 {
				t.Errorf("read key recorded a migration: %d", code)
			}

			// The second migration through the CLI, its script from a file.
			down := filepath.Join(t.TempDir(), "0002.down.sql")
			os.WriteFile(down, []byte("ALTER TABLE users DROP COLUMN email;\n"), 0o600)
			up := filepath.Join(t.TempDir(), "0002.up.sql")
			os.WriteFile(up, []byte("ALTER TABLE users ADD COLUMN email text;\n"), 0o600)
			out, _, err := cliRun(t, bin, "migrations", "record", badID, "--name", "20251215_0002_user_email", "--migration-file", up,
				"--rollback-file", down, "--applied-at", "2025-12-15T14:00:01Z", "--server", base, "--token", deployToken)
			if err != nil || !strings.Contains(out, "20251215_0002_user_email") || !strings.Contains(out, "sha256:") {
				t.Fatalf("cli record: %v\n%s", err, out)
			}
			out, _, err = cliRun(t, bin, "migrations", "list", badID, "--server", base, "--token", readToken, "--output", "json")
			var listed []map[string]any
			if err != nil || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 2 || listed[1]["rollback_script"] != "ALTER TABLE users DROP COLUMN email;\n" {
				t.Fatalf("cli list: %v\n%s", err, out)
			}

			// A manual rollback with with_migrations undoes both, newest first.
			code, res := testkit.Call(t, "POST", base+"/auto-rollback", adminToken, `{"deployment_id":"`+badID+`","trigger_reason":"orders migration broke checkout","with_migrations":true}`)
			if code != 200 || res["status"] != "success" {
				t.Fatalf("rollback: %d %v", code, res)
			}
			_, counts, _ := app.Inspect(ctx)
			if _, ok := counts["orders"]; ok || len(counts) != 1 {
				t.Fatalf("application tables after the rollback: %v", counts)
			}
			_, list := testkit.Call(t, "GET", base+"/deployments/"+badID+"/migrations", readToken, "")
			for _, x := range list["migrations"].([]any) {
				mig := x.(map[string]any)
				if mig["rollback_successful"] != true || mig["rolled_back_at"] == nil {
					t.Errorf("migration after rollback: %v", mig)
				}
			}
			out, _, _ = cliRun(t, bin, "migrations", "list", badID, "--server", base, "--token", readToken)
			if !strings.Contains(out, "ROLLED BACK AT") || strings.Count(out, " ok ") != 2 {
				t.Errorf("cli table:\n%s", out)
			}
			if code, _ := testkit.Call(t, "GET", base+"/deployments/00000000-0000-4000-8000-000000000000/migrations", readToken, ""); code != 404 {
				t.Errorf("unknown deployment: %d", code)
			}
		})
	}
}
