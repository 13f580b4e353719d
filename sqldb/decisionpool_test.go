package sqldb_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestDecisionsHaveTheirOwnConnections takes every connection of the
// general pool (as a crowd of dashboard and history reads would) and checks,
// on both stores, that decision work (roman.ForDecisions) still reads and
// writes at once, while an unmarked read waits for a free connection.
func TestDecisionsHaveTheirOwnConnections(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		d := newDeployment("production", "v1", t0, roman.StatusSuccess)
		mustCreate(t, db, d)
		var held []*sql.Conn
		t.Cleanup(func() {
			for _, c := range held {
				c.Close()
			}
		})
		for {
			cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			c, err := db.SQL().Conn(cctx)
			cancel()
			if err != nil {
				break // the general pool is exhausted
			}
			held = append(held, c)
			if len(held) > 100 {
				t.Fatal("the general pool has no bound")
			}
		}
		dctx, cancel := context.WithTimeout(roman.ForDecisions(ctx), 5*time.Second)
		defer cancel()
		if err := db.InsertErrorEvents(dctx, []roman.ErrorEvent{{DeploymentID: d.DeploymentID, Environment: "production", OccurredAt: t0, Message: "boom", Severity: "error"}}); err != nil {
			t.Fatalf("decision write with the general pool taken: %v", err)
		}
		if one, _, err := db.CountErrors(dctx, d.DeploymentID, t0); err != nil || one != 1 {
			t.Fatalf("decision read with the general pool taken: %d, %v", one, err)
		}
		if _, err := db.GetDeployment(dctx, d.DeploymentID); err != nil {
			t.Fatalf("decision read with the general pool taken: %v", err)
		}
		rctx, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel2()
		if _, _, err := db.CountErrors(rctx, d.DeploymentID, t0); err == nil {
			t.Fatal("an unmarked read got a connection although the general pool is taken (the test holds the wrong pool)")
		}
	})
}
