package server

import "testing"

// BenchmarkRollbackNoneCPU is BenchmarkRollbackNone with the CPU time each
// rollback costs: cpu-ms/op is this process's (the server, in-process,
// and the client), db-cpu-ms/op PostgreSQL's processes (zero on SQLite),
// both per iteration, which also records the bad deployment (one store
// write). On a shared machine the latencies move with the load; the CPU
// per rollback does much less, so it shows what a change to the rollback's
// path saves.
//
//	go test -run '^$' -bench BenchmarkRollbackNoneCPU -benchtime 100x ./server/
func BenchmarkRollbackNoneCPU(b *testing.B) { benchRollbackNone(b, true) }
