package roman

import (
	"testing"
	"time"
)

// resetBoundCache empties the boundary cache, waiting for computations in
// flight first, so a test sees cold and warm caches deterministically.
func resetBoundCache() {
	boundCache.Lock()
	m := boundCache.m
	boundCache.m = nil
	boundCache.Unlock()
	for _, e := range m {
		<-e.done
	}
}

// TestBoundaryStepsArePrefix: the critical counts computed up to a step are
// exactly the whole boundary's first counts, for every step, baseline
// count, window fraction, ratio and level tried.
func TestBoundaryStepsArePrefix(t *testing.T) {
	cases := []struct {
		b            int64
		q, wf, level float64
		minErrors    int64
		steps        []int
	}{
		{0, 0.75, 1.0 / 3, boundShare * 0.01, 5, []int{1, 2, 12, 60, 179, 180}},
		{6, 0.8, 0.375, boundShare * 0.01, 6, []int{1, 11, 68, 180}},
		{40, 0.75, 1.0 / 3, boundShare * 0.05, 1, []int{1, 7, 90, 180}},
		{150, 1.5, 0.2, boundShare * 0.001, 3, []int{1, 30, 120, 180}},
		{600, 0.75, 1.0 / 3, boundShare * 0.01, 5, []int{1, 12, 180}},
	}
	for _, c := range cases {
		full := computeBoundary(c.b, c.q, c.wf, c.level, c.minErrors)
		for _, n := range c.steps {
			got := computeBoundarySteps(c.b, c.q, c.wf, c.level, c.minErrors, n)
			if len(got) != n {
				t.Fatalf("B=%d: %d counts up to step %d", c.b, len(got), n)
			}
			for i := range got {
				if got[i] != full.Counts[i] {
					t.Fatalf("B=%d q=%g wf=%g: up to step %d, count %d is %d, the whole boundary's %d",
						c.b, c.q, c.wf, n, i+1, got[i], full.Counts[i])
				}
			}
		}
	}
}

// TestBoundaryCheckCold: with the boundary not computed yet, boundaryCheck
// answers exactly as the whole boundary's Reject (and starts computing it),
// at every exposure from the first step to beyond the horizon.
func TestBoundaryCheckCold(t *testing.T) {
	const eb, h, w = 30.0, 16.0, 6.0
	for _, b := range []int64{0, 9, 120} {
		for _, en := range []float64{0.01, 1, 5.9, 6, 10, 15.9, 16, 17} {
			for _, n := range []int64{0, 5, 6, 9, 14, 30, 200} {
				resetBoundCache()
				applies, rej, crit := boundaryCheck(b, eb, h, w, 1.5, 0.01, 6, n, en)
				bd := BoundaryFor(b, eb, h, w, 1.5, 0.01, 6) // waits for the background computation
				wantRej, wantCrit := bd.Reject(n, en, eb)
				if !applies || rej != wantRej || crit != wantCrit {
					t.Fatalf("B=%d, %d errors at %g min: cold (%v, %v, %d), whole boundary (%v, %d)", b, n, en, applies, rej, crit, wantRej, wantCrit)
				}
				applies, rej, crit = boundaryCheck(b, eb, h, w, 1.5, 0.01, 6, n, en)
				if !applies || rej != wantRej || crit != wantCrit {
					t.Fatalf("B=%d, %d errors at %g min: warm (%v, %v, %d), whole boundary (%v, %d)", b, n, en, applies, rej, crit, wantRej, wantCrit)
				}
			}
		}
	}
	resetBoundCache()
	if applies, _, _ := boundaryCheck(701, 30, 15, 5, 1.5, 0.01, 5, 10, 1); applies {
		t.Error("a baseline above the largest count has a boundary")
	}
}

// TestJudgeColdCacheSameJudgement: Judge gives the same judgement, every
// field of its evidence, whether the boundary was computed already or not.
func TestJudgeColdCacheSameJudgement(t *testing.T) {
	s := DefaultJudgeSettings()
	s.Judge = JudgeBaseline
	th := DefaultThresholds()
	dep := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	for _, b := range []int64{0, 3, 40, 300} {
		for _, n := range []int64{0, 4, 5, 12, 40, 120} {
			for _, m := range []float64{0.5, 3, 9, 14, 16} {
				in := JudgeInput{Now: dep.Add(time.Duration(m * float64(time.Minute))), DeployedAt: dep, Errors: n,
					Baseline: &BaselineSample{DeploymentID: "d", Version: "v1", From: dep.Add(-30 * time.Minute), To: dep, Errors: b},
					Horizon:  15 * time.Minute, Window: 5 * time.Minute}
				resetBoundCache()
				cold := Judge(JudgeBaseline, in, s, th)
				resetBoundCache()
				BoundaryFor(b, 30, 15, 5, s.MaxRatio, s.FalsePositiveRate, s.MinErrors)
				warm := Judge(JudgeBaseline, in, s, th)
				if cold.Verdict != warm.Verdict || cold.CriticalErrors != warm.CriticalErrors || cold.Limits != warm.Limits ||
					cold.PValue != warm.PValue || cold.Why != warm.Why || cold.Reason != warm.Reason {
					t.Fatalf("B=%d, %d errors at %g min: cold %+v, warm %+v", b, n, m, cold, warm)
				}
			}
		}
	}
}

// BenchmarkRegressionBoundarySteps measures what a release's first
// judgement computes on the evaluation path when its boundary is not cached
// (boundaryCheck): the critical counts up to its step, here a minute into a
// 15-minute horizon (step 12 of 180), next to BenchmarkRegressionBoundary's
// whole boundary, which is computed in the background.
func BenchmarkRegressionBoundarySteps(b *testing.B) {
	for _, n := range []int64{0, 6, 150, 600, 700} {
		b.Run("B="+itoa(n), func(b *testing.B) {
			for range b.N {
				computeBoundarySteps(n, 1.5*15/30, 5.0/15, boundShare*0.01, 5, 12)
			}
		})
	}
}
