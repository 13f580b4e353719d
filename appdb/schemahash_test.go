package appdb_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/odyssey-1/roman/appdb"
	"github.com/odyssey-1/roman/internal/testpg"
)

// TestInspectSchemaHashPostgresTypes checks that on PostgreSQL the schema
// hash is the one information_schema.columns describes (each base table's
// columns with data_type, or udt_name for arrays and user-defined types)
// for every kind of column type: built-in types with modifiers, arrays,
// enums and arrays of them, composite types, domains over a built-in type,
// an array or an enum, a partitioned table and its partition, a table in
// another schema, a dropped column; views stay out.
func TestInspectSchemaHashPostgresTypes(t *testing.T) {
	db, err := appdb.Open(testpg.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TYPE mood AS ENUM ('ok', 'sad')`,
		`CREATE TYPE pair AS (a integer, b text)`,
		`CREATE DOMAIN positive AS integer CHECK (VALUE > 0)`,
		`CREATE DOMAIN tags AS text[]`,
		`CREATE DOMAIN feeling AS mood`,
		`CREATE SCHEMA billing`,
		`CREATE TABLE kinds (id bigserial PRIMARY KEY, name varchar(40), price numeric(10,2), at timestamptz,
			local timestamp(3), doc jsonb, raw bytea, flag boolean, f float8, r real, c char(3), ip inet, u uuid,
			ints integer[], moods mood[], m mood, p pair, pos positive, tg tags, fe feeling, iv interval,
			bits bit varying(8), gone integer)`,
		`ALTER TABLE kinds DROP COLUMN gone`,
		`CREATE TABLE events (id integer, at date NOT NULL) PARTITION BY RANGE (at)`,
		`CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`,
		`CREATE TABLE billing."Invoice Lines" ("qty ""x""" smallint, amount money)`,
		`CREATE VIEW kinds_view AS SELECT id, name FROM kinds`,
	} {
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rows, err := db.SQL().QueryContext(ctx, `SELECT c.table_schema || '.' || c.table_name, c.column_name,
		CASE WHEN c.data_type IN ('ARRAY', 'USER-DEFINED') THEN c.udt_name ELSE c.data_type END
		FROM information_schema.columns c JOIN information_schema.tables b
			ON b.table_schema = c.table_schema AND b.table_name = c.table_name AND b.table_type = 'BASE TABLE'
		WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema')`)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		var table, col, typ string
		if err := rows.Scan(&table, &col, &typ); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%s\t%s\t%s\n", table, col, typ))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "")))
	want := hex.EncodeToString(sum[:])
	got, counts, err := db.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("schema hash %s, information_schema gives %s over:\n%s", got, want, strings.Join(lines, ""))
	}
	for _, table := range []string{"public.kinds", "public.events", "public.events_2026", `billing.Invoice Lines`} {
		if _, ok := counts[table]; !ok {
			t.Errorf("table %s missing from the counts %v", table, counts)
		}
	}
	if _, ok := counts["public.kinds_view"]; ok {
		t.Errorf("a view was counted: %v", counts)
	}
}
