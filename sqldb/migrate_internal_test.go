package sqldb

import (
	"context"
	"io/fs"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/odyssey-1/roman/internal/testkit"
)

// TestHealthAlertsMigrationDown: migration 00022 (alert_triggers in
// health_settings, the PostgreSQL health function reading firing alerts)
// rolls back to the schema before it — the column gone, the function of
// 00008 answering again — and applies again.
func TestHealthAlertsMigrationDown(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db, err := Open(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dir, err := fs.Sub(migrations, "migrations/"+db.dialect)
		if err != nil {
			t.Fatal(err)
		}
		dialect, opts := goose.DialectSQLite3, []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
		if db.dialect == DialectPostgres {
			dialect, opts = goose.DialectPostgres, append(opts, goose.WithTableName(Schema+".goose_db_version"))
		}
		p, err := goose.NewProvider(dialect, db.db, dir, opts...)
		if err != nil {
			t.Fatal(err)
		}
		hasColumn := func() bool {
			t.Helper()
			q := `SELECT count(*) FROM pragma_table_info('health_settings') WHERE name = 'alert_triggers'`
			if db.dialect == DialectPostgres {
				q = `SELECT count(*) FROM information_schema.columns WHERE table_schema = 'ops'
					AND table_name = 'health_settings' AND column_name = 'alert_triggers'`
			}
			var n int
			if err := db.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n == 1
		}
		health := func() {
			t.Helper()
			if db.dialect != DialectPostgres {
				return
			}
			var raw []byte
			if err := db.db.QueryRowContext(ctx, `SELECT ops.get_deployment_health(gen_random_uuid())`).Scan(&raw); err != nil || raw != nil {
				t.Fatalf("health function: %s %v", raw, err)
			}
		}
		if !hasColumn() {
			t.Fatal("alert_triggers missing after the migrations")
		}
		if _, err := p.DownTo(ctx, 21); err != nil {
			t.Fatal(err)
		}
		if hasColumn() {
			t.Fatal("alert_triggers still there after migrating down")
		}
		health()
		if _, err := p.Up(ctx); err != nil {
			t.Fatal(err)
		}
		if !hasColumn() {
			t.Fatal("alert_triggers missing after migrating up again")
		}
		health()
	})
}
