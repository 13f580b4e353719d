// Package ingest implements roman.IngestService: it validates error events
// and metric samples posted by applications, attributes each to a
// deployment, stores a batch whole in one transaction before answering, and
// tells the monitor (through the Hub) so it re-evaluates at once.
package ingest

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/odyssey-1/roman"
)

// Limits of the ingest API and of this implementation.
const (
	// MaxBatch is the most items one request may carry.
	MaxBatch = 10000
	// DefaultMaxFutureSkew is how far in the future an item's timestamp may
	// be: application clocks drift, but an event an hour ahead would count
	// against a deployment long after it happened.
	DefaultMaxFutureSkew = time.Minute
	// DefaultMaxWait is how long a batch waits for the write path before
	// the caller is told to come back (EUNAVAILABLE, 503 with Retry-After).
	DefaultMaxWait = 5 * time.Second
	// DefaultMaxConcurrent bounds concurrent write transactions.
	DefaultMaxConcurrent = 4

	maxMessage     = 16 << 10
	maxSeverity    = 32
	maxFingerprint = 256
	maxErrorType   = 256
	maxStack       = 64 << 10
	defaultSev     = "error"
)

var metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:.]{0,127}$`)

// Service implements roman.IngestService: it attributes each item to a
// deployment read from Deployments and stores the batch in Signals.
type Service struct {
	// Deployments resolves the deployment_id or environment of each item.
	Deployments roman.DeploymentStore
	// Signals stores the error events and metric samples.
	Signals roman.SignalStore
	// Hub, when set, is told of every stored batch (ChangeErrors,
	// ChangeMetrics) once per deployment.
	Hub   *roman.Hub
	Clock roman.Clock
	// MaxFutureSkew (default DefaultMaxFutureSkew), MaxConcurrent (default
	// DefaultMaxConcurrent) and MaxWait (default DefaultMaxWait) tune the
	// service; zero takes the default.
	MaxFutureSkew time.Duration
	MaxConcurrent int
	MaxWait       time.Duration

	once sync.Once
	sem  chan struct{}
}

var _ roman.IngestService = (*Service)(nil)

// item names the i-th item of a batch (events[3]) or, for a single item,
// nothing, so that messages read "events[3].message: …" or "message: …".
func item(list string, batch bool, i int, field string) string {
	if !batch {
		return field
	}
	if field == "" {
		return fmt.Sprintf("%s[%d]", list, i)
	}
	return fmt.Sprintf("%s[%d].%s", list, i, field)
}

func invalid(path, format string, args ...any) error {
	return roman.Errorf(roman.EINVALID, "%s: %s", path, fmt.Sprintf(format, args...))
}

// target is a deployment items are attributed to.
type target struct {
	id, service, env string
}

// scope is a (service, environment) whose current deployment items without
// a deployment_id are attributed to.
type scope struct {
	service, env string
}

// resolver finds each item's deployment, reading each distinct id or
// environment once per batch.
type resolver struct {
	st     roman.DeploymentStore
	byID   map[string]target
	byEnv  map[scope]target
	list   string
	batch  bool
	fields func(i int) (deploymentID, service, environment string)
}

func (r *resolver) resolve(ctx context.Context, i int) (target, error) {
	id, service, env := r.fields(i)
	if service != "" && !roman.ValidService(service) {
		return target{}, invalid(item(r.list, r.batch, i, "service"), "must match [a-z0-9_-]{1,64}")
	}
	switch {
	case id != "":
		if !roman.ValidUUID(id) {
			return target{}, invalid(item(r.list, r.batch, i, "deployment_id"), "must be a UUID")
		}
		id = strings.ToLower(id)
		t, ok := r.byID[id]
		if !ok {
			d, err := r.st.GetDeployment(ctx, id)
			if roman.ErrorCode(err) == roman.ENOTFOUND {
				return target{}, roman.Errorf(roman.ENOTFOUND, "%s: deployment %s not found", item(r.list, r.batch, i, "deployment_id"), id)
			} else if err != nil {
				return target{}, err
			}
			t = target{id: d.DeploymentID, service: d.Service, env: d.Environment}
			r.byID[id] = t
		}
		if env != "" && env != t.env {
			return target{}, invalid(item(r.list, r.batch, i, "environment"), "%q does not match deployment %s, which is in %q", env, id, t.env)
		}
		if service != "" && service != t.service {
			return target{}, invalid(item(r.list, r.batch, i, "service"), "%q does not match deployment %s, which is of service %q", service, id, t.service)
		}
		return t, nil
	case env != "":
		if !roman.ValidEnvironment(env) {
			return target{}, invalid(item(r.list, r.batch, i, "environment"), "must match [a-z0-9_-]{1,64}")
		}
		key := scope{service: roman.ServiceOrDefault(service), env: env}
		t, ok := r.byEnv[key]
		if !ok {
			d, err := r.st.CurrentDeployment(ctx, key.service, env)
			if err != nil {
				return target{}, err
			}
			if d == nil {
				what := fmt.Sprintf("environment %q", env)
				if key.service != roman.DefaultService {
					what = fmt.Sprintf("service %q in environment %q", key.service, env)
				}
				return target{}, roman.Errorf(roman.ENOTFOUND, "%s: %s has no successful deployment to attribute it to", item(r.list, r.batch, i, "environment"), what)
			}
			t = target{id: d.DeploymentID, service: d.Service, env: d.Environment}
			r.byEnv[key] = t
		}
		return t, nil
	}
	return target{}, invalid(item(r.list, r.batch, i, "deployment_id"), "give deployment_id or environment")
}

// checkTime applies the default (now) and the future skew to a timestamp;
// path names the field, on error.
func (s *Service) checkTime(t time.Time, now time.Time, path func() string) (time.Time, error) {
	if t.IsZero() {
		return now, nil
	}
	skew := s.MaxFutureSkew
	if skew <= 0 {
		skew = DefaultMaxFutureSkew
	}
	if t.After(now.Add(skew)) {
		return time.Time{}, invalid(path(), "%s is more than %s in the future (server time %s)",
			t.UTC().Format(time.RFC3339), skew, now.Format(time.RFC3339))
	}
	if t.Year() < 1970 {
		return time.Time{}, invalid(path(), "before 1970")
	}
	return roman.UTC(t), nil
}

// textProblem describes what is wrong with a text field, or is "": too
// long, or text that a store cannot keep (invalid UTF-8, which PostgreSQL
// refuses, or a NUL character, which PostgreSQL refuses and SQLite would
// keep). Refused here, such text is a 400 naming the field instead of a
// failed batch. The caller names the field only on error: formatting the
// path of every field of every item was a tenth of the ingest path's time.
func textProblem(v string, max int) string {
	if len(v) > max {
		return fmt.Sprintf("longer than %d bytes", max)
	}
	return roman.TextProblem(v)
}

// IngestErrors implements roman.IngestService.
func (s *Service) IngestErrors(ctx context.Context, b roman.ErrorBatch) (*roman.IngestResult, error) {
	evs := b.Events
	if err := checkCount("events", len(evs)); err != nil {
		return nil, err
	}
	now := roman.UTC(s.Clock())
	r := &resolver{st: s.Deployments, byID: map[string]target{}, byEnv: map[scope]target{}, list: "events", batch: b.Batch,
		fields: func(i int) (string, string, string) { return evs[i].DeploymentID, evs[i].Service, evs[i].Environment }}
	out := make([]roman.ErrorEvent, len(evs))
	var fps fingerprints
	for i := range evs {
		e := evs[i]
		if strings.TrimSpace(e.Message) == "" {
			return nil, invalid(item("events", b.Batch, i, "message"), "required")
		}
		if p := textProblem(e.Message, maxMessage); p != "" {
			return nil, invalid(item("events", b.Batch, i, "message"), "%s", p)
		}
		if e.Severity == "" {
			e.Severity = defaultSev
		} else if p := textProblem(e.Severity, maxSeverity); p != "" {
			return nil, invalid(item("events", b.Batch, i, "severity"), "%s", p)
		}
		if p := textProblem(e.Fingerprint, maxFingerprint); p != "" {
			return nil, invalid(item("events", b.Batch, i, "fingerprint"), "%s", p)
		}
		if p := textProblem(e.ErrorType, maxErrorType); p != "" {
			return nil, invalid(item("events", b.Batch, i, "error_type"), "%s", p)
		}
		if p := textProblem(e.Stack, maxStack); p != "" {
			return nil, invalid(item("events", b.Batch, i, "stack"), "%s", p)
		}
		if e.Fingerprint == "" {
			// The client's fingerprint wins; without one, roman's own.
			e.Fingerprint = fps.of(e.ErrorType, e.Message, e.Stack)
		}
		var err error
		if e.OccurredAt, err = s.checkTime(e.OccurredAt, now, func() string { return item("events", b.Batch, i, "occurred_at") }); err != nil {
			return nil, err
		}
		t, err := r.resolve(ctx, i)
		if err != nil {
			return nil, err
		}
		e.DeploymentID, e.Service, e.Environment, e.ID = t.id, t.service, t.env, 0
		out[i] = e
	}
	if err := s.write(ctx, func() error { return s.Signals.InsertErrorEvents(ctx, out) }); err != nil {
		return nil, err
	}
	return s.done(roman.ChangeErrors, len(out), func(i int) target { return target{out[i].DeploymentID, out[i].Service, out[i].Environment} }), nil
}

// IngestMetrics implements roman.IngestService.
func (s *Service) IngestMetrics(ctx context.Context, b roman.MetricBatch) (*roman.IngestResult, error) {
	ss := b.Samples
	if err := checkCount("samples", len(ss)); err != nil {
		return nil, err
	}
	now := roman.UTC(s.Clock())
	r := &resolver{st: s.Deployments, byID: map[string]target{}, byEnv: map[scope]target{}, list: "samples", batch: b.Batch,
		fields: func(i int) (string, string, string) { return ss[i].DeploymentID, ss[i].Service, ss[i].Environment }}
	out := make([]roman.MetricSample, len(ss))
	for i := range ss {
		m := ss[i]
		if m.Name == "" {
			return nil, invalid(item("samples", b.Batch, i, "name"), "required")
		}
		if !metricNameRE.MatchString(m.Name) {
			return nil, invalid(item("samples", b.Batch, i, "name"), "must match [a-zA-Z_:][a-zA-Z0-9_:.]{0,127}")
		}
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			return nil, invalid(item("samples", b.Batch, i, "value"), "must be a finite number")
		}
		var err error
		if m.At, err = s.checkTime(m.At, now, func() string { return item("samples", b.Batch, i, "at") }); err != nil {
			return nil, err
		}
		t, err := r.resolve(ctx, i)
		if err != nil {
			return nil, err
		}
		m.DeploymentID, m.Service, m.Environment, m.ID = t.id, t.service, t.env, 0
		out[i] = m
	}
	if err := s.write(ctx, func() error { return s.Signals.InsertMetricSamples(ctx, out) }); err != nil {
		return nil, err
	}
	return s.done(roman.ChangeMetrics, len(out), func(i int) target { return target{out[i].DeploymentID, out[i].Service, out[i].Environment} }), nil
}

func checkCount(list string, n int) error {
	switch {
	case n == 0:
		return invalid(list, "at least one item is required")
	case n > MaxBatch:
		return invalid(list, "%d items; at most %d per request", n, MaxBatch)
	}
	return nil
}

// write runs one write transaction under the concurrency bound; a batch that
// cannot start within MaxWait gets EUNAVAILABLE instead of queueing without
// limit, so ingest latency stays bounded.
func (s *Service) write(ctx context.Context, fn func() error) error {
	s.once.Do(func() {
		n := s.MaxConcurrent
		if n <= 0 {
			n = DefaultMaxConcurrent
		}
		s.sem = make(chan struct{}, n)
	})
	wait := s.MaxWait
	if wait <= 0 {
		wait = DefaultMaxWait
	}
	select {
	case s.sem <- struct{}{}:
	default:
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case s.sem <- struct{}{}:
		case <-t.C:
			return roman.Errorf(roman.EUNAVAILABLE, "ingest is saturated: try again shortly")
		case <-ctx.Done():
			return roman.Errorf(roman.EUNAVAILABLE, "request cancelled while waiting for the write path")
		}
	}
	defer func() { <-s.sem }()
	return fn()
}

// done publishes one change per deployment of the batch and builds the
// answer.
func (s *Service) done(kind string, n int, at func(i int) target) *roman.IngestResult {
	counts := map[target]int{}
	var order []target
	for i := 0; i < n; i++ {
		t := at(i)
		if counts[t] == 0 {
			order = append(order, t)
		}
		counts[t]++
	}
	res := &roman.IngestResult{Accepted: n, Deployments: make([]string, 0, len(order))}
	for _, t := range order {
		res.Deployments = append(res.Deployments, t.id)
		s.Hub.Publish(roman.Change{Kind: kind, Service: t.service, Environment: t.env, DeploymentID: t.id, Count: counts[t]})
	}
	return res
}

// fingerprints computes roman's own fingerprints of a batch's events,
// once per distinct (error type, message, stack): a batch usually repeats
// a few errors many times, and normalising a message takes microseconds.
type fingerprints struct {
	memo map[[3]string]string
}

func (f *fingerprints) of(errorType, message, stack string) string {
	k := [3]string{errorType, message, stack}
	if fp, ok := f.memo[k]; ok {
		return fp
	}
	if f.memo == nil {
		f.memo = map[[3]string]string{}
	}
	fp := roman.Fingerprint(errorType, message, stack)
	f.memo[k] = fp
	return fp
}
