package appdb_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/appdb"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/sqldb"
)

func TestMain(m *testing.M) { testpg.Main(m) }

var ctx = context.Background()

// eachApp runs fn as one parallel subtest per store (testkit.Stores), named
// after it, on a fresh application database of that kind.
func eachApp(t *testing.T, fn func(t *testing.T, name string, db *appdb.DB)) {
	t.Helper()
	for _, s := range testkit.Stores {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			db, err := appdb.Open(s.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			fn(t, s.Name, db)
		})
	}
}

func TestInspect(t *testing.T) {
	// prefix is how Inspect names a table of the default schema.
	prefix := map[string]string{"sqlite": "", "postgres": "public."}
	eachApp(t, func(t *testing.T, name string, db *appdb.DB) {
		if db.Dialect() != name {
			t.Errorf("Dialect() = %q", db.Dialect())
		}
		exec := func(q string) {
			t.Helper()
			if _, err := db.SQL().ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		empty, counts, err := db.Inspect(ctx)
		if err != nil || len(counts) != 0 || len(empty) != 64 {
			t.Fatalf("empty database: %q, %v, %v", empty, counts, err)
		}
		exec(`CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL)`)
		exec(`CREATE TABLE "Order Items" (id integer PRIMARY KEY, "qty ""x""" integer)`)
		h1, counts, err := db.Inspect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{prefix[name] + "users": 0, prefix[name] + "Order Items": 0}
		if h1 == empty || !reflect.DeepEqual(counts, want) {
			t.Fatalf("after CREATE: %q, %v; want a new hash and %v", h1, counts, want)
		}

		exec(`INSERT INTO users (id, email) VALUES (1, 'a@example.com'), (2, 'b@example.com'), (3, 'c@example.com')`)
		exec(`INSERT INTO "Order Items" (id, "qty ""x""") VALUES (1, 5)`)
		h2, counts, err := db.Inspect(ctx)
		want = map[string]int64{prefix[name] + "users": 3, prefix[name] + "Order Items": 1}
		if err != nil || h2 != h1 || !reflect.DeepEqual(counts, want) {
			t.Fatalf("after INSERT: hash changed %v, counts %v (want %v), %v", h2 != h1, counts, want, err)
		}

		exec(`CREATE VIEW active_users AS SELECT * FROM users`)
		if h, _, _ := db.Inspect(ctx); h != h1 {
			t.Errorf("a view changed the table schema hash")
		}

		exec(`ALTER TABLE users ADD COLUMN name text`)
		h3, _, err := db.Inspect(ctx)
		if err != nil || h3 == h2 {
			t.Fatalf("adding a column did not change the hash (%v)", err)
		}
		exec(`ALTER TABLE users DROP COLUMN name`)
		if h4, _, _ := db.Inspect(ctx); h4 != h1 {
			t.Errorf("dropping the column again did not restore the hash")
		}
	})
}

// TestInspectRomanDB inspects roman's own store through New, as the server
// does when no application database is configured.
func TestInspectRomanDB(t *testing.T) {
	store, err := sqldb.Open(ctx, testkit.SQLiteURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	db := appdb.New(store.SQL(), store.Dialect())
	hash, counts, err := db.Inspect(ctx)
	if err != nil || hash == "" {
		t.Fatalf("Inspect: %q, %v", hash, err)
	}
	if _, ok := counts["deployments"]; !ok {
		t.Errorf("roman's tables missing from %v", counts)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := store.Ping(ctx); err != nil {
		t.Errorf("Close of a wrapped pool closed it: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := appdb.Open("mysql://x/y"); err == nil {
		t.Error("Open accepted a mysql URL")
	}
}

// TestInspectCountsBounded checks that large tables are not counted row by
// row: a table of fewer than CountBound rows gets its exact count, a larger
// one the bound as a lower bound or an estimate, labelled as such, and after
// ANALYZE an estimate from the statistics close to the real size.
func TestInspectCountsBounded(t *testing.T) {
	prefix := map[string]string{"sqlite": "", "postgres": "public."}
	eachApp(t, func(t *testing.T, name string, db *appdb.DB) {
		exec := func(q string) {
			t.Helper()
			if _, err := db.SQL().ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		const big = appdb.CountBound*3 + 7
		exec(`CREATE TABLE small (id integer PRIMARY KEY)`)
		exec(`CREATE TABLE big (id integer PRIMARY KEY, v text)`)
		exec(`INSERT INTO small (id) VALUES (1), (2)`)
		if name == "postgres" {
			exec(fmt.Sprintf(`INSERT INTO big (id, v) SELECT i, 'x' FROM generate_series(1, %d) i`, big))
		} else {
			exec(fmt.Sprintf(`INSERT INTO big (id, v) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) SELECT i, 'x' FROM n`, big))
		}
		smallName, bigName := prefix[name]+"small", prefix[name]+"big"
		_, counts, methods, err := db.InspectCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts[smallName] != 2 || methods[smallName] != roman.CountExact {
			t.Errorf("small table: %d %q, want 2 exact", counts[smallName], methods[smallName])
		}
		switch m := methods[bigName]; {
		case m == roman.CountAtLeast && counts[bigName] == appdb.CountBound:
		case m == roman.CountEstimate && counts[bigName] >= appdb.CountBound:
		default:
			t.Errorf("big table before ANALYZE: %d %q, want at_least %d or an estimate", counts[bigName], m, appdb.CountBound)
		}
		// The seed's readers of table_counts still get one number per table.
		if _, c, err := db.Inspect(ctx); err != nil || !reflect.DeepEqual(c, counts) {
			t.Errorf("Inspect counts %v, InspectCounts %v (%v)", c, counts, err)
		}

		exec(`ANALYZE`)
		_, counts, methods, err = db.InspectCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := counts[bigName]; methods[bigName] != roman.CountEstimate || n < big*9/10 || n > big*11/10 {
			t.Errorf("big table after ANALYZE: %d %q, want an estimate near %d", n, methods[bigName], big)
		}
		if counts[smallName] != 2 || methods[smallName] != roman.CountExact {
			t.Errorf("small table after ANALYZE: %d %q, want 2 exact", counts[smallName], methods[smallName])
		}
	})
}
