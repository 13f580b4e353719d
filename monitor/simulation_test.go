package monitor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/health"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/mock"
	"github.com/odyssey-1/roman/monitor"
)

// The judge simulation: Poisson error streams through the real monitor and
// judges on a fake clock, over an in-memory store (simStore). Each release
// is its own service in one environment, so one monitor watches a group of
// releases at once; the baseline judge acts and the threshold judge runs in
// shadow on the same streams.

// simStore is the in-memory store of the simulation: deployments, error
// times per deployment (sorted), roman_events (only the ones the simulation
// reads are kept) and rollback rows. Methods the monitor does not call are
// left to the embedded mocks, which panic.
type simStore struct {
	mock.DeploymentStore
	mock.RollbackStore
	mock.EventStore
	mock.SignalStore

	mu       sync.Mutex
	deps     map[string]*roman.Deployment
	current  map[string]*roman.Deployment // by service
	previous map[string]*roman.Deployment // by deployment id
	errs     map[string][]time.Time
	// detected: deployment id → first time the shadow threshold judge
	// failed it.
	shadowFail map[string]time.Time
}

func newSimStore() *simStore {
	return &simStore{deps: map[string]*roman.Deployment{}, current: map[string]*roman.Deployment{},
		previous: map[string]*roman.Deployment{}, errs: map[string][]time.Time{}, shadowFail: map[string]time.Time{}}
}

func (s *simStore) CurrentDeployment(_ context.Context, service, _ string) (*roman.Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current[service], nil
}

func (s *simStore) GetDeployment(_ context.Context, id string) (*roman.Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deps[id], nil
}

func (s *simStore) ListDeployments(context.Context, roman.DeploymentFilter) ([]*roman.Deployment, error) {
	return nil, nil
}

func (s *simStore) ListRollbackEvents(context.Context, roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
	return nil, nil
}

func (s *simStore) ListRomanEvents(context.Context, roman.RomanEventFilter) ([]*roman.RomanEvent, error) {
	return nil, nil
}

func (s *simStore) AddRomanEvent(_ context.Context, e *roman.RomanEvent) error {
	if e.EventType != roman.EventHealthJudgement {
		return nil
	}
	var m struct {
		DeploymentID string `json:"deployment_id"`
		Judge        string `json:"judge"`
		Verdict      string `json:"verdict"`
		Shadow       bool   `json:"shadow"`
	}
	if err := json.Unmarshal(e.Metadata, &m); err != nil {
		return err
	}
	if m.Shadow && m.Judge == roman.JudgeThreshold && m.Verdict == roman.VerdictFail {
		s.mu.Lock()
		if _, ok := s.shadowFail[m.DeploymentID]; !ok {
			s.shadowFail[m.DeploymentID] = e.Timestamp
		}
		s.mu.Unlock()
	}
	return nil
}

// count returns how many errors of id have times in (from, to] (or
// [from, to] when closed).
func (s *simStore) count(id string, from, to time.Time, closed bool) int64 {
	ts := s.errs[id]
	lo := sort.Search(len(ts), func(i int) bool {
		if closed {
			return !ts[i].Before(from)
		}
		return ts[i].After(from)
	})
	hi := sort.Search(len(ts), func(i int) bool { return ts[i].After(to) })
	return int64(max(0, hi-lo))
}

func (s *simStore) CountErrorsBatch(_ context.Context, ids []string, now time.Time) (map[string]roman.ErrorCounts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]roman.ErrorCounts, len(ids))
	for _, id := range ids {
		out[id] = roman.ErrorCounts{LastMinute: s.count(id, now.Add(-time.Minute), now, false), Last5Minutes: s.count(id, now.Add(-5*time.Minute), now, false)}
	}
	return out, nil
}

func (s *simStore) LatestMetricsBatch(context.Context, []string, time.Time, time.Time) (map[string]map[string]float64, error) {
	return nil, nil
}

func (s *simStore) PreviousDeployment(_ context.Context, d *roman.Deployment) (*roman.Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.previous[d.DeploymentID], nil
}

func (s *simStore) JudgeCounts(_ context.Context, id string, from, to time.Time) (roman.JudgeCounts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return roman.JudgeCounts{Errors: s.count(id, from, to, true)}, nil
}

// add stores errors of id (times after every earlier one).
func (s *simStore) add(id string, ts []time.Time) {
	s.mu.Lock()
	s.errs[id] = append(s.errs[id], ts...)
	s.mu.Unlock()
}

// simCell is one cell of the simulation table.
type simCell struct {
	Rate, Factor float64
	Releases     int
	// Baseline and Threshold: rollbacks (inside the window) and the
	// median time to detect of the rolled-back ones.
	BaselineRollbacks, ThresholdRollbacks int
	BaselineMedian, ThresholdMedian       time.Duration
}

// simGroup is how many releases one monitor watches at once.
const simGroup = 500

// simulate runs releases releases of one cell: a baseline release with
// Poisson errors at rate per minute over the 30 minutes before the new
// deployment, the new release at rate × factor watched for 5 minutes,
// errors ingested every second and the monitor ticking every second. The
// streams depend only on seed and the release's index.
func simulate(rate, factor float64, releases int, seed uint64) simCell {
	cell := simCell{Rate: rate, Factor: factor, Releases: releases}
	var bt, tt []time.Duration
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for first := 0; first < releases; first += simGroup {
		n := min(simGroup, releases-first)
		st := newSimStore()
		clock := testkit.NewClock(start)
		var mu sync.Mutex
		detected := map[string]time.Time{}
		rngs := make([]*rand.Rand, n)
		bad := make([]*roman.Deployment, n)
		for i := range n {
			rngs[i] = rand.New(rand.NewPCG(seed, uint64(first+i)))
			svc := "svc-" + strconv.Itoa(first+i)
			old := &roman.Deployment{DeploymentID: roman.NewUUID(), Service: svc, Environment: "production", Version: "v1",
				DeployedAt: start.Add(-time.Hour), Status: roman.StatusSuccess, HealthCheckPassed: true}
			done := start
			d := &roman.Deployment{DeploymentID: roman.NewUUID(), Service: svc, Environment: "production", Version: "v2",
				DeployedAt: start, CompletedAt: &done, Status: roman.StatusSuccess}
			st.deps[old.DeploymentID], st.deps[d.DeploymentID] = old, d
			st.current[svc], st.previous[d.DeploymentID] = d, old
			// The baseline's errors: a Poisson process over 30 minutes.
			var ts []time.Time
			for t := rngs[i].ExpFloat64() / rate; t < 30; t += rngs[i].ExpFloat64() / rate {
				ts = append(ts, start.Add(-30*time.Minute+time.Duration(t*float64(time.Minute))))
			}
			st.add(old.DeploymentID, ts)
			bad[i] = d
		}
		s := roman.DefaultJudgeSettings()
		s.Judge, s.Shadow = roman.JudgeBaseline, true
		m := &monitor.Monitor{
			Store: st, Clock: clock.Now, Interval: time.Hour, Logger: testkit.Discard(),
			Checker: &health.Checker{Store: st, Clock: clock.Now, Thresholds: func(string) roman.Thresholds { return roman.DefaultThresholds() }},
			Settings: func(string) monitor.Settings {
				return monitor.Settings{WatchWindow: 5 * time.Minute, AutoRollback: monitor.ModeWindow, Cooldown: 10 * time.Minute, MaxAutoRollbacks: 3}
			},
			Judge: func(string) roman.JudgeSettings { return s }, JudgeStore: st,
			Current: func(context.Context) ([]*roman.Deployment, error) { return bad, nil },
			Rollbacks: &mock.RollbackService{ExecuteFn: func(_ context.Context, req roman.RollbackRequest) (*roman.RollbackResult, error) {
				mu.Lock()
				if _, ok := detected[req.DeploymentID]; !ok {
					detected[req.DeploymentID] = clock.Now()
				}
				mu.Unlock()
				return &roman.RollbackResult{Success: true}, nil
			}},
			Deployments: &mock.DeploymentService{UpdateFn: func(context.Context, string, roman.DeploymentUpdate) (*roman.Deployment, error) { return nil, nil }},
		}
		if err := m.Rebuild(context.Background()); err != nil {
			panic(err)
		}
		// One pass per second for the 5-minute window: the second's
		// errors are ingested, then the ticker pass runs.
		for sec := 1; sec < 300; sec++ {
			clock.Set(start.Add(time.Duration(sec) * time.Second))
			from := start.Add(time.Duration(sec-1) * time.Second)
			for i, d := range bad {
				r := rngs[i]
				k := poissonCount(r, rate*factor/60)
				if k == 0 {
					continue
				}
				ts := make([]time.Time, k)
				for j := range ts {
					ts[j] = from.Add(time.Duration(r.Float64() * float64(time.Second)))
				}
				sort.Slice(ts, func(a, b int) bool { return ts[a].Before(ts[b]) })
				st.add(d.DeploymentID, ts)
				m.Notify(roman.Change{Kind: roman.ChangeErrors, Service: d.Service, Environment: d.Environment, DeploymentID: d.DeploymentID, Count: k})
			}
			m.Tick(context.Background())
			m.Wait()
		}
		for _, d := range bad {
			if at, ok := detected[d.DeploymentID]; ok {
				cell.BaselineRollbacks++
				bt = append(bt, at.Sub(start))
			}
			if at, ok := st.shadowFail[d.DeploymentID]; ok {
				cell.ThresholdRollbacks++
				tt = append(tt, at.Sub(start))
			}
		}
	}
	cell.BaselineMedian, cell.ThresholdMedian = median(bt), median(tt)
	return cell
}

func poissonCount(r *rand.Rand, mean float64) int {
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p < l {
			return k
		}
		k++
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
	return ds[len(ds)/2]
}

func pct(n, of int) string { return strconv.FormatFloat(100*float64(n)/float64(of), 'f', 1, 64) + " %" }

func medianText(d time.Duration) string {
	if d < 0 {
		return "–"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 0, 64) + " s"
}

// simSmall is the number of releases per cell of TestJudgeSimulation.
const simSmall = 300

// TestJudgeSimulation is the fast version of the simulation: 300 releases
// per cell on the cells that catch a broken judge. A release no worse than
// its baseline is rarely rolled back (the bound is 1 %; 2.5 % leaves room
// for sampling), a tenfold regression at 1 error/minute and above almost
// always, within a minute, and a threefold one at 5 errors/minute mostly.
func TestJudgeSimulation(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		rate, factor   float64
		maxRate        float64 // highest rollback share allowed
		minRate        float64 // lowest rollback share required
		maxMedian      time.Duration
		thresholdAbove float64 // the threshold judge rolls back at least this share
	}{
		{rate: 1, factor: 1, maxRate: 0.025},
		{rate: 5, factor: 1, maxRate: 0.025, thresholdAbove: 0.5},
		{rate: 1, factor: 10, minRate: 0.95, maxRate: 1, maxMedian: time.Minute},
		{rate: 20, factor: 10, minRate: 0.99, maxRate: 1, maxMedian: 20 * time.Second},
		// The bounded-horizon boundary (the watch's horizon reaches the
		// judge): the e-process alone detects about 86 % here.
		{rate: 5, factor: 3, minRate: 0.9, maxRate: 1, maxMedian: 2 * time.Minute},
	} {
		cell := simulate(c.rate, c.factor, simSmall, 1)
		got := float64(cell.BaselineRollbacks) / simSmall
		if got > c.maxRate || got < c.minRate {
			t.Errorf("baseline %g/minute ×%g: baseline judge rolled back %s, want within [%g, %g]", c.rate, c.factor, pct(cell.BaselineRollbacks, simSmall), c.minRate, c.maxRate)
		}
		if c.maxMedian > 0 && cell.BaselineMedian > c.maxMedian {
			t.Errorf("baseline %g/minute ×%g: median time to detect %s, want at most %s", c.rate, c.factor, cell.BaselineMedian, c.maxMedian)
		}
		if th := float64(cell.ThresholdRollbacks) / simSmall; th < c.thresholdAbove {
			t.Errorf("baseline %g/minute ×%g: threshold judge (shadow) rolled back %s, want at least %g", c.rate, c.factor, pct(cell.ThresholdRollbacks, simSmall), c.thresholdAbove)
		}
	}
}

// BenchmarkJudgeSimulation runs the whole simulation table: baseline rates
// 0.2, 1, 5, 20 and 100 errors/minute, the new release unchanged (×1) or
// regressed ×3 and ×10, 10,000 releases per cell (ROMAN_SIM_RELEASES sets
// fewer for a quick run; ROMAN_SIM_RATES, e.g. "20,100", a subset of the
// baseline rates), both judges on the same streams. It prints the table in
// Markdown.
func BenchmarkJudgeSimulation(b *testing.B) {
	releases := 10000
	if v, err := strconv.Atoi(os.Getenv("ROMAN_SIM_RELEASES")); err == nil && v > 0 {
		releases = v
	}
	for range b.N {
		fmt.Print("| baseline errors/minute | new release | baseline: rollbacks | baseline: median time to detect | threshold: rollbacks | threshold: median time to detect |\n")
		fmt.Print("| --- | --- | --- | --- | --- | --- |\n")
		rates := []float64{0.2, 1, 5, 20, 100}
		if v := os.Getenv("ROMAN_SIM_RATES"); v != "" {
			rates = nil
			for _, f := range strings.Split(v, ",") {
				if r, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err == nil && r > 0 {
					rates = append(rates, r)
				}
			}
		}
		// The cells run side by side; the table prints in order.
		type job struct{ rate, factor float64 }
		var jobs []job
		for _, rate := range rates {
			for _, factor := range []float64{1, 3, 10} {
				jobs = append(jobs, job{rate, factor})
			}
		}
		cells := make([]simCell, len(jobs))
		var wg sync.WaitGroup
		for i, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cells[i] = simulate(j.rate, j.factor, releases, 1)
			}()
		}
		wg.Wait()
		for _, c := range cells {
			fmt.Printf("| %g | ×%g | %s | %s | %s | %s |\n", c.Rate, c.Factor, pct(c.BaselineRollbacks, releases), medianText(c.BaselineMedian),
				pct(c.ThresholdRollbacks, releases), medianText(c.ThresholdMedian))
		}
	}
}
