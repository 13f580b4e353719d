package rollback

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

// DefaultMigrationTimeout bounds the migration rollback scripts of one
// rollback when Service.MigrationTimeout is not set.
const DefaultMigrationTimeout = 5 * time.Minute

// ScriptRunner runs migration rollback scripts against the application
// database in one transaction (appdb.DB implements it). A failure leaves
// the database unchanged; ScriptIndex says which script failed.
type ScriptRunner interface {
	RunScripts(ctx context.Context, scripts []string) error
}

// ScriptIndex is implemented by a ScriptRunner's error to name the failing
// script's position.
type scriptIndexer interface{ ScriptIndex() int }

// runsMigrations reports whether this rollback runs migration rollback
// scripts: only a manual request with with_migrations does;
// automatic rollbacks never touch the schema.
func (r *run) runsMigrations() bool {
	return r.req.WithMigrations && r.ev.TriggerType != roman.TriggerAutomatic
}

// migrations runs the bad deployment's migration rollback scripts in
// reverse order in one transaction and records each outcome. Any failure
// aborts the rollback before anything else changed (stop is true, with the
// result to return). A failed script also marks its migration
// rollback_successful=false with the error, so the next validation finds
// the database inconsistent.
func (r *run) migrations(ctx context.Context) (res *roman.RollbackResult, err error, stop bool) {
	if _, ok := r.done[roman.StepMigrations]; ok {
		return nil, nil, false
	}
	if started, _ := r.startedStep(roman.StepMigrations); started {
		// A transaction that was cut off did nothing, but one that
		// committed before the crash left no record: nobody can tell.
		r.interrupted(ctx, roman.StepMigrations, nil)
		return r.snapshotResult(), nil, true
	}
	s := r.s
	ms, err := s.Store.ListMigrations(ctx, r.bad.DeploymentID)
	if err != nil {
		return r.abort(ctx, "could not list the deployment's migrations", err)
	}
	var todo []*roman.Migration
	for _, m := range ms {
		if m.RolledBackAt != nil && m.RollbackSuccessful != nil && *m.RollbackSuccessful {
			continue // rolled back already
		}
		todo = append(todo, m)
	}
	// Reverse applied order: the newest migration is undone first.
	for i, j := 0, len(todo)-1; i < j; i, j = i+1, j-1 {
		todo[i], todo[j] = todo[j], todo[i]
	}
	scripts := make([]string, len(todo))
	names := make([]string, len(todo))
	for i, m := range todo {
		names[i] = m.MigrationName
		if m.RollbackScript == nil || strings.TrimSpace(*m.RollbackScript) == "" {
			return r.abort(ctx, "", roman.Errorf(roman.EINVALID, "migration %s has no rollback_script; nothing was run", m.MigrationName))
		}
		scripts[i] = *m.RollbackScript
	}
	if len(todo) > 0 && s.Migrations == nil {
		return r.abort(ctx, "", roman.Errorf(roman.EINVALID, "with_migrations needs the application database (ROMAN_APP_DATABASE); nothing was run"))
	}
	r.markStarted(ctx, roman.StepMigrations, nil)
	serr := r.step(ctx, roman.StepMigrations, func() (any, error) {
		detail := map[string]any{"migrations": names}
		if len(todo) == 0 {
			detail["note"] = "the deployment recorded no migrations to roll back"
			return detail, nil
		}
		// A script waiting for a lock (a running migration holds one) must
		// not hold the rollback, and its request, forever.
		timeout := s.MigrationTimeout
		if timeout <= 0 {
			timeout = DefaultMigrationTimeout
		}
		mctx, cancel := context.WithTimeout(ctx, timeout)
		runErr := s.Migrations.RunScripts(mctx, scripts)
		timedOut := runErr != nil && errors.Is(mctx.Err(), context.DeadlineExceeded)
		cancel()
		now := roman.UTC(s.Clock())
		var outcomes []roman.MigrationRollback
		var ix scriptIndexer
		switch {
		case runErr == nil:
			for _, m := range todo {
				outcomes = append(outcomes, roman.MigrationRollback{ID: m.ID, At: now, Successful: true})
			}
		case errors.As(runErr, &ix) && ix.ScriptIndex() >= 0 && ix.ScriptIndex() < len(todo):
			m := todo[ix.ScriptIndex()]
			why := runErr.Error()
			if timedOut {
				why = "did not finish within " + timeout.String()
			}
			outcomes = append(outcomes, roman.MigrationRollback{ID: m.ID, At: now, Error: why})
			detail["failed_migration"] = m.MigrationName
			if timedOut {
				runErr = roman.Errorf(roman.EUNAVAILABLE, "rollback script of migration %s did not finish within %s; the transaction was rolled back", m.MigrationName, timeout)
			} else {
				runErr = roman.Errorf(roman.EUNAVAILABLE, "rollback script of migration %s failed: %v; the transaction was rolled back", m.MigrationName, errors.Unwrap(runErr))
			}
		case timedOut:
			runErr = roman.Errorf(roman.EUNAVAILABLE, "application database did not answer within %s; nothing was run", timeout)
		default:
			runErr = roman.Errorf(roman.EUNAVAILABLE, "application database: %s; nothing was run", roman.ErrorMessage(runErr))
		}
		if len(outcomes) > 0 {
			if err := s.Store.RecordMigrationRollbacks(ctx, outcomes); err != nil && runErr == nil {
				return detail, err
			}
		}
		return detail, runErr
	})
	if serr != nil {
		return r.abort(ctx, "migration rollback failed", serr)
	}
	return nil, nil, false
}

// abort ends the event aborted (nothing was changed but the migration
// records) with a critical roman_events row, and returns the failure
// result.
func (r *run) abort(ctx context.Context, reason string, err error) (*roman.RollbackResult, error, bool) {
	if errors.Is(err, errParked) || parked(ctx) {
		// A graceful shutdown stopped the run: see fail.
		r.s.Logger.Warn("rollback parked for shutdown", "event_id", r.ev.EventID, "while", reason)
		return nil, errParked, true
	}
	msg := roman.ErrorMessage(err)
	if reason != "" && !strings.HasPrefix(msg, "rollback script") {
		msg = reason + ": " + msg
	}
	r.mu.Lock()
	r.meta["failure"] = msg
	meta := mustJSON(r.meta)
	r.mu.Unlock()
	r.setStatus(ctx, roman.RollbackAborted, roman.RollbackEventUpdate{Metadata: meta})
	r.event(ctx, roman.EventRollbackFailed, roman.SeverityCritical,
		fmt.Sprintf("Rollback aborted before the executor ran, manual intervention required: %s", msg), map[string]any{})
	r.mu.Lock()
	r.result.Success, r.result.Status, r.result.Error = false, roman.RollbackAborted, msg
	r.mu.Unlock()
	return r.snapshotResult(), nil, true
}

// snapshotResult returns a copy of the result.
func (r *run) snapshotResult() *roman.RollbackResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := r.result
	return &res
}
