package roman

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// simpson integrates f over [a, b] with n (even) intervals.
func simpson(f func(float64) float64, a, b float64, n int) float64 {
	h := (b - a) / float64(n)
	s := f(a) + f(b)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		s += w * f(a+float64(i)*h)
	}
	return s * h / 3
}

// quadBaselineE is eb(B; x) by quadrature, independently of the series and
// the continued fraction.
func quadBaselineE(b int64, x float64) float64 {
	return simpson(func(r float64) float64 {
		return judgeBaselineShape * math.Exp((float64(b)+judgeBaselineShape-1)*math.Log(r)+(1-r)*x)
	}, 1e-300, 1, 8000)
}

// quadExcessE is en(N; y) by quadrature.
func quadExcessE(n int64, y float64) float64 {
	f := func(s float64) float64 {
		return judgeExcessRate * math.Exp(-judgeExcessRate*s+float64(n)*math.Log1p(s)-s*y)
	}
	return simpson(f, 0, 5, 8000) + simpson(f, 5, 400, 8000)
}

func TestBaselineEMatchesQuadrature(t *testing.T) {
	// x = 0 is the Beta integral κ/(B+κ), by hand.
	for _, b := range []int64{0, 1, 6, 30} {
		if got, want := math.Exp(logBaselineE(b, 0)), judgeBaselineShape/(float64(b)+judgeBaselineShape); math.Abs(got-want) > 1e-12 {
			t.Errorf("eb(%d; 0) = %v, want %v", b, got, want)
		}
	}
	for _, c := range []struct {
		b int64
		x float64
	}{{0, 0.5}, {0, 3}, {6, 2}, {6, 13.9}, {30, 25}, {30, 36.8}, {30, 80}, {150, 140}, {150, 200}} {
		got, want := math.Exp(logBaselineE(c.b, c.x)), quadBaselineE(c.b, c.x)
		if math.Abs(got-want) > 1e-7*want {
			t.Errorf("eb(%d; %g) = %.12g, quadrature %.12g", c.b, c.x, got, want)
		}
	}
}

func TestExcessEMatchesHandAndQuadrature(t *testing.T) {
	// N = 0: β/(y+β); N = 1: β/c + β/c² with c = y+β (by hand).
	for _, y := range []float64{0, 0.5, 3} {
		c := y + judgeExcessRate
		if got, want := math.Exp(logExcessE(0, y)), judgeExcessRate/c; math.Abs(got-want) > 1e-12 {
			t.Errorf("en(0; %g) = %v, want %v", y, got, want)
		}
		if got, want := math.Exp(logExcessE(1, y)), judgeExcessRate/c+judgeExcessRate/(c*c); math.Abs(got-want) > 1e-12 {
			t.Errorf("en(1; %g) = %v, want %v", y, got, want)
		}
	}
	for _, c := range []struct {
		n int64
		y float64
	}{{5, 1}, {10, 3.9}, {10, 0.2}, {42, 4}, {100, 30}, {3, 10}} {
		got, want := math.Exp(logExcessE(c.n, c.y)), quadExcessE(c.n, c.y)
		if math.Abs(got-want) > 1e-6*want {
			t.Errorf("en(%d; %g) = %.12g, quadrature %.12g", c.n, c.y, got, want)
		}
	}
}

// TestRegressionEValueIsTheInfimum checks the search against a brute-force
// minimum of the quadrature values over a fine grid of x: the e-value must
// not exceed it (that would overstate the evidence) and must be close.
func TestRegressionEValueIsTheInfimum(t *testing.T) {
	for _, c := range []struct {
		b      int64
		eb     float64
		n      int64
		en     float64
		ratio  float64
		reject bool
	}{
		{6, 30, 10, 5, 1.5, true},  // 0.2/minute → 2/minute over 5 minutes
		{6, 30, 6, 5, 1.5, false},  // 0.2/minute → 1.2/minute: weak evidence
		{9, 30, 42, 3, 1.5, true},  // the example: 0.3/minute → 14/minute
		{30, 30, 10, 1, 1.5, true}, // 1/minute → 10 in one minute
		{30, 30, 5, 1, 1.5, false}, // 1/minute → 5 in one minute
		{30, 30, 20, 1, 1.5, true}, // 1/minute → 20 in one minute
		{0, 30, 5, 1, 1.5, true},   // zero baseline, 5 errors in a minute
		{0, 30, 2, 1, 1.5, false},  // zero baseline, 2 errors
		{150, 30, 25, 1, 1.5, true},
		{150, 30, 12, 1, 1.5, false},
	} {
		got, x := RegressionEValue(c.b, c.eb, c.n, c.en, c.ratio)
		rho := c.ratio * c.en / c.eb
		f := func(u float64) float64 {
			xx := math.Exp(u)
			return math.Log(quadBaselineE(c.b, xx)) + math.Log(quadExcessE(c.n, rho*xx))
		}
		// A coarse grid over the whole range, then a fine one around the
		// search's point and around the coarse grid's best.
		brute, bu := math.Inf(1), 0.0
		for u := -12.0; u <= math.Log(10*float64(c.b+c.n+10)); u += 0.2 {
			if v := f(u); v < brute {
				brute, bu = v, u
			}
		}
		for _, mid := range []float64{bu, math.Log(math.Max(x, 1e-12))} {
			for u := mid - 0.06; u <= mid+0.06; u += 0.002 {
				brute = math.Min(brute, f(u))
			}
		}
		if got > brute+1e-6 || got < brute-1e-3 {
			t.Errorf("%+v: ln e = %.6f at x = %.4g, brute-force infimum %.6f", c, got, x, brute)
		}
		if rej := got >= math.Log(100); rej != c.reject {
			t.Errorf("%+v: e-value %.4g, rejects at 1/0.01 = %v, want %v", c, math.Exp(got), rej, c.reject)
		}
	}
}

// TestRegressionEValueFalsePositives runs releases exactly at max_ratio ×
// their baseline (the worst case of the null) and checks the test at every
// error: over a whole window the share that ever rejects stays within the
// false-positive rate. A broken test (plug-in of the baseline estimate, say)
// fails this.
func TestRegressionEValueFalsePositives(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	const reps = 400
	for _, rate := range []float64{0.2, 1, 5} {
		fp := 0
		for i := 0; i < reps; i++ {
			b := poissonDraw(r, rate*30)
			var n int64
			for tt := r.ExpFloat64() / (1.5 * rate); tt <= 5; tt += r.ExpFloat64() / (1.5 * rate) {
				n++
				if le, _ := RegressionEValue(b, 30, n, tt, 1.5); le >= math.Log(100) {
					fp++
					break
				}
			}
		}
		if fp > reps/100 {
			t.Errorf("baseline %g/minute, release at 1.5x: %d of %d rejected, above 1%%", rate, fp, reps)
		}
	}
}

func poissonDraw(r *rand.Rand, mean float64) int64 {
	l, k, p := math.Exp(-mean), int64(0), 1.0
	for {
		p *= r.Float64()
		if p < l {
			return k
		}
		k++
	}
}

func judgeInput(errs int64, minutes float64, base *BaselineSample, h Health) JudgeInput {
	t0 := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	return JudgeInput{Now: t0.Add(time.Duration(minutes * float64(time.Minute))), DeployedAt: t0, Errors: errs, Baseline: base, Health: h}
}

func baseline(errs int64) *BaselineSample {
	t0 := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	return &BaselineSample{DeploymentID: "d-old", Version: "v2.5.2", From: t0.Add(-30 * time.Minute), To: t0, Errors: errs}
}

func TestJudgeBaselineRegression(t *testing.T) {
	s, th := DefaultJudgeSettings(), DefaultThresholds()
	h := EvaluateHealth(HealthInputs{ErrorsLastMinute: 14, ErrorsLast5Minutes: 42}, th, time.Now())
	j := Judge(JudgeBaseline, judgeInput(42, 3, baseline(9), h), s, th)
	if j.Verdict != VerdictFail || j.Signal != SignalRegression {
		t.Fatalf("verdict %s/%s, want fail on the regression: %+v", j.Verdict, j.Signal, j)
	}
	if want := "Error rate regression: 14 errors/minute vs 0.3 on v2.5.2 (46.7x)"; j.Reason != want {
		t.Errorf("reason %q, want %q", j.Reason, want)
	}
	if want := "Why: 42 errors in 3 min (14/minute) vs 9 in 30 min (0.3/minute) on v2.5.2 — 46.7x, p < 0.0001"; j.Why != want {
		t.Errorf("why %q, want %q", j.Why, want)
	}
	if j.Baseline.DeploymentID != "d-old" || j.Baseline.Errors != 9 || j.Baseline.Minutes != 30 || j.Ratio == nil || j.PValue >= 0.0001 {
		t.Errorf("evidence %+v", j)
	}
}

func TestJudgeBaselineBusyServiceIsInconclusive(t *testing.T) {
	s, th := DefaultJudgeSettings(), DefaultThresholds()
	// 20/minute before and after: above the absolute trigger, no regression.
	h := EvaluateHealth(HealthInputs{ErrorsLastMinute: 21, ErrorsLast5Minutes: 60}, th, time.Now())
	j := Judge(JudgeBaseline, judgeInput(60, 3, baseline(600), h), s, th)
	if j.Verdict != VerdictInconclusive || j.Reason != "" || !strings.Contains(j.Note, "no significant regression") {
		t.Errorf("busy service: %+v, want inconclusive without a reason", j)
	}
	// The same under the threshold judge fails, as the seed says.
	if jt := Judge(JudgeThreshold, judgeInput(60, 3, baseline(600), h), s, th); jt.Verdict != VerdictFail || jt.Reason != "High error rate: 21 errors/minute" {
		t.Errorf("threshold judge: %+v", jt)
	}
}

func TestJudgeBaselineOtherVerdicts(t *testing.T) {
	s, th := DefaultJudgeSettings(), DefaultThresholds()
	quiet := EvaluateHealth(HealthInputs{}, th, time.Now())
	// Zero errors is data: pass.
	if j := Judge(JudgeBaseline, judgeInput(0, 5, baseline(6), quiet), s, th); j.Verdict != VerdictPass {
		t.Errorf("no errors: %+v", j)
	}
	// First deployment: the thresholds, and the evidence says so.
	j := Judge(JudgeBaseline, judgeInput(0, 5, nil, quiet), s, th)
	if j.Verdict != VerdictPass || !j.Fallback || !strings.Contains(j.Note, "threshold triggers") {
		t.Errorf("first deployment: %+v", j)
	}
	// DB connections are absolute.
	util := 95.0
	db := EvaluateHealth(HealthInputs{Metrics: map[string]float64{MetricDatabaseConnectionUtilization: util}}, th, time.Now())
	if j := Judge(JudgeBaseline, judgeInput(0, 2, baseline(6), db), s, th); j.Verdict != VerdictFail || j.Reason != "Database connection utilization at 95%" {
		t.Errorf("db: %+v", j)
	}
	// A pulled signal unknown: inconclusive, never pass.
	unk := EvaluateHealth(HealthInputs{Unknown: map[string]string{"p95_response_time_ms": "prometheus: timeout"}}, th, time.Now())
	if j := Judge(JudgeBaseline, judgeInput(0, 2, baseline(6), unk), s, th); j.Verdict != VerdictInconclusive || j.Signal != "p95_response_time_ms" {
		t.Errorf("unknown: %+v", j)
	}
	// Request counts on the baseline, none on the release: inconclusive.
	b := baseline(30)
	reqs := 30000.0
	b.Requests = &reqs
	j = Judge(JudgeBaseline, judgeInput(0, 5, b, quiet), s, th)
	if j.Verdict != VerdictInconclusive || j.Signal != SignalRequests || !strings.Contains(j.Why, "no traffic is not health") {
		t.Errorf("no requests: %+v", j)
	}
	few := 50.0
	in := judgeInput(0, 5, b, quiet)
	in.Requests, in.RequestsUntil = &few, in.Now
	if j := Judge(JudgeBaseline, in, s, th); j.Verdict != VerdictInconclusive {
		t.Errorf("50 requests (below min_requests): %+v", j)
	}
	// Per request: 60 errors in 1,000 requests against 30 in 30,000.
	many := 1000.0
	in = judgeInput(60, 1, b, quiet)
	in.Requests, in.RequestsUntil = &many, in.Now
	j = Judge(JudgeBaseline, in, s, th)
	if j.Verdict != VerdictFail || j.Unit != "request" || j.Reason != "Error rate regression: 6% of requests vs 0.1% on v2.5.2 (60x)" {
		t.Errorf("per request: %+v", j)
	}
	// Zero baseline: finite evidence, no ratio, a clear why line.
	h := EvaluateHealth(HealthInputs{ErrorsLastMinute: 3, ErrorsLast5Minutes: 8}, th, time.Now())
	j = Judge(JudgeBaseline, judgeInput(8, 2, baseline(0), h), s, th)
	if j.Verdict != VerdictFail || j.Ratio != nil || math.IsInf(j.EValue, 0) || !strings.Contains(j.Why, "no errors on the baseline") {
		t.Errorf("zero baseline: %+v", j)
	}
	// min_errors: 4 errors never fail, however strong the ratio.
	if j := Judge(JudgeBaseline, judgeInput(4, 0.5, baseline(0), quiet), s, th); j.Verdict == VerdictFail {
		t.Errorf("below min_errors: %+v", j)
	}
}

func TestJudgeSettingsValidate(t *testing.T) {
	if err := DefaultJudgeSettings().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := JudgeSettings{Judge: "x", BaselineWindow: time.Second, MaxRatio: 0.9, FalsePositiveRate: 0.7, MinErrors: 0, MinRequests: -1, Extend: -time.Second}
	fields := map[string]bool{}
	for _, fe := range FieldErrors(bad.Validate()) {
		fields[fe.Field] = true
	}
	for _, f := range []string{"judge", "baseline_window", "max_ratio", "false_positive_rate", "min_errors", "min_requests", "extend"} {
		if !fields[f] {
			t.Errorf("no error for %s", f)
		}
	}
}

// BenchmarkRegressionEValue measures one evaluation of the sequential test
// at small, medium and large counts.
func BenchmarkRegressionEValue(b *testing.B) {
	for _, c := range []struct {
		name string
		b, n int64
		en   float64
	}{{"B=6,N=10", 6, 10, 5}, {"B=150,N=75", 150, 75, 3}, {"B=3000,N=500", 3000, 500, 5}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				RegressionEValue(c.b, 30, c.n, c.en, 1.5)
			}
		})
	}
}
