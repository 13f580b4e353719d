package server

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman/internal/testkit"
)

// Helpers of the performance-target benchmarks in check_bench_test.go,
// history_bench_test.go and monitor10k_bench_test.go.

// parentCleanup is a testing.TB that reports failures to a sub-benchmark
// but runs cleanups when its parent ends: state built in the
// sub-benchmark's first run (b.N = 1) then survives into its measured run
// instead of being built twice.
type parentCleanup struct {
	*testing.B
	parent *testing.B
}

// Cleanup registers f on the parent benchmark.
func (p parentCleanup) Cleanup(f func()) { p.parent.Cleanup(f) }

// TempDir returns a directory removed when the parent benchmark ends.
func (p parentCleanup) TempDir() string { return p.parent.TempDir() }

// eachBenchStore runs fn as a sub-benchmark per store; setup runs once per
// store, in the sub-benchmark's first run, and what it returns is reused by
// the later runs.
func eachBenchStore[S any](b *testing.B, setup func(t testing.TB, url string) S, fn func(b *testing.B, s S)) {
	for _, st := range testkit.Stores {
		var state S
		var ready bool
		b.Run(st.Name, func(sb *testing.B) {
			if !ready {
				t := parentCleanup{sb, b}
				state, ready = setup(t, st.URL(t)), true
			}
			fn(sb, state)
		})
	}
}

// benchClient is an HTTP client that keeps enough idle connections for an
// open-loop load (the default keeps two per host, so every burst would
// dial).
func benchClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}}
}

// doRequest sends one request and reads the whole answer; it returns the
// status and the body.
func doRequest(c *http.Client, method, url, token, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// openLoopResult is what an open-loop run measured.
type openLoopResult struct {
	// latency runs from each request's scheduled start to its answer read
	// in full, so a request delayed by earlier slow ones (or by a late
	// scheduler) counts its wait: no coordinated omission.
	latency []time.Duration
	// service runs from the request actually being sent to its answer.
	service []time.Duration
	// lag is how late each request was sent after its scheduled time.
	lag []time.Duration
	// elapsed is from the first scheduled start to the last answer.
	elapsed  time.Duration
	failed   int
	firstErr error
}

// openLoop sends n requests on a fixed schedule of rate per second,
// whatever the answers' latency: each request is sent at its own time by
// its own goroutine, never waiting for an earlier one.
func openLoop(n int, rate float64, do func(i int) error) openLoopResult {
	res := openLoopResult{latency: make([]time.Duration, n), service: make([]time.Duration, n), lag: make([]time.Duration, n)}
	interval := time.Duration(float64(time.Second) / rate)
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := time.Now()
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			err := do(i)
			done := time.Now()
			res.latency[i], res.service[i], res.lag[i] = done.Sub(at), done.Sub(sent), sent.Sub(at)
			if err != nil {
				mu.Lock()
				res.failed++
				if res.firstErr == nil {
					res.firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// quantiles returns the p-quantiles of ds in milliseconds (ds is sorted in
// place).
func quantiles(ds []time.Duration, ps ...float64) []float64 {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	out := make([]float64, len(ps))
	for k, p := range ps {
		i := int(float64(len(ds)-1) * p)
		out[k] = float64(ds[i].Microseconds()) / 1000
	}
	return out
}

// statusErr is the error of an unexpected HTTP answer.
func statusErr(code int, body []byte) error {
	if len(body) > 200 {
		body = body[:200]
	}
	return fmt.Errorf("HTTP %d: %s", code, body)
}
