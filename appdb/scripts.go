package appdb

import (
	"context"
	"fmt"
	"strings"

	"github.com/odyssey-1/roman"
)

// ScriptError reports which script of a RunScripts call failed. The whole
// transaction was rolled back: no script of the call took effect.
type ScriptError struct {
	// Index is the failing script's position in the call's list.
	Index int
	// Err is the database's error.
	Err error
}

// Error implements error.
func (e *ScriptError) Error() string { return fmt.Sprintf("script %d failed: %v", e.Index+1, e.Err) }

// Unwrap returns the database's error.
func (e *ScriptError) Unwrap() error { return e.Err }

// ScriptIndex returns Index, so that callers can find the failing script
// without importing this package.
func (e *ScriptError) ScriptIndex() int { return e.Index }

// RunScripts runs SQL scripts, in the order given, in one transaction
// against the application database (SQLite or PostgreSQL, whose DDL is
// transactional on both), and commits only when every one succeeded. A
// script may hold several statements separated by semicolons. On failure it
// returns *ScriptError naming the script, and nothing is changed. Migration
// rollback scripts are run through it in reverse order of their
// migrations.
func (d *DB) RunScripts(ctx context.Context, scripts []string) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return &roman.Error{Code: roman.EUNAVAILABLE, Message: "application database unreachable", Err: err}
	}
	defer tx.Rollback()
	for i, s := range scripts {
		if strings.TrimSpace(s) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return &ScriptError{Index: i, Err: err}
		}
	}
	if err := tx.Commit(); err != nil {
		return &ScriptError{Index: len(scripts) - 1, Err: fmt.Errorf("commit: %w", err)}
	}
	return nil
}
