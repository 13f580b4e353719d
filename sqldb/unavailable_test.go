package sqldb_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestUnavailableByCode classifies driver errors by their codes and types:
// the connection-level ones mean "try again later", a bad statement does
// not.
func TestUnavailableByCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true}, // admin_shutdown
		{&pgconn.PgError{Code: "57P03"}, true}, // cannot_connect_now
		{&pgconn.PgError{Code: "08006"}, true}, // connection_failure
		{&pgconn.PgError{Code: "53300"}, true}, // too_many_connections
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "42601"}, false},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{errors.New("syntax error"), false},
		{nil, false},
	} {
		if got := sqldb.Unavailable(tc.err); got != tc.want {
			t.Errorf("Unavailable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestClosedStoreIsUnavailable: a store whose pools are closed answers
// EUNAVAILABLE, not an internal error.
func TestClosedStoreIsUnavailable(t *testing.T) {
	ctx := context.Background()
	st, err := sqldb.Open(ctx, "sqlite://"+t.TempDir()+"/roman.db", nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	_, err = st.ListDeployments(ctx, roman.DeploymentFilter{Limit: 1})
	if roman.ErrorCode(err) != roman.EUNAVAILABLE || roman.ErrorMessage(err) != sqldb.UnavailableMessage {
		t.Fatalf("closed store: %v", err)
	}
}
