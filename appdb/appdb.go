// Package appdb implements roman.AppDatabase: it inspects the application's
// database (SQLite or PostgreSQL) for snapshots, giving a hash of its schema
// and the row count of every table: exact for small tables, estimated from
// the database's statistics or bounded for large ones, so that a snapshot
// costs the same with ten rows or ten million.
package appdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/odyssey-1/roman"
)

// DB is an application database. It is safe for concurrent use.
type DB struct {
	db      *sql.DB
	dialect string
	owned   bool // Close closes db only when Open opened it
}

var _ roman.AppDatabase = (*DB)(nil)

// Open connects to the application database at rawURL: a SQLite file (URL
// forms as in roman.ParseDatabaseURL) or a postgres:// URL. Unlike roman's own store
// it changes nothing in the database: no migrations, no journal mode.
func Open(rawURL string) (*DB, error) {
	dialect, target, err := roman.ParseDatabaseURL(rawURL)
	if err != nil {
		return nil, err
	}
	driver, dsn := "pgx", target
	if dialect == roman.DialectSQLite {
		path, extra, _ := strings.Cut(target, "?")
		driver, dsn = "sqlite", path+"?_pragma=busy_timeout(10000)"
		if extra != "" {
			dsn += "&" + extra
		}
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, &roman.Error{Code: roman.EINTERNAL, Err: fmt.Errorf("appdb: open: %w", err)}
	}
	db.SetMaxOpenConns(4)
	return &DB{db: db, dialect: dialect, owned: true}, nil
}

// New wraps an existing connection pool of the given dialect ("sqlite" or
// "postgres"), for example roman's own database from sqldb.DB.SQL(). Close
// leaves such a pool open.
func New(db *sql.DB, dialect string) *DB {
	return &DB{db: db, dialect: dialect}
}

// SQL returns the connection pool, for running migration rollback scripts.
func (d *DB) SQL() *sql.DB { return d.db }

// Dialect returns "sqlite" or "postgres".
func (d *DB) Dialect() string { return d.dialect }

// Close closes the pool when Open created it.
func (d *DB) Close() error {
	if d.owned {
		return d.db.Close()
	}
	return nil
}

// column is one (table, column, type) of the schema.
type column struct{ table, name, typ string }

// CountBound is how many rows of a table Inspect counts at most. A table
// with fewer rows gets its exact count (roman.CountExact); a larger one an
// estimate from the database's statistics (roman.CountEstimate) or, when
// there is none, the bound itself as a lower bound (roman.CountAtLeast).
// Counting every row of a table of millions took most of a rollback's time.
const CountBound = 10_000

// Inspect returns the hex SHA-256 over the sorted (table, column, type) list
// of the database's tables and the row count of every table (see
// InspectCounts for how each is counted).
func (d *DB) Inspect(ctx context.Context) (schemaHash string, tableCounts map[string]int64, err error) {
	schemaHash, tableCounts, _, err = d.InspectCounts(ctx)
	return schemaHash, tableCounts, err
}

// InspectCounts is Inspect that also says how every table was counted:
// methods maps each table to roman.CountExact (fewer than CountBound rows,
// counted), roman.CountEstimate (from statistics: PostgreSQL's
// pg_class.reltuples, or pg_stat_user_tables.n_live_tup before the first
// ANALYZE; SQLite's sqlite_stat1 after ANALYZE, else the span of the rowids)
// or roman.CountAtLeast (no statistics: the count is CountBound, a lower
// bound). On PostgreSQL tables of every non-system schema are included,
// named schema.table, and read in one repeatable-read snapshot.
func (d *DB) InspectCounts(ctx context.Context) (schemaHash string, tableCounts map[string]int64, methods map[string]string, err error) {
	var cols []column
	var tables [][2]string // {schema, table}; schema "" on SQLite
	var q querier = d.db
	if d.dialect == roman.DialectPostgres {
		tx, err := d.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
		if err != nil {
			return "", nil, nil, inspectErr(err)
		}
		defer tx.Rollback()
		q = tx
		cols, tables, err = postgresColumns(ctx, tx)
		if err != nil {
			return "", nil, nil, inspectErr(err)
		}
	} else if cols, tables, err = sqliteColumns(ctx, d.db); err != nil {
		return "", nil, nil, inspectErr(err)
	}
	sort.Slice(cols, func(i, j int) bool {
		a, b := cols[i], cols[j]
		if a.table != b.table {
			return a.table < b.table
		}
		if a.name != b.name {
			return a.name < b.name
		}
		return a.typ < b.typ
	})
	h := sha256.New()
	for _, c := range cols {
		// Tabs and newlines cannot appear unquoted in these names, so the
		// encoding is unambiguous in practice.
		fmt.Fprintf(h, "%s\t%s\t%s\n", c.table, c.name, c.typ)
	}
	var stats map[string]int64
	if d.dialect == roman.DialectPostgres {
		stats, err = postgresEstimates(ctx, q)
	} else {
		stats, err = sqliteStat1(ctx, q)
	}
	if err != nil {
		return "", nil, nil, inspectErr(err)
	}
	counts := make(map[string]int64, len(tables))
	methods = make(map[string]string, len(tables))
	// The tables the statistics do not call large are counted up to
	// CountBound each, all in one statement (one round trip instead of one
	// a table: on PostgreSQL that was most of a snapshot's time).
	type counted struct{ name, ident string }
	var todo []counted
	for _, t := range tables {
		name, ident := t[1], quoteIdent(t[1])
		if t[0] != "" {
			name, ident = t[0]+"."+t[1], quoteIdent(t[0])+"."+quoteIdent(t[1])
		}
		if est, ok := stats[name]; ok && est >= CountBound {
			// The statistics say the table is large: do not read it.
			counts[name], methods[name] = est, roman.CountEstimate
			continue
		}
		todo = append(todo, counted{name, ident})
	}
	idents := make([]string, len(todo))
	for i, c := range todo {
		idents[i] = c.ident
	}
	exact, err := boundedCounts(ctx, q, idents)
	if err != nil {
		return "", nil, nil, inspectErr(err)
	}
	for i, c := range todo {
		name, ident, n := c.name, c.ident, exact[i]
		counts[name], methods[name] = n, roman.CountExact
		if n < CountBound {
			continue
		}
		counts[name], methods[name] = CountBound, roman.CountAtLeast
		if est, ok := stats[name]; ok && est > CountBound {
			counts[name], methods[name] = est, roman.CountEstimate
		} else if d.dialect == roman.DialectSQLite {
			// The span of the rowids: exact without deletes, an upper
			// bound with them, and two index seeks at any size. A WITHOUT
			// ROWID table has none and keeps the lower bound.
			var span sql.NullInt64
			// (Each in its own subquery: only a lone min or max is a seek,
			// together they scan the table.)
			if q.QueryRowContext(ctx, "SELECT (SELECT max(rowid) FROM "+ident+") - (SELECT min(rowid) FROM "+ident+") + 1").Scan(&span) == nil && span.Int64 > CountBound {
				counts[name], methods[name] = span.Int64, roman.CountEstimate
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), counts, methods, nil
}

// boundedCounts counts the rows of every table of idents (quoted names) up
// to CountBound, in one statement, in the order of idents.
func boundedCounts(ctx context.Context, q querier, idents []string) ([]int64, error) {
	out := make([]int64, len(idents))
	if len(idents) == 0 {
		return out, nil
	}
	var b strings.Builder
	for i, ident := range idents {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&b, "SELECT %d, (SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %d) t)", i, ident, CountBound)
	}
	rows, err := q.QueryContext(ctx, b.String())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var i int
		var n int64
		if err := rows.Scan(&i, &n); err != nil {
			return nil, err
		}
		if i < 0 || i >= len(out) {
			return nil, fmt.Errorf("bounded counts: row %d of %d", i, len(out))
		}
		out[i] = n
		seen++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if seen != len(out) {
		return nil, fmt.Errorf("bounded counts: %d rows for %d tables", seen, len(out))
	}
	return out, nil
}

// postgresEstimates returns the planner's row estimate of every table
// (pg_class.reltuples, or the statistics collector's n_live_tup for a table
// never analyzed), named schema.table.
func postgresEstimates(ctx context.Context, q querier) (map[string]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT n.nspname, k.relname,
		CASE WHEN k.reltuples >= 0 THEN k.reltuples::bigint ELSE coalesce(s.n_live_tup, -1) END
		FROM pg_catalog.pg_class k JOIN pg_catalog.pg_namespace n ON n.oid = k.relnamespace
		LEFT JOIN pg_catalog.pg_stat_user_tables s ON s.relid = k.oid
		WHERE k.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		AND n.nspname NOT LIKE 'pg\_%'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var schema, table string
		var n int64
		if err := rows.Scan(&schema, &table, &n); err != nil {
			return nil, err
		}
		if n >= 0 {
			out[schema+"."+table] = n
		}
	}
	return out, rows.Err()
}

// sqliteStat1 returns the row count ANALYZE recorded for every table in
// sqlite_stat1, or nothing when ANALYZE never ran.
func sqliteStat1(ctx context.Context, q querier) (map[string]int64, error) {
	out := map[string]int64{}
	var exists int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'`).Scan(&exists); err != nil || exists == 0 {
		return out, err
	}
	rows, err := q.QueryContext(ctx, `SELECT tbl, max(CAST(stat AS INTEGER)) FROM sqlite_stat1 GROUP BY tbl`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var n int64
		if err := rows.Scan(&table, &n); err != nil {
			return nil, err
		}
		out[table] = n
	}
	return out, rows.Err()
}

// querier is *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func sqliteColumns(ctx context.Context, q querier) ([]column, [][2]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.name, p.name, p.type
		FROM sqlite_master m JOIN pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	if err != nil {
		return nil, nil, err
	}
	return collect(rows, func(rows *sql.Rows) (string, column, error) {
		var c column
		err := rows.Scan(&c.table, &c.name, &c.typ)
		return "", c, err
	})
}

// postgresColumnsSQL lists the columns of every base table (plain and
// partitioned) outside the system schemas with the schema, table, column
// and type information_schema.columns gives them (its data_type, or its
// udt_name for an array or a user-defined type), under the same
// visibility rule (tables the role owns or may use a column of), read from
// pg_catalog directly: the information_schema view computes some thirty
// columns per row that the hash does not use, and cost a pre_rollback
// snapshot (on every rollback's path) several milliseconds of the
// database's CPU. The type expression is the view's own: a domain is
// described by its base type.
const postgresColumnsSQL = `SELECT n.nspname::text, k.relname::text, a.attname::text,
	CASE WHEN t.typtype = 'd' THEN
		CASE WHEN bt.typelem <> 0 AND bt.typlen = -1 THEN coalesce(bt.typname, t.typname)::text
			WHEN nbt.nspname = 'pg_catalog' THEN format_type(t.typbasetype, NULL)
			ELSE coalesce(bt.typname, t.typname)::text END
	ELSE
		CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN coalesce(bt.typname, t.typname)::text
			WHEN nt.nspname = 'pg_catalog' THEN format_type(a.atttypid, NULL)
			ELSE coalesce(bt.typname, t.typname)::text END
	END
	FROM pg_catalog.pg_attribute a
	JOIN pg_catalog.pg_class k ON k.oid = a.attrelid
	JOIN pg_catalog.pg_namespace n ON n.oid = k.relnamespace
	JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
	JOIN pg_catalog.pg_namespace nt ON nt.oid = t.typnamespace
	LEFT JOIN (pg_catalog.pg_type bt JOIN pg_catalog.pg_namespace nbt ON nbt.oid = bt.typnamespace)
		ON t.typtype = 'd' AND t.typbasetype = bt.oid
	WHERE k.relkind IN ('r', 'p')
	AND n.nspname NOT IN ('pg_catalog', 'information_schema')
	AND n.nspname NOT LIKE 'pg\_%'
	AND a.attnum > 0 AND NOT a.attisdropped
	AND (pg_has_role(k.relowner, 'USAGE')
		OR has_column_privilege(k.oid, a.attnum, 'SELECT, INSERT, UPDATE, REFERENCES'))`

func postgresColumns(ctx context.Context, q querier) ([]column, [][2]string, error) {
	rows, err := q.QueryContext(ctx, postgresColumnsSQL)
	if err != nil {
		return nil, nil, err
	}
	return collect(rows, func(rows *sql.Rows) (string, column, error) {
		var schema string
		var c column
		err := rows.Scan(&schema, &c.table, &c.name, &c.typ)
		return schema, c, err
	})
}

// collect reads the column rows and the distinct tables they belong to;
// scan returns a row's schema ("" on SQLite) and column, whose table is
// qualified with the schema when there is one.
func collect(rows *sql.Rows, scan func(*sql.Rows) (string, column, error)) ([]column, [][2]string, error) {
	defer rows.Close()
	var cols []column
	var tables [][2]string
	seen := map[[2]string]bool{}
	for rows.Next() {
		schema, c, err := scan(rows)
		if err != nil {
			return nil, nil, err
		}
		key := [2]string{schema, c.table}
		if !seen[key] {
			seen[key] = true
			tables = append(tables, key)
		}
		if schema != "" {
			c.table = schema + "." + c.table
		}
		cols = append(cols, c)
	}
	return cols, tables, rows.Err()
}

// quoteIdent quotes an SQL identifier for both dialects.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func inspectErr(err error) error {
	return &roman.Error{Code: roman.EINTERNAL, Err: fmt.Errorf("appdb: inspect: %w", err)}
}
