package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/odyssey-1/roman"
)

// storeCollector reads the metrics kept in the store at scrape time.
type storeCollector struct {
	cfg Config

	deployments *prometheus.Desc
	rollbacks   *prometheus.Desc
	duration    *prometheus.Desc
	validations *prometheus.Desc
	errorRate   *prometheus.Desc
	outbox      *prometheus.Desc
}

func newStoreCollector(cfg Config) *storeCollector {
	outcome := []string{"environment", "service", "trigger_type", "outcome"}
	return &storeCollector{
		cfg: cfg,
		deployments: prometheus.NewDesc("roman_deployments",
			"Deployments recorded, by environment, service and status.", []string{"environment", "service", "status"}, nil),
		rollbacks: prometheus.NewDesc("roman_rollbacks_total",
			"Finished rollback events, by environment, service, trigger type and outcome (success, failed, aborted).", outcome, nil),
		duration: prometheus.NewDesc("roman_rollback_duration_seconds",
			"Time from a rollback's initiation to its completion, by environment, service, trigger type and outcome.", outcome, nil),
		validations: prometheus.NewDesc("roman_validations_total",
			"Constitutional validations of rollbacks, by result (approved, rejected).", []string{"result"}, nil),
		errorRate: prometheus.NewDesc("roman_error_rate_per_minute",
			"Current error rate (errors in the last 60 s) of each deployment inside its watch window.",
			[]string{"environment", "service", "deployment_id", "version"}, nil),
		outbox: prometheus.NewDesc("roman_alert_outbox_pending",
			"Alerts in the outbox that wait for delivery (neither delivered nor given up).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.deployments, c.rollbacks, c.duration, c.validations, c.errorRate} {
		ch <- d
	}
	if c.cfg.Outbox != nil {
		ch <- c.outbox
	}
}

// Collect implements prometheus.Collector: one query per family, each
// failure reported as an invalid metric of its family so that the rest of
// the scrape still succeeds.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.ScrapeTimeout)
	defer cancel()
	st := c.cfg.Store
	fail := func(d *prometheus.Desc, what string, err error) {
		ch <- prometheus.NewInvalidMetric(d, fmt.Errorf("metrics: %s: %w", what, err))
	}

	if counts, err := st.CountDeployments(ctx); err != nil {
		fail(c.deployments, "counting deployments", err)
	} else {
		for _, n := range counts {
			ch <- prometheus.MustNewConstMetric(c.deployments, prometheus.GaugeValue, float64(n.Count), n.Environment, roman.ServiceOrDefault(n.Service), n.Status)
		}
	}

	if outcomes, err := st.RollbackOutcomes(ctx, RollbackDurationBuckets); err != nil {
		fail(c.rollbacks, "aggregating rollbacks", err)
	} else {
		for _, o := range outcomes {
			labels := []string{o.Environment, roman.ServiceOrDefault(o.Service), o.TriggerType, o.Status}
			ch <- prometheus.MustNewConstMetric(c.rollbacks, prometheus.CounterValue, float64(o.Count), labels...)
			buckets := make(map[float64]uint64, len(RollbackDurationBuckets))
			for i, b := range RollbackDurationBuckets {
				buckets[b] = uint64(o.Buckets[i])
			}
			ch <- prometheus.MustNewConstHistogram(c.duration, uint64(o.Count), o.DurationSum, buckets, labels...)
		}
	}

	if approved, rejected, err := st.CountValidations(ctx); err != nil {
		fail(c.validations, "counting validations", err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.validations, prometheus.CounterValue, float64(approved), "approved")
		ch <- prometheus.MustNewConstMetric(c.validations, prometheus.CounterValue, float64(rejected), "rejected")
	}

	c.collectErrorRates(ctx, ch, fail)

	if c.cfg.Outbox != nil {
		if n, err := c.cfg.Outbox.OutboxDepth(ctx); err != nil {
			fail(c.outbox, "counting the outbox", err)
		} else {
			ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(n))
		}
	}
}

// collectErrorRates exports the error rate of every environment's current
// deployment that is inside its watch window.
func (c *storeCollector) collectErrorRates(ctx context.Context, ch chan<- prometheus.Metric, fail func(*prometheus.Desc, string, error)) {
	current, err := c.cfg.Store.ActiveDeployments(ctx)
	if err != nil {
		fail(c.errorRate, "listing current deployments", err)
		return
	}
	now := c.cfg.Clock()
	for _, d := range current {
		if !Watched(d, c.window(d.Environment), now) {
			continue
		}
		lastMinute, _, err := c.cfg.Store.CountErrors(ctx, d.DeploymentID, now)
		if err != nil {
			fail(c.errorRate, "counting errors", err)
			return
		}
		ch <- prometheus.MustNewConstMetric(c.errorRate, prometheus.GaugeValue, float64(lastMinute), d.Environment, roman.ServiceOrDefault(d.Service), d.DeploymentID, d.Version)
	}
}

func (c *storeCollector) window(env string) time.Duration {
	if c.cfg.WatchWindow == nil {
		return 0
	}
	return c.cfg.WatchWindow(env)
}

// Watched reports whether deployment d is inside its watch window at now:
// completed successfully less than window ago.
func Watched(d *roman.Deployment, window time.Duration, now time.Time) bool {
	if d == nil || d.Status != roman.StatusSuccess || d.CompletedAt == nil || window <= 0 {
		return false
	}
	return now.Before(d.CompletedAt.Add(window))
}
