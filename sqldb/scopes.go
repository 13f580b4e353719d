package sqldb

import (
	"context"
	"database/sql"
	"errors"

	"github.com/odyssey-1/roman"
)

// scopeLockID is the PostgreSQL transaction advisory lock under which a
// deployment that opens a new environment or service counts the existing
// ones, so two replicas recording first deployments at the same time
// cannot both take the last place.
const scopeLockID = migrationLockID + 1

// SetScopeLimits caps how many distinct environments and services the
// deployments table may hold (0 means no cap). A deployment that would open
// one more than the cap allows is refused with EREJECTED (422) naming the cap and
// its setting (max_environments, max_services), and nothing is written.
// Call it before the DB is shared, like SetClock.
func (db *DB) SetScopeLimits(environments, services int) {
	db.maxEnvironments, db.maxServices = environments, services
}

// checkScopeLimits refuses, inside the deployment's transaction, a
// deployment that opens an environment or a service past its cap. A known
// environment and service cost one index probe each; only a new one is
// counted.
func (db *DB) checkScopeLimits(ctx context.Context, tx *sql.Tx, service, env string) error {
	if db.maxEnvironments <= 0 && db.maxServices <= 0 {
		return nil
	}
	var newEnv, newService bool
	if db.maxEnvironments > 0 && db.maxServices > 0 {
		// Both probes in one statement (one round trip, on every
		// deployment recorded).
		var hasEnv, hasService bool
		if err := tx.QueryRowContext(ctx, db.q(`SELECT EXISTS (SELECT 1 FROM deployments WHERE environment = ?),
			EXISTS (SELECT 1 FROM deployments WHERE service = ?)`), env, service).Scan(&hasEnv, &hasService); err != nil {
			return err
		}
		newEnv, newService = !hasEnv, !hasService
	} else {
		var err error
		if newEnv, err = db.isNew(ctx, tx, `SELECT 1 FROM deployments WHERE environment = ? LIMIT 1`, env, db.maxEnvironments); err != nil {
			return err
		}
		if newService, err = db.isNew(ctx, tx, `SELECT 1 FROM deployments WHERE service = ? LIMIT 1`, service, db.maxServices); err != nil {
			return err
		}
	}
	if !newEnv && !newService {
		return nil
	}
	if db.dialect == DialectPostgres {
		// Serialise the counting of first deployments across replicas.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, scopeLockID); err != nil {
			return err
		}
	}
	if newEnv {
		if err := db.underCap(ctx, tx, `SELECT count(*) FROM (SELECT DISTINCT environment FROM deployments) e`,
			db.maxEnvironments, "environment", env, "environments", "max_environments", "ROMAN_MAX_ENVIRONMENTS"); err != nil {
			return err
		}
	}
	if newService {
		if err := db.underCap(ctx, tx, `SELECT count(*) FROM (SELECT DISTINCT service FROM deployments) s`,
			db.maxServices, "service", service, "services", "max_services", "ROMAN_MAX_SERVICES"); err != nil {
			return err
		}
	}
	return nil
}

// isNew reports whether no deployment has value in the probed column; with
// no cap it reports false without asking.
func (db *DB) isNew(ctx context.Context, tx *sql.Tx, query, value string, limit int) (bool, error) {
	if limit <= 0 {
		return false, nil
	}
	var one int
	err := tx.QueryRowContext(ctx, db.q(query), value).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	return false, err
}

// underCap returns EREJECTED (422) when count already holds limit distinct
// values.
func (db *DB) underCap(ctx context.Context, tx *sql.Tx, count string, limit int, kind, value, plural, key, env string) error {
	var n int
	if err := tx.QueryRowContext(ctx, count).Scan(&n); err != nil {
		return err
	}
	if n >= limit {
		return roman.Errorf(roman.EREJECTED, "%s %q would be new, but the cap of %d %s is reached (setting %s, %s); nothing was recorded",
			kind, value, limit, plural, key, env)
	}
	return nil
}
