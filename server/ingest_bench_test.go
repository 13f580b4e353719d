package server

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// Shape of BenchmarkIngestThroughput: batches of ingestBatch events, sent
// by ingestClients concurrent clients, ingestPhase batches per method and
// round.
const ingestBatch, ingestClients, ingestPhase = 10000, 4, 8

// rawChunk is how many rows one statement of the SQLite raw ceiling
// carries: 6 columns × 5,000 rows stays under SQLite's 32,766 variables.
const rawChunk = 5000

// ingestRows are n error events of one deployment, a microsecond apart.
func ingestRows(id string, n int, at time.Time) []roman.ErrorEvent {
	rows := make([]roman.ErrorEvent, n)
	for i := range rows {
		rows[i] = roman.ErrorEvent{DeploymentID: id, Environment: "production", OccurredAt: at.Add(time.Duration(i) * time.Microsecond),
			Message: "TypeError: cart.items is undefined", Severity: "error", Fingerprint: "f" + strconv.Itoa(i%50)}
	}
	return rows
}

// ingestBody is the POST /errors batch that carries rows (the environment
// is left for the server to attribute).
func ingestBody(rows []roman.ErrorEvent) []byte {
	b := []byte(`{"events":[`)
	for i, e := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"deployment_id":`...)
		b = strconv.AppendQuote(b, e.DeploymentID)
		b = append(b, `,"occurred_at":"`...)
		b = e.OccurredAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","message":`...)
		b = strconv.AppendQuote(b, e.Message)
		b = append(b, `,"severity":`...)
		b = strconv.AppendQuote(b, e.Severity)
		b = append(b, `,"fingerprint":`...)
		b = strconv.AppendQuote(b, e.Fingerprint)
		b = append(b, '}')
	}
	b = append(b, `]}`...)
	if !json.Valid(b) {
		panic("ingestBody: invalid JSON")
	}
	return b
}

// peakRSSMB is the process's peak resident set (VmHWM), in MB: the server
// runs in-process, so this is the server plus the benchmark's client.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// rawInserter is the ceiling of BenchmarkIngestThroughput: the fastest bulk
// insert of the same rows into the same table by the same driver, with
// nothing of roman in between: on SQLite one BEGIN IMMEDIATE transaction
// per batch on one connection with a prepared 5,000-row INSERT, through
// the driver's own interfaces; on
// PostgreSQL one COPY (binary, through pgx) per batch and transaction. The
// values are converted before the clock starts.
type rawInserter struct {
	db      *sqldb.DB
	writers int                   // concurrent writers: what is fastest for the store
	sqlite  [][]driver.NamedValue // per batch: the arguments of its statements
	pg      [][][]any
}

var ingestCols = []string{"deployment_id", "environment", "occurred_at", "message", "severity", "fingerprint"}

func newRawInserter(db *sqldb.DB, batches [][]roman.ErrorEvent) *rawInserter {
	r := &rawInserter{db: db, writers: 1}
	if db.Dialect() == sqldb.DialectPostgres {
		// PostgreSQL runs a backend per connection: concurrent COPYs
		// overlap the client's encoding with the server's work.
		r.writers = ingestClients
	}
	for _, rows := range batches {
		if db.Dialect() == sqldb.DialectSQLite {
			args := make([]driver.NamedValue, 0, len(rows)*len(ingestCols))
			for _, e := range rows {
				for _, v := range []any{e.DeploymentID, e.Environment, db.TimeArg(e.OccurredAt), e.Message, e.Severity, e.Fingerprint} {
					args = append(args, driver.NamedValue{Ordinal: len(args)%(rawChunk*len(ingestCols)) + 1, Value: v})
				}
			}
			r.sqlite = append(r.sqlite, args)
			continue
		}
		vals := make([][]any, len(rows))
		for i, e := range rows {
			vals[i] = []any{pgtype.UUID{Bytes: uuid.MustParse(e.DeploymentID), Valid: true}, e.Environment, e.OccurredAt, e.Message, e.Severity, e.Fingerprint}
		}
		r.pg = append(r.pg, vals)
	}
	return r
}

// run inserts n batches with r.writers concurrent writers.
func (r *rawInserter) run(ctx context.Context, n int) error {
	var next atomic.Int64
	errs := make(chan error, r.writers)
	for w := 0; w < r.writers; w++ {
		go func() {
			conn, err := r.db.SQL().Conn(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			if r.db.Dialect() == sqldb.DialectSQLite {
				errs <- r.sqliteWriter(ctx, conn, &next, n)
			} else {
				errs <- r.pgWriter(ctx, conn, &next, n)
			}
		}()
	}
	var first error
	for w := 0; w < r.writers; w++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// sqliteWriter talks to the driver directly (database/sql would convert
// each argument, and re-prepare a statement prepared on a Conn for every
// transaction): one prepared statement for the phase, BEGIN IMMEDIATE (the
// DSN's _txlock), two 5,000-row executions and COMMIT per batch.
func (r *rawInserter) sqliteWriter(ctx context.Context, conn *sql.Conn, next *atomic.Int64, n int) error {
	one := "(" + strings.Repeat("?,", len(ingestCols)-1) + "?)"
	query := "INSERT INTO error_events (" + strings.Join(ingestCols, ",") + ") VALUES " + strings.Repeat(one+",", rawChunk-1) + one
	return conn.Raw(func(dc any) error {
		stmt, err := dc.(driver.ConnPrepareContext).PrepareContext(ctx, query)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for k := next.Add(1) - 1; k < int64(n); k = next.Add(1) - 1 {
			args := r.sqlite[k]
			tx, err := dc.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{})
			if err != nil {
				return err
			}
			per := rawChunk * len(ingestCols)
			for off := 0; off < len(args); off += per {
				if _, err := stmt.(driver.StmtExecContext).ExecContext(ctx, args[off:off+per]); err != nil {
					tx.Rollback()
					return err
				}
			}
			if err := tx.Commit(); err != nil {
				return err
			}
		}
		return nil
	})
}

func (r *rawInserter) pgWriter(ctx context.Context, conn *sql.Conn, next *atomic.Int64, n int) error {
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		for k := next.Add(1) - 1; k < int64(n); k = next.Add(1) - 1 {
			tx, err := pc.Begin(ctx)
			if err != nil {
				return err
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{sqldb.Schema, "error_events"}, ingestCols,
				pgx.CopyFromRows(r.pg[k])); err != nil {
				tx.Rollback(ctx)
				return err
			}
			if err := tx.Commit(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// concurrently runs fn(k) for k in [0, n) on workers goroutines and returns
// the first error.
func concurrently(workers, n int, fn func(k int) error) error {
	var next atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := next.Add(1) - 1; k < int64(n); k = next.Add(1) - 1 {
				if err := fn(int(k)); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := first.Load().(error); ok {
		return err
	}
	return nil
}

// phaseTimer prepares the data of the ingest throughput benchmarks and
// times their phases: each round runs every phase once, in an order that
// rotates from round to round, so that all phases see the same table sizes
// and the same load from the machine's other users.
type phaseTimer struct {
	m    *Server
	id   string    // the deployment every event belongs to
	base time.Time // the first batch's first event
	next int       // the next batch's number: its events start at base + next×10 ms
}

// newPhaseTimer starts the batches of deployment id an hour ago.
func newPhaseTimer(m *Server, id string) *phaseTimer {
	return &phaseTimer{m: m, id: id, base: time.Now().UTC().Add(-time.Hour)}
}

// batches returns the next ingestPhase batches of ingestBatch events, each
// newer than the one before, as application clocks move forward
// (re-sending the same timestamps would scatter each batch over the whole
// (deployment_id, occurred_at) index).
func (p *phaseTimer) batches() [][]roman.ErrorEvent {
	out := make([][]roman.ErrorEvent, ingestPhase)
	for k := range out {
		out[k] = ingestRows(p.id, ingestBatch, p.base.Add(time.Duration(p.next)*ingestBatch*time.Microsecond))
		p.next++
	}
	return out
}

// errorEvents counts the stored error events.
func (p *phaseTimer) errorEvents(b *testing.B) int64 {
	var n int64
	if err := p.m.Store.SQL().QueryRowContext(context.Background(), `SELECT count(*) FROM error_events`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// run resets b's timer and runs b.N rounds of the phases. Each phase
// prepares its data (untimed) and returns the timed part; the garbage of
// preparing is collected before the clock starts. It returns the time
// spent in each phase, and stops b's timer.
func (p *phaseTimer) run(b *testing.B, phases ...func() func() error) []time.Duration {
	spent := make([]time.Duration, len(phases))
	b.ResetTimer()
	for round := 0; round < b.N; round++ {
		for k := range phases {
			i := (round + k) % len(phases)
			timed := phases[i]()
			runtime.GC() // the garbage of preparing the data is no phase's
			start := time.Now()
			if err := timed(); err != nil {
				b.Fatal(err)
			}
			spent[i] += time.Since(start)
		}
	}
	b.StopTimer()
	return spent
}

// BenchmarkIngestThroughput measures error ingest against its
// ceiling, on equal footing: each round inserts ingestPhase batches of
// 10,000 events into the same table three ways, in an order that rotates
// from round to round, so that all three see the same table sizes and the
// same load from the machine's other users:
//
//   - http: POST /errors from 4 concurrent clients (strict decoding,
//     validation, attribution, one transaction per batch, the answer after
//     the commit);
//   - store: Store.InsertErrorEvents from 4 concurrent callers, the method
//     the HTTP path ends in;
//   - raw: the ceiling, rawInserter.
//
// Every batch is newer than the one before, as application clocks move
// forward (re-sending the same timestamps would scatter each batch over
// the whole (deployment_id, occurred_at) index). Bodies and rows are built
// before each phase's clock starts. It reports each rate in events/s,
// http/raw (the ratio the ingest target is stated in) and store/raw, and
// checks that
// every row was stored. (Memory is BenchmarkIngestFlood's business: here
// the process's peak RSS would count the SQLite file's memory-mapped pages
// and the benchmark's own data.) Run with -benchtime=5x (b.N is the number
// of rounds).
func BenchmarkIngestThroughput(b *testing.B) {
	benchEachStore(b, func(b *testing.B, m *Server) {
		ctx := context.Background()
		pt := newPhaseTimer(m, deployPair(b, m, "production"))
		before := pt.errorEvents(b)
		url := m.URL() + "/errors"
		// Each phase prepares its data and returns the timed part.
		spent := pt.run(b,
			func() func() error {
				bodies := make([][]byte, ingestPhase)
				for k, rows := range pt.batches() {
					bodies[k] = ingestBody(rows)
				}
				return func() error {
					return concurrently(ingestClients, ingestPhase, func(k int) error {
						if code := post(url, deployToken, bodies[k]); code != 200 {
							return fmt.Errorf("ingest: HTTP %d", code)
						}
						return nil
					})
				}
			},
			func() func() error {
				batches := pt.batches()
				return func() error {
					return concurrently(ingestClients, ingestPhase, func(k int) error {
						return m.Store.InsertErrorEvents(ctx, batches[k])
					})
				}
			},
			func() func() error {
				raw := newRawInserter(m.Store, pt.batches())
				return func() error { return raw.run(ctx, ingestPhase) }
			},
		)
		events := float64(b.N * ingestPhase * ingestBatch)
		if got, want := pt.errorEvents(b)-before, int64(3*events); got != want {
			b.Fatalf("stored %d rows, want %d", got, want)
		}
		rate := func(p int) float64 { return events / spent[p].Seconds() }
		b.ReportMetric(rate(0), "http-events/s")
		b.ReportMetric(rate(1), "store-events/s")
		b.ReportMetric(rate(2), "raw-events/s")
		b.ReportMetric(rate(0)/rate(2), "http/raw")
		b.ReportMetric(rate(1)/rate(2), "store/raw")
		b.ReportMetric(0, "ns/op")
	})
}

// BenchmarkIngestFlood sends 10,000-event batches from 64 concurrent
// clients, far more than the server admits (max(4, 2×GOMAXPROCS) in flight):
// the excess is answered 429 with Retry-After at once, so memory stays
// bounded. Reports accepted events/s, the share of requests refused and the
// peak RSS. Run with -benchtime=200x.
func BenchmarkIngestFlood(b *testing.B) {
	const batch, clients = 10000, 64
	benchEachStore(b, func(b *testing.B, m *Server) {
		id := deployPair(b, m, "production")
		body := ingestBody(ingestRows(id, batch, time.Now().UTC().Add(-time.Hour)))
		var ok, refused atomic.Int64
		var next atomic.Int64
		b.ResetTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(b.N) {
					switch code := post(m.URL()+"/errors", deployToken, body); code {
					case 200:
						ok.Add(1)
					case 429, 503:
						refused.Add(1)
					default:
						b.Errorf("flood: %d", code)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(ok.Load()*batch)/time.Since(start).Seconds(), "accepted-events/s")
		b.ReportMetric(float64(refused.Load())/float64(b.N), "refused-share")
		b.ReportMetric(peakRSSMB(), "peak-rss-MB")
		b.ReportMetric(0, "ns/op")
	})
}
