package roman

import (
	"math"
)

// The sequential test of the baseline judge (docs/judge.md derives it).
//
// The baseline release had B errors over exposure Eb (minutes, or requests
// when request counts are known); the new release has N errors over
// exposure En so far. Null hypothesis: the new release's rate is at most
// maxRatio times the baseline's. For a hypothetical baseline rate ℓ, with
// x = ℓ·Eb (the baseline's expected count) and y = maxRatio·ℓ·En (the new
// release's largest expected count under the null):
//
//	eb(B; x) = ∫₀¹ κ r^(κ−1) · r^B e^((1−r)x) dr
//	en(N; y) = ∫₀^∞ β e^(−βs) · (1+s)^N e^(−s·y) ds
//
// eb is a mixture of likelihood ratios "baseline rate r·ℓ against ℓ" (r ≤ 1)
// and has expectation at most 1 when the true baseline rate is at least ℓ;
// en is a mixture of likelihood ratios "rate (1+s)·λ0 against λ0" and is a
// nonnegative supermartingale in time when the true rate is at most λ0. The
// e-value is the infimum over ℓ of eb·en: it is at most the product at the
// true baseline rate, which is an e-process for the null, so by Ville's
// inequality the chance that it ever reaches 1/α is at most α, however
// often it is checked.

// Parameters of the mixtures: the Beta(κ, 1) weight of the baseline ratio r
// and the exponential weight (rate β) of the excess s of the new release.
const (
	judgeBaselineShape = 4.0
	judgeExcessRate    = 0.5
)

// RegressionEValue returns the natural logarithm of the e-value of the
// baseline judge's sequential test (see docs/judge.md): b errors over
// baseline exposure eb against n errors over exposure en of the new
// release, testing whether the new rate exceeds maxRatio times the
// baseline's. x is the baseline's expected count at which the infimum over
// the nuisance baseline rate was reached. A zero baseline count is valid
// input. Exposures must be positive.
func RegressionEValue(b int64, eb float64, n int64, en float64, maxRatio float64) (logE, x float64) {
	if eb <= 0 || en <= 0 || maxRatio <= 0 || b < 0 || n < 0 {
		return 0, 0
	}
	rho := maxRatio * en / eb
	f := func(x float64) float64 { return logBaselineE(b, x) + logExcessE(n, rho*x) }
	hi := 4*(float64(b)+float64(n)+judgeBaselineShape+2) + 10
	// The derivative of f is positive beyond hi (docs/judge.md); make sure.
	for f(hi*1.0001) < f(hi) {
		hi *= 2
	}
	lo := 1e-12
	u0, u1 := math.Log(lo), math.Log(hi)
	const g = 0.6180339887498949
	a, c := u1-g*(u1-u0), u0+g*(u1-u0)
	fa, fc := f(math.Exp(a)), f(math.Exp(c))
	for i := 0; i < 90 && u1-u0 > 1e-10; i++ {
		if fa <= fc {
			u1, c, fc = c, a, fa
			a = u1 - g*(u1-u0)
			fa = f(math.Exp(a))
		} else {
			u0, a, fa = a, c, fc
			c = u0 + g*(u1-u0)
			fc = f(math.Exp(c))
		}
	}
	best, bx := fa, math.Exp(a)
	if fc < best {
		best, bx = fc, math.Exp(c)
	}
	// The infimum may lie at the ends of the search.
	if v := f(lo); v < best {
		best, bx = v, lo
	}
	if v := f(0); v < best {
		best, bx = v, 0
	}
	return best, bx
}

// logBaselineE returns ln eb(B; x) = ln ∫₀¹ κ r^(B+κ−1) e^((1−r)x) dr.
func logBaselineE(b int64, x float64) float64 {
	a := float64(b) + judgeBaselineShape
	if x <= a+1 {
		// eb = (κ/a)·Σₙ xⁿ / ((a+1)…(a+n)), terms falling from the first.
		sum, t := 1.0, 1.0
		for n := 1; n < 100000; n++ {
			t *= x / (a + float64(n))
			sum += t
			if t < sum*1e-17 {
				break
			}
		}
		return math.Log(judgeBaselineShape) - math.Log(a) + math.Log(sum)
	}
	// eb = κ·eˣ·Γ(a)·P(a, x)/xᵃ with P = 1 − Q, Q by its continued fraction.
	lg, _ := math.Lgamma(a)
	return math.Log(judgeBaselineShape) + x + lg + math.Log1p(-gammaQ(a, x)) - a*math.Log(x)
}

// gammaQ is the regularised upper incomplete gamma function Q(a, x) for
// x > a+1, by the Lentz continued fraction.
func gammaQ(a, x float64) float64 {
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 10000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-16 {
			break
		}
	}
	lg, _ := math.Lgamma(a)
	return math.Exp(-x+a*math.Log(x)-lg) * h
}

// logExcessE returns ln en(N; y) = ln ∫₀^∞ β e^(−βs) (1+s)^N e^(−s·y) ds
// = ln Σₖ β·N!/((N−k)!·(y+β)^(k+1)), k = 0…N.
func logExcessE(n int64, y float64) float64 {
	c := y + judgeExcessRate
	lc := math.Log(c)
	lgN, _ := math.Lgamma(float64(n) + 1)
	term := func(k int64) float64 {
		lg, _ := math.Lgamma(float64(n-k) + 1)
		return math.Log(judgeExcessRate) - float64(k+1)*lc + lgN - lg
	}
	// The terms rise while (N−k+1)/c > 1: start at the largest and add
	// outwards until they no longer count.
	peak := int64(math.Floor(float64(n) + 1 - c))
	peak = max(0, min(n, peak))
	top := term(peak)
	// Relative to the largest term, by the ratios of neighbours:
	// t(k+1)/t(k) = (N−k)/c.
	s := 1.0
	t := 1.0
	for k := peak + 1; k <= n && t > 1e-18; k++ {
		t *= float64(n-k+1) / c
		s += t
	}
	t = 1.0
	for k := peak; k >= 1 && t > 1e-18; k-- {
		t *= c / float64(n-k+1)
		s += t
	}
	return top + math.Log(s)
}
