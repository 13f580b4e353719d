package server

import (
	"bytes"
	"context"
	"database/sql"
	"regexp"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/sqldb"
)

// printedKey finds the first-start admin key in what a server printed.
var printedKey = regexp.MustCompile(`(?m)^\s+(roman_[A-Za-z0-9_-]{20,})\s*$`)

// TestReplicasStartingTogetherCreateOneKey opens three servers at once on
// one PostgreSQL database with no key configured and none stored, twice
// over: each time exactly one first-start key row is stored, exactly
// one replica prints a key, and that key works on every replica.
func TestReplicasStartingTogetherCreateOneKey(t *testing.T) {
	const replicas, rounds = 3, 2
	for round := range rounds {
		pgURL := testpg.URL(t)
		// The schema exists already (as after an upgrade), so the replicas
		// go straight to their keys.
		st, err := sqldb.Open(context.Background(), pgURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		// Replicas that start at the same moment all find no key before
		// any of them stores one: a session holding a write lock on the
		// key table lets every replica read it and makes each wait at its
		// first write until all of them are waiting.
		gate, err := sql.Open("pgx", pgURL)
		if err != nil {
			t.Fatal(err)
		}
		defer gate.Close()
		lockTx, err := gate.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lockTx.Exec(`LOCK TABLE ops.api_keys IN EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
		servers := make([]*Server, replicas)
		outs := make([]*bytes.Buffer, replicas)
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, replicas)
		for i := range replicas {
			env := map[string]string{"ROMAN_DATABASE": pgURL, "ROMAN_LISTEN": "127.0.0.1:0", "ROMAN_VERIFY_WINDOW": "0s"}
			cfg, err := config.Load("", func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			outs[i] = &bytes.Buffer{}
			servers[i] = &Server{Config: cfg, Logger: testkit.Discard(), Stdout: outs[i]}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs <- servers[i].Open(context.Background())
			}()
		}
		close(start)
		deadline := time.Now().Add(30 * time.Second)
		for {
			var waiting int
			if err := gate.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if waiting >= replicas || time.Now().After(deadline) {
				t.Logf("round %d: %d replicas waiting", round, waiting)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := lockTx.Rollback(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range servers {
			closedAtEnd(t, m)
		}
		var printed []string
		for _, out := range outs {
			if m := printedKey.FindStringSubmatch(out.String()); m != nil {
				printed = append(printed, m[1])
			}
		}
		stored, err := servers[0].Store.ListAPIKeys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d keys printed, %d stored", round, len(printed), len(stored))
		if len(printed) != 1 || len(stored) != 1 {
			t.Fatalf("round %d: %d replicas printed a key and %d key rows are stored; want one of each", round, len(printed), len(stored))
		}
		for i, m := range servers {
			if code, out := testkit.Call(t, "GET", m.URL()+"/deployments", printed[0], ""); code != 200 {
				t.Errorf("round %d: replica %d refuses the printed key: %d %v", round, i, code, out)
			}
		}
	}
}
