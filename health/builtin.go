package health

import (
	"context"
	"time"

	"github.com/odyssey-1/roman"
)

// builtinInputs reads the store: error counts, and the newest n samples of
// each metric in (now - MetricMaxAge, now]. The newest is the signal's value;
// the smallest of n (when there are n) is its sustained value.
func builtinInputs(ctx context.Context, st roman.SignalStore, deploymentID string, now time.Time, n int) (roman.HealthInputs, error) {
	last1, last5, err := st.CountErrors(ctx, deploymentID, now)
	if err != nil {
		return roman.HealthInputs{}, err
	}
	in := roman.HealthInputs{ErrorsLastMinute: last1, ErrorsLast5Minutes: last5,
		Metrics: map[string]float64{}, Sustained: map[string]float64{}}
	if n <= 1 {
		latest, err := st.LatestMetrics(ctx, deploymentID, now.Add(-MetricMaxAge), now)
		if err != nil {
			return roman.HealthInputs{}, err
		}
		for k, v := range latest {
			in.Metrics[k], in.Sustained[k] = v, v
		}
		return in, nil
	}
	if err := recentInputs(ctx, st, deploymentID, now, n, &in); err != nil {
		return roman.HealthInputs{}, err
	}
	return in, nil
}

// recentInputs reads the newest n samples of each metric in
// (now - MetricMaxAge, now] into in: the newest is the signal's value, the
// smallest of n (when there are n) its sustained value.
func recentInputs(ctx context.Context, st roman.SignalStore, deploymentID string, now time.Time, n int, in *roman.HealthInputs) error {
	recent, err := st.RecentMetrics(ctx, deploymentID, now.Add(-MetricMaxAge), now, n)
	if err != nil {
		return err
	}
	for k, vs := range recent {
		if len(vs) == 0 {
			continue
		}
		in.Metrics[k] = vs[0]
		if len(vs) >= n {
			in.Sustained[k] = minOf(vs[:n])
		}
	}
	return nil
}

func minOf(vs []float64) float64 {
	m := vs[0]
	for _, v := range vs[1:] {
		m = min(m, v)
	}
	return m
}
