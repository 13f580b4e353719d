package otlp

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/intake"
)

// Resource attributes that select the release of a resource's items.
const (
	AttrServiceName    = "service.name"
	AttrServiceVersion = "service.version"
	AttrEnvironment    = "deployment.environment.name"
	// AttrEnvironmentOld is the deprecated name, read when the new one is
	// absent.
	AttrEnvironmentOld = "deployment.environment"
	// AttrDeploymentID is roman's own resource attribute: the deployment
	// id, when the application knows it (e.g. from its deploy pipeline).
	AttrDeploymentID = "roman.deployment_id"
)

// Exception attributes (on a log record or a span event named
// "exception").
const (
	AttrExceptionType       = "exception.type"
	AttrExceptionMessage    = "exception.message"
	AttrExceptionStacktrace = "exception.stacktrace"
	// SpanEventException is the name of a span event that records an
	// exception.
	SpanEventException = "exception"
)

// RequestsMetric is the metric sample name server spans are counted
// under: each sample is the requests served in the minute before its at.
const RequestsMetric = "requests"

// MaxBatch is the most error events or samples one ingest call stores; a
// larger export is stored in several.
const MaxBatch = 10000

// EventRecorder writes roman_events rows; the store implements it.
type EventRecorder interface {
	AddRomanEvent(ctx context.Context, e *roman.RomanEvent) error
}

// Result is the outcome of one export: the items rejected (could not be
// attributed) and why, for the response's partial success.
type Result struct {
	// Errors and Requests are the error events stored and the server spans
	// counted.
	Errors, Requests int
	// Rejected counts the log records or spans that could not be
	// attributed; Message says why.
	Rejected int64
	Message  string
}

// Receiver maps decoded exports to roman: error events and request samples
// through the ingest service (so the monitor re-evaluates at once), and one
// integration_events row per export that stored something or could not
// attribute something.
type Receiver struct {
	Deployments roman.DeploymentStore
	Ingest      roman.IngestService
	Events      EventRecorder
	Clock       roman.Clock
	// Unattributed, when set, counts items that could not be attributed,
	// by source (the /metrics counter).
	Unattributed func(source string, n int)

	// attributions keeps attributions by version across exports.
	attributions intake.Cache

	// quiet remembers, per deployment, when an export that only counted
	// requests last left a row.
	mu    sync.Mutex
	quiet map[string]time.Time
}

// QuietRowInterval is how often an export that only counted requests (no
// error event, nothing unattributed) leaves an integration_events row per
// release: the first such export does, later ones within the interval do
// not, so a healthy service exporting every few seconds does not flood the
// audit trail. Exports with errors or unattributed items always do.
const QuietRowInterval = 10 * time.Minute

// quietRowDue reports whether a requests-only export of these releases
// should leave a row, and remembers that it did.
func (r *Receiver) quietRowDue(rels []intake.Release, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.quiet == nil || len(r.quiet) > 10000 {
		r.quiet = map[string]time.Time{}
	}
	due := false
	for _, rel := range rels {
		if last, ok := r.quiet[rel.DeploymentID]; !ok || now.Sub(last) >= QuietRowInterval || now.Before(last) {
			r.quiet[rel.DeploymentID] = now
			due = true
		}
	}
	return due
}

func (r *Receiver) now() time.Time {
	if r.Clock == nil {
		return roman.UTC(time.Now())
	}
	return roman.UTC(r.Clock())
}

// resource is what a resource's attributes say of its release.
type resource struct {
	key  intake.Key
	note string
}

func readResource(res pcommon.Resource) resource {
	attrs := res.Attributes()
	str := func(k string) string {
		if v, ok := attrs.Get(k); ok {
			return strings.TrimSpace(v.AsString())
		}
		return ""
	}
	out := resource{}
	out.key.Environment = str(AttrEnvironment)
	if out.key.Environment == "" {
		out.key.Environment = str(AttrEnvironmentOld)
	}
	out.key.Version = str(AttrServiceVersion)
	out.key.DeploymentID = str(AttrDeploymentID)
	svc := str(AttrServiceName)
	switch {
	case svc == "" || strings.HasPrefix(svc, "unknown_service"):
		// The SDK's fallback when the application set no name.
		out.key.Service = ""
		if svc != "" {
			out.note = fmt.Sprintf("service.name %q is the SDK's fallback; the default service was used", intake.Text(svc, 64))
		}
	case roman.ValidService(svc):
		out.key.Service = svc
	default:
		out.key.Service = ""
		out.note = fmt.Sprintf("service.name %q is not a valid roman service name ([a-z0-9_-]{1,64}); the default service was used", intake.Text(svc, 64))
	}
	return out
}

// exception is what an item says of its exception.
type exception struct {
	typ, message, stack string
}

func readException(attrs pcommon.Map) (x exception, ok bool) {
	get := func(k string) string {
		if v, ok := attrs.Get(k); ok {
			return v.AsString()
		}
		return ""
	}
	x = exception{typ: get(AttrExceptionType), message: get(AttrExceptionMessage), stack: get(AttrExceptionStacktrace)}
	return x, x.typ != "" || x.message != "" || x.stack != ""
}

// timeOf converts an OTLP timestamp; zero and far-future values become now
// (an error that claims to come from the future happened now, as far as
// the judge can tell).
func timeOf(ts pcommon.Timestamp, now time.Time) time.Time {
	if ts == 0 {
		return now
	}
	t := roman.UTC(ts.AsTime())
	if t.After(now) || t.Year() < 1970 {
		return now
	}
	return t
}

// fingerprints memoises roman.Fingerprint within one export: an error
// storm repeats the same exception, and normalising its message is the
// costliest step of the mapping.
type fingerprints map[[3]string]string

func (f fingerprints) of(typ, message, stack string) string {
	k := [3]string{typ, message, stack}
	if fp, ok := f[k]; ok {
		return fp
	}
	fp := roman.Fingerprint(typ, message, stack)
	f[k] = fp
	return fp
}

// errorEvent builds an error event with roman's fingerprint.
func (f fingerprints) errorEvent(at time.Time, message, severity string, x exception) roman.ErrorEvent {
	msg := intake.Text(message, intake.MaxMessage)
	if msg == "" {
		msg = "error reported by OpenTelemetry"
	}
	// The fingerprint reads what is kept: the type, message and stack cut
	// to their stored sizes, so an 8 MiB stack costs no more than 16 KiB.
	typ, stack := intake.Text(x.typ, 256), intake.Text(x.stack, intake.MaxMessage)
	fpMsg := intake.Text(x.message, intake.MaxMessage)
	if fpMsg == "" {
		fpMsg = msg
	}
	return roman.ErrorEvent{OccurredAt: at, Message: msg, Severity: severity,
		Fingerprint: f.of(typ, fpMsg, stack), ErrorType: typ, Stack: stack}
}

// group is the relevant items of one resource.
type group struct {
	res    resource
	errors []roman.ErrorEvent
	// served are the end times of its server spans.
	served []time.Time
	// relevant counts its items that matter to roman (a server span that
	// is also an error span is one item).
	relevant int
}

func (g *group) items() int { return g.relevant }

// ExportLogs stores the error records (severity_number ≥ 17, ERROR) of an
// export. Records of lower severity are accepted and ignored.
func (r *Receiver) ExportLogs(ctx context.Context, ld plog.Logs) (*Result, error) {
	now := r.now()
	fps := fingerprints{}
	var groups []*group
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		g := &group{res: readResource(rl.Resource())}
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				sev := lr.SeverityNumber()
				if sev < plog.SeverityNumberError {
					continue
				}
				x, _ := readException(lr.Attributes())
				msg := lr.Body().AsString()
				if strings.TrimSpace(msg) == "" {
					msg = joinException(x)
				}
				if strings.TrimSpace(msg) == "" {
					msg = strings.TrimSpace(lr.SeverityText() + " " + lr.EventName())
				}
				severity := "error"
				if sev >= plog.SeverityNumberFatal {
					severity = "fatal"
				}
				at := lr.Timestamp()
				if at == 0 {
					at = lr.ObservedTimestamp()
				}
				g.errors = append(g.errors, fps.errorEvent(timeOf(at, now), msg, severity, x))
				g.relevant++
			}
		}
		if g.items() > 0 {
			groups = append(groups, g)
		}
	}
	return r.store(ctx, intake.SourceOTLPLogs, "log records", groups, now)
}

// ExportTraces stores the error spans (status ERROR) of an export as error
// events and counts its server spans (kind SERVER) as requests. Other
// spans are accepted and ignored.
func (r *Receiver) ExportTraces(ctx context.Context, td ptrace.Traces) (*Result, error) {
	now := r.now()
	fps := fingerprints{}
	var groups []*group
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		g := &group{res: readResource(rs.Resource())}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				end := sp.EndTimestamp()
				if end == 0 {
					end = sp.StartTimestamp()
				}
				at := timeOf(end, now)
				isErr := sp.Status().Code() == ptrace.StatusCodeError
				if sp.Kind() == ptrace.SpanKindServer {
					g.served = append(g.served, at)
				}
				if isErr || sp.Kind() == ptrace.SpanKindServer {
					g.relevant++
				}
				if !isErr {
					continue
				}
				x, ok := readException(sp.Attributes())
				evs := sp.Events()
				for e := 0; !ok && e < evs.Len(); e++ {
					if evs.At(e).Name() == SpanEventException {
						x, ok = readException(evs.At(e).Attributes())
					}
				}
				msg := x.message
				if strings.TrimSpace(msg) == "" {
					msg = sp.Status().Message()
				}
				if strings.TrimSpace(msg) == "" {
					msg = sp.Name()
				}
				g.errors = append(g.errors, fps.errorEvent(at, msg, "error", x))
			}
		}
		if g.items() > 0 {
			groups = append(groups, g)
		}
	}
	return r.store(ctx, intake.SourceOTLPTraces, "spans", groups, now)
}

func joinException(x exception) string {
	switch {
	case x.typ != "" && x.message != "":
		return x.typ + ": " + x.message
	case x.message != "":
		return x.message
	}
	return x.typ
}

// bucket is the requests of one deployment in one minute.
type bucket struct {
	deployment string
	minute     time.Time
}

// store attributes each group, stores the error events and request
// samples, and records the export.
func (r *Receiver) store(ctx context.Context, source, what string, groups []*group, now time.Time) (*Result, error) {
	res := &Result{}
	if len(groups) == 0 {
		return res, nil
	}
	rep := intake.NewReport(source)
	at := &intake.Attributor{Deployments: r.Deployments, Shared: &r.attributions}
	var evs []roman.ErrorEvent
	buckets := map[bucket]int{}
	for _, g := range groups {
		a, reason, err := at.Attribute(ctx, g.res.key)
		if err != nil {
			return nil, err
		}
		if g.res.note != "" {
			rep.Note(g.res.note)
		}
		if a == nil {
			rep.Unmapped(reason, g.relevant)
			continue
		}
		rel := rep.Release(a)
		id := a.Deployment.DeploymentID
		for _, e := range g.errors {
			e.DeploymentID = id
			evs = append(evs, e)
		}
		rel.Errors += len(g.errors)
		for _, t := range g.served {
			buckets[bucket{id, t.Truncate(time.Minute)}]++
		}
		rel.Requests += len(g.served)
		res.Errors += len(g.errors)
		res.Requests += len(g.served)
	}
	// The error events go in first: they start the judge's evaluation,
	// and detection waits for nothing else. The requests follow at once
	// (the monitor re-evaluates on them too).
	for start := 0; start < len(evs); start += MaxBatch {
		if _, err := r.Ingest.IngestErrors(ctx, roman.ErrorBatch{Events: evs[start:min(start+MaxBatch, len(evs))], Batch: true}); err != nil {
			return nil, err
		}
	}
	if len(buckets) > 0 {
		samples := make([]roman.MetricSample, 0, len(buckets))
		for b, n := range buckets {
			// A sample counts the requests of the minute before its at:
			// the end of the span's minute, or now while that minute runs.
			end := b.minute.Add(time.Minute)
			if end.After(now) {
				end = now
			}
			samples = append(samples, roman.MetricSample{DeploymentID: b.deployment, Name: RequestsMetric, Value: float64(n), At: end})
		}
		sort.Slice(samples, func(i, j int) bool { return samples[i].At.Before(samples[j].At) })
		for start := 0; start < len(samples); start += MaxBatch {
			if _, err := r.Ingest.IngestMetrics(ctx, roman.MetricBatch{Samples: samples[start:min(start+MaxBatch, len(samples))], Batch: true}); err != nil {
				return nil, err
			}
		}
	}
	if n := rep.UnmappedItems(); n > 0 {
		res.Rejected = int64(n)
		var parts []string
		for _, u := range rep.UnmappedReasons() {
			parts = append(parts, fmt.Sprintf("%d %s not attributed to a release: %s", u.Items, what, u.Reason))
		}
		res.Message = strings.Join(parts, "; ")
		if r.Unattributed != nil {
			r.Unattributed(source, n)
		}
	}
	if res.Errors == 0 && res.Rejected == 0 && !r.quietRowDue(rep.Releases(), now) {
		return res, nil
	}
	if err := r.Events.AddRomanEvent(ctx, rep.Event(now, nil)); err != nil {
		return nil, err
	}
	return res, nil
}
