package testpg_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/odyssey-1/roman/internal/testpg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

func TestURL(t *testing.T) {
	ran := filepath.Join(t.TempDir(), "pg-ran")
	t.Setenv(testpg.EnvRanFile, ran)
	a, b := testpg.URL(t), testpg.URL(t)
	if a == b {
		t.Fatalf("two databases share the URL %s", a)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tables int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_schema NOT IN ('pg_catalog', 'information_schema')`).Scan(&tables)
	if err != nil || tables != 0 {
		t.Fatalf("fresh database has %d tables, %v", tables, err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE t (id int)`); err != nil {
		t.Fatalf("cannot create a table: %v", err)
	}
	out, err := os.ReadFile(ran)
	if err != nil || strings.Count(string(out), "\n") != 2 || !strings.Contains(string(out), t.Name()) {
		t.Fatalf("%s = %q, %v; want one line per database", testpg.EnvRanFile, out, err)
	}
}
