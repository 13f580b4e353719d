package appdb_test

import (
	"errors"
	"testing"

	"github.com/odyssey-1/roman/appdb"
)

// TestRunScripts runs rollback scripts on both dialects: all in one
// transaction, several statements per script, and a failing script leaves
// the database exactly as it was.
func TestRunScripts(t *testing.T) {
	eachApp(t, func(t *testing.T, _ string, db *appdb.DB) {
		// Two "migrations" applied by a deploy.
		if err := db.RunScripts(ctx, []string{
			`CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL)`,
			`ALTER TABLE users ADD COLUMN nickname text; CREATE TABLE audit (id integer PRIMARY KEY)`,
		}); err != nil {
			t.Fatal(err)
		}
		applied, _, err := db.Inspect(ctx)
		if err != nil {
			t.Fatal(err)
		}

		// A failing second script: the first one's DROP is undone too.
		err = db.RunScripts(ctx, []string{`DROP TABLE audit`, `ALTER TABLE no_such_table DROP COLUMN x`})
		var se *appdb.ScriptError
		if !errors.As(err, &se) || se.Index != 1 {
			t.Fatalf("want ScriptError at index 1, got %v", err)
		}
		if h, _, _ := db.Inspect(ctx); h != applied {
			t.Fatal("a failed RunScripts changed the schema")
		}

		// The rollback scripts in reverse order restore the empty schema.
		if err := db.RunScripts(ctx, []string{
			`DROP TABLE audit; ALTER TABLE users DROP COLUMN nickname`,
			`DROP TABLE users`,
		}); err != nil {
			t.Fatal(err)
		}
		_, counts, err := db.Inspect(ctx)
		if err != nil || len(counts) != 0 {
			t.Fatalf("after rollback: %v %v", counts, err)
		}
	})
}
