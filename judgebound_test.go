package roman

import (
	"math"
	"testing"
	"time"
)

// poissonPMF is P(Poisson(mean) = k), computed directly.
func poissonPMF(mean float64, k int) float64 {
	if mean == 0 {
		if k == 0 {
			return 1
		}
		return 0
	}
	lg, _ := math.Lgamma(float64(k) + 1)
	return math.Exp(float64(k)*math.Log(mean) - mean - lg)
}

// crossingBrute returns the probability that a Poisson process with mean m
// over n equal steps reaches the critical count c[i−1] by the end of step i
// for some i ≤ upTo, by enumerating every path of per-step increments
// (independently of the boundary's recursion).
func crossingBrute(m float64, c []int64, upTo int) float64 {
	n := len(c)
	mu := m / float64(n)
	var walk func(i int, count int64, p float64) float64
	walk = func(i int, count int64, p float64) float64 {
		if i == upTo {
			return 0
		}
		// Paths that stay below c[i] go on; the rest crossed here.
		stay := 0.0
		crossed := 0.0
		for k := int64(0); count+k < c[i]; k++ {
			q := poissonPMF(mu, int(k))
			stay += q
			crossed += walk(i+1, count+k, p*q)
		}
		return p*(1-stay) + crossed
	}
	return walk(0, 0, 1)
}

// crossingForward returns the probability that a Poisson process with mean
// m over len(c) equal steps ever reaches the critical counts, by a plain
// forward recursion over every count below the boundary (no truncation).
func crossingForward(m float64, c []int64) float64 {
	n := len(c)
	mu := m / float64(n)
	p := []float64{1}
	for i := range n {
		next := make([]float64, c[i])
		for j := range next {
			for k := 0; k <= j && k < len(p); k++ {
				next[j] += p[k] * poissonPMF(mu, j-k)
			}
		}
		p = next
	}
	stay := 0.0
	for _, v := range p {
		stay += v
	}
	return 1 - stay
}

// TestKnownRateBoundaryIsExact checks the recursion of one known-rate
// boundary against path enumeration: the probability of having crossed by
// each step stays within the budget, and each critical count is the
// smallest that does (one less would exceed the budget).
func TestKnownRateBoundaryIsExact(t *testing.T) {
	for _, c := range []struct {
		m         float64
		minErrors int64
		level     float64
	}{{2, 1, 0.05}, {4, 3, 0.01}, {6, 5, 0.1}, {9, 1, 0.02}, {0.5, 1, 0.2}} {
		const n = 5
		budget := make([]float64, n+1)
		for i := 1; i <= n; i++ {
			budget[i] = c.level * float64(i) / n
		}
		crit := knownRateBoundary(c.m, budget, c.minErrors)
		for i := 1; i <= n; i++ {
			got := crossingBrute(c.m, crit, i)
			if got > budget[i] {
				t.Errorf("%+v: crossed by step %d with probability %.6g, budget %.6g (boundary %v)", c, i, got, budget[i], crit)
			}
			floor := c.minErrors
			if i > 1 {
				floor = max(floor, crit[i-2])
			}
			if crit[i-1] > floor {
				lower := append([]int64(nil), crit...)
				lower[i-1]--
				if p := crossingBrute(c.m, lower, i); p <= budget[i]*(1-1e-9) {
					t.Errorf("%+v: step %d: critical count %d is not the smallest: %d crosses with %.6g ≤ budget %.6g", c, i, crit[i-1], crit[i-1]-1, p, budget[i])
				}
			}
		}
		if fw, br := crossingForward(c.m, crit), crossingBrute(c.m, crit, n); math.Abs(fw-br) > 1e-12 {
			t.Errorf("%+v: forward recursion %.12g, enumeration %.12g", c, fw, br)
		}
	}
}

// TestBoundEIsAnEValue checks that the baseline's e-variable has expectation
// 1 under Poisson(x) (summed exactly) and increases in x, at several tilts.
func TestBoundEIsAnEValue(t *testing.T) {
	for _, a := range []float64{0.1, 1, 2.4} {
		for _, x := range []float64{0.01, 0.7, 6, 30, 150} {
			sum := 0.0
			for b := 0; b < int(x+40*math.Sqrt(x)+60); b++ {
				sum += poissonPMF(x, b) * math.Exp(logBoundE(int64(b), x, a))
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Errorf("a=%g x=%g: E[e] = %.12g, want 1", a, x, sum)
			}
		}
		for _, b := range []int64{0, 1, 6, 150} {
			prev := math.Inf(-1)
			for x := 0.0; x < 400; x += 0.37 {
				v := logBoundE(b, x, a)
				if v < prev-1e-12 {
					t.Errorf("a=%g B=%d: e-variable falls at x=%g", a, b, x)
				}
				prev = v
			}
		}
	}
}

// TestBoundaryFalsePositiveRateExact computes, for a grid of baseline
// rates, false-positive rates and settings, the exact probability that the
// bounded-horizon test rejects a release at max_ratio × its baseline's rate:
// the sum over baseline counts B of P(B) times the probability, by the plain
// forward recursion, that the new release's Poisson process ever reaches
// B's boundary within the horizon. It must stay within the boundary's share
// of the false-positive rate (and, where counts are not tiny, use a fair
// part of it).
func TestBoundaryFalsePositiveRateExact(t *testing.T) {
	if testing.Short() {
		t.Skip("exact sums over baseline counts")
	}
	for _, c := range []struct {
		x, eb, horizon, window, ratio, alpha float64
		minErrors                            int64
	}{
		// x: the baseline's expected count over its window.
		{0.3, 30, 15, 5, 1.5, 0.01, 5},
		{6, 30, 15, 5, 1.5, 0.01, 5},
		{30, 30, 15, 5, 1.5, 0.01, 5},
		{60, 30, 15, 5, 1.5, 0.01, 5},
		{150, 30, 15, 5, 1.5, 0.01, 5},
		{2, 10, 15, 5, 2, 0.05, 1},
		{20, 10, 15, 5, 1, 0.05, 3},
		{12, 30, 5, 5, 1.5, 0.001, 5},
	} {
		total, tail := 0.0, 1.0
		for b := 0; tail > 1e-10; b++ {
			pb := poissonPMF(c.x, b)
			tail -= pb
			bd := BoundaryFor(int64(b), c.eb, c.horizon, c.window, c.ratio, c.alpha, c.minErrors)
			// The new release's null mean over the boundary's horizon:
			// max_ratio × the baseline's rate × the horizon.
			m := c.ratio * (c.x / c.eb) * bd.Horizon * c.eb
			total += pb * crossingForward(m, bd.Counts)
		}
		total += tail
		share := boundShare * c.alpha
		if total > share {
			t.Errorf("%+v: P(reject) = %.6g, above %g", c, total, share)
		}
		if c.x >= 30 && total < 0.2*share {
			t.Errorf("%+v: P(reject) = %.6g, far below %g: the boundary wastes its level", c, total, share)
		}
		t.Logf("%+v: P(reject) = %.6g of %g", c, total, share)
	}
}

// TestBoundaryShape checks the boundary's form: nondecreasing counts, a
// zero baseline failing on min_errors errors early in the window, and the
// rounding of q keeping the horizon at least as long as asked.
func TestBoundaryShape(t *testing.T) {
	for _, b := range []int64{0, 6, 150} {
		bd := BoundaryFor(b, 30, 15, 5, 1.5, 0.01, 5)
		for i := 1; i < len(bd.Counts); i++ {
			if bd.Counts[i] < bd.Counts[i-1] || bd.Counts[i] < 5 {
				t.Fatalf("B=%d: counts not nondecreasing from min_errors at step %d: %v", b, i, bd.Counts)
			}
		}
		if bd.Horizon*30 < 15 {
			t.Errorf("B=%d: horizon %g baseline-minutes, shorter than 15", b, bd.Horizon*30)
		}
	}
	zero := BoundaryFor(0, 30, 15, 5, 1.5, 0.01, 5)
	if rej, crit := zero.Reject(5, 1, 30); !rej || crit != 5 {
		t.Errorf("zero baseline, 5 errors in a minute: reject %v at critical count %d, want a rejection at 5", rej, crit)
	}
	if rej, _ := zero.Reject(4, 1, 30); rej {
		t.Errorf("zero baseline, 4 errors (below min_errors): rejected")
	}
	if rej, crit := zero.Reject(50, 16, 30); rej || crit != 0 {
		t.Errorf("beyond the horizon the boundary does not apply: %v %d", rej, crit)
	}
	if BoundaryFor(701, 30, 15, 5, 1.5, 0.01, 5) != nil || BoundaryFor(700, 30, 15, 5, 1.5, 0.01, 5) == nil {
		t.Errorf("the largest baseline count with a boundary is not 700 at the default settings")
	}
	// A short baseline window (1 minute) against a 15-minute horizon:
	// the cap is on the release's null mean, so the cost stays bounded.
	if BoundaryFor(24, 1, 15, 5, 1.5, 0.01, 5) != nil || BoundaryFor(23, 1, 15, 5, 1.5, 0.01, 5) == nil {
		t.Errorf("the cap on the null mean does not hold for a short baseline")
	}
}

// TestJudgeBoundedHorizon judges the ×3 regression at 5 errors/minute with
// the watch's horizon: 31 errors in 2 minutes against 150 in 30 fail on the
// boundary (its critical count there is 30) though the e-process alone
// would not; 25 pass.
func TestJudgeBoundedHorizon(t *testing.T) {
	s, th := DefaultJudgeSettings(), DefaultThresholds()
	quiet := EvaluateHealth(HealthInputs{}, th, time.Now())
	in := judgeInput(31, 2, baseline(150), quiet)
	if j := Judge(JudgeBaseline, in, s, th); j.Verdict != VerdictPass {
		t.Fatalf("without a horizon (e-process alone): %s, want pass (e-value %.3g)", j.Verdict, j.EValue)
	}
	in.Horizon, in.Window = 15*time.Minute, 5*time.Minute
	j := Judge(JudgeBaseline, in, s, th)
	if j.Verdict != VerdictFail || j.Signal != SignalRegression || j.CriticalErrors != 30 || j.PValue > 0.01 {
		t.Fatalf("with the horizon: %s/%s, critical %d, p %.3g; want fail at 30", j.Verdict, j.Signal, j.CriticalErrors, j.PValue)
	}
	if j.Limits.HorizonMinutes != 15 || j.Limits.EValueThreshold != 1/((1-boundShare)*0.01) {
		t.Errorf("limits %+v", j.Limits)
	}
	in.Errors = 25
	if j := Judge(JudgeBaseline, in, s, th); j.Verdict != VerdictPass || j.CriticalErrors != 30 {
		t.Errorf("25 errors: %s, critical %d; want pass below 30", j.Verdict, j.CriticalErrors)
	}
}

// BenchmarkJudgeBaseline measures one evaluation of the baseline judge with
// its bounded-horizon boundary cached, as the monitor runs it on every
// ingest.
func BenchmarkJudgeBaseline(b *testing.B) {
	s, th := DefaultJudgeSettings(), DefaultThresholds()
	quiet := EvaluateHealth(HealthInputs{}, th, time.Now())
	for _, c := range []struct {
		name string
		b, n int64
		min  float64
	}{{"B=6,N=10", 6, 10, 5}, {"B=150,N=40", 150, 40, 3}, {"B=3000,N=500", 3000, 500, 5}} {
		in := judgeInput(c.n, c.min, baseline(c.b), quiet)
		in.Horizon, in.Window = 15*time.Minute, 5*time.Minute
		Judge(JudgeBaseline, in, s, th) // fills the cache
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				Judge(JudgeBaseline, in, s, th)
			}
		})
	}
}

// BenchmarkRegressionBoundary measures computing one bounded-horizon
// boundary (a cache miss: once per baseline count and settings).
func BenchmarkRegressionBoundary(b *testing.B) {
	for _, n := range []int64{0, 6, 150, 600, 700} {
		b.Run("B="+itoa(n), func(b *testing.B) {
			for range b.N {
				computeBoundary(n, 1.5*15/30, 5.0/15, boundShare*0.01, 5)
			}
		})
	}
}

func itoa(n int64) string {
	return FormatRate(float64(n))
}
