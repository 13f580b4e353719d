package health_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/health"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/sqldb"
)

// plainStore answers the batch reads one deployment at a time with the
// single-deployment reads, so CheckMany can be compared with the queries
// CheckAt makes.
type plainStore struct{ roman.SignalStore }

func (p plainStore) CountErrorsBatch(ctx context.Context, ids []string, now time.Time) (map[string]roman.ErrorCounts, error) {
	out := map[string]roman.ErrorCounts{}
	for _, id := range ids {
		last1, last5, err := p.CountErrors(ctx, id, now)
		if err != nil {
			return nil, err
		}
		if last1 != 0 || last5 != 0 {
			out[id] = roman.ErrorCounts{LastMinute: last1, Last5Minutes: last5}
		}
	}
	return out, nil
}

func (p plainStore) LatestMetricsBatch(ctx context.Context, ids []string, since, now time.Time) (map[string]map[string]float64, error) {
	out := map[string]map[string]float64{}
	for _, id := range ids {
		m, err := p.LatestMetrics(ctx, id, since, now)
		if err != nil {
			return nil, err
		}
		if len(m) > 0 {
			out[id] = m
		}
	}
	return out, nil
}

// TestCheckManyAgreesWithCheckAt computes the health of deployments with
// triggers, warnings, metrics and nothing at all, and of environments that
// count single and consecutive breaches, once with CheckMany and once with
// CheckAt per deployment, on both stores and with a store whose batch reads
// read one deployment at a time: every answer must be the same JSON.
func TestCheckManyAgreesWithCheckAt(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		st, err := sqldb.Open(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		testCheckMany(t, st)
	})
}

func testCheckMany(t *testing.T, st *sqldb.DB) {
	now := time.Date(2025, 12, 15, 14, 35, 0, 123456000, time.UTC)
	var ds []*roman.Deployment
	for i := 0; i < 12; i++ {
		env := []string{"production", "strict", "patient"}[i%3]
		d := &roman.Deployment{DeploymentID: roman.NewUUID(), Environment: env, Version: fmt.Sprint("v", i), GitCommit: "abc",
			GitBranch: "main", Status: roman.StatusSuccess, DeployedAt: now.Add(-time.Hour)}
		if err := st.CreateDeployment(ctx, d); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
		var evs []roman.ErrorEvent
		for k := 0; k < i*2; k++ { // 0 to 22 errors over the last 7 minutes
			evs = append(evs, roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: env, Message: "boom", Severity: "error",
				OccurredAt: now.Add(-time.Duration(k) * 7 * time.Minute / time.Duration(i*2))})
		}
		var ss []roman.MetricSample
		for k := 0; k < i%4; k++ {
			for _, name := range []string{roman.MetricDatabaseConnectionUtilization, roman.MetricP95ResponseTimeMS} {
				ss = append(ss, roman.MetricSample{DeploymentID: d.DeploymentID, Environment: env, Name: name,
					Value: float64(60 + 10*i + k), At: now.Add(-time.Duration(k) * time.Minute)})
			}
		}
		if len(evs) > 0 {
			if err := st.InsertErrorEvents(ctx, evs); err != nil {
				t.Fatal(err)
			}
		}
		if len(ss) > 0 {
			if err := st.InsertMetricSamples(ctx, ss); err != nil {
				t.Fatal(err)
			}
		}
	}
	strict := roman.Thresholds{ErrorRate: 2, RecentErrors: 10, DBConnections: 80, WarnErrorRate: 0.5, WarnP95MS: 100, WarnMemoryPercent: 50}
	checker := func(s roman.SignalStore) *health.Checker {
		return &health.Checker{Store: s, Clock: func() time.Time { return now },
			Thresholds: func(env string) roman.Thresholds {
				if env == "strict" {
					return strict
				}
				return roman.DefaultThresholds()
			},
			ConsecutiveBreaches: func(env string) int {
				if env == "patient" {
					return 3
				}
				return 1
			},
		}
	}
	batched, plain := checker(st), checker(plainStore{st})
	hs, errs := batched.CheckMany(ctx, ds, now)
	hsPlain, errsPlain := plain.CheckMany(ctx, ds, now)
	reasons := 0
	for i, d := range ds {
		want, err := batched.CheckAt(ctx, d, now)
		if err != nil || errs[i] != nil || errsPlain[i] != nil {
			t.Fatalf("deployment %d: %v %v %v", i, err, errs[i], errsPlain[i])
		}
		w, _ := json.Marshal(want)
		for name, got := range map[string]roman.Health{"batched": hs[i], "one by one": hsPlain[i]} {
			if g, _ := json.Marshal(got); string(g) != string(w) {
				t.Errorf("deployment %d (%s), %s:\n got %s\nwant %s", i, d.Environment, name, g, w)
			}
		}
		if want.Reason != "" {
			reasons++
		}
	}
	if reasons == 0 || reasons == len(ds) {
		t.Fatalf("the data must make some deployments trigger and some not: %d of %d", reasons, len(ds))
	}
	// A failing store reports its error for every batched deployment.
	st.Close()
	if _, errs := batched.CheckMany(ctx, ds[:2], now); errs[0] == nil || errs[1] == nil {
		t.Fatalf("errors of a closed store: %v", errs)
	}
}
