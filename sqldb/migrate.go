package sqldb

import (
	"context"
	"embed"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds one goose migration set per dialect.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// migrationLockID is the PostgreSQL advisory lock id roman's migrations run
// under: crc32("roman"), distinct from goose's default id so an application
// that also uses goose on the same database does not wait on roman.
const migrationLockID int64 = 0xb096ed2d

// migrate applies the pending embedded migrations of the dialect. On
// PostgreSQL the schema is created first (goose keeps its version table in
// it) and the migrations run under a session advisory lock.
func (db *DB) migrate(ctx context.Context) error {
	dir, err := fs.Sub(migrations, "migrations/"+db.dialect)
	if err != nil {
		return internal("migrations", err)
	}
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
	}
	dialect := goose.DialectSQLite3
	if db.dialect == DialectPostgres {
		dialect = goose.DialectPostgres
		if err := db.createSchema(ctx); err != nil {
			return err
		}
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(migrationLockID),
			lock.WithLockTimeout(1, 300), // try every second for five minutes
		)
		if err != nil {
			return internal("migration lock", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker), goose.WithTableName(Schema+".goose_db_version"))
	}
	p, err := goose.NewProvider(dialect, db.db, dir, opts...)
	if err != nil {
		return internal("migrations", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return internal("apply migrations", err)
	}
	for _, r := range results {
		db.logger.Info("applied database migration", "dialect", db.dialect,
			"version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// createSchema creates schema ops when it is missing. Concurrent CREATE
// SCHEMA IF NOT EXISTS can still collide on the catalog's unique index, so
// starters take turns under a transaction-level advisory lock.
func (db *DB) createSchema(ctx context.Context) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return internal("create schema", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockID); err != nil {
		return internal("create schema", err)
	}
	// Look first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even
	// when the schema exists, and a DBA may have created it for a role
	// without that privilege.
	var exists bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", Schema).Scan(&exists); err != nil {
		return internal("create schema", err)
	}
	if exists {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+Schema); err != nil {
		return internal("create schema", err)
	}
	return internal("create schema", tx.Commit())
}
