package sentry

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/intake"
)

// NewFingerprintMarker marks a fingerprint as new on a deployment, so that
// the judge's new_errors signal counts it even before its first error event
// arrives. The store implements it; a Receiver without one still records
// the issue in the audit trail.
type NewFingerprintMarker interface {
	MarkNewFingerprint(ctx context.Context, deploymentID, fingerprint string, at time.Time) error
}

// EventRecorder writes roman_events rows; the store implements it.
type EventRecorder interface {
	AddRomanEvent(ctx context.Context, e *roman.RomanEvent) error
}

// Defaults are what the webhook URL's query says of events that do not say
// it themselves: ?environment= (an issue webhook carries none) and
// ?service= (the service every event of this integration belongs to).
type Defaults struct {
	Environment string
	Service     string
}

// Result says what a webhook did.
type Result struct {
	Resource string `json:"resource"`
	Action   string `json:"action,omitempty"`
	// Ignored, when set, says why the webhook was acknowledged without
	// effect (another resource, a warning-level event, a redelivery).
	Ignored string `json:"ignored,omitempty"`
	// Accepted is the error events stored, Marked the fingerprints marked
	// new.
	Accepted int `json:"accepted"`
	Marked   int `json:"new_fingerprints,omitempty"`
	// Fingerprint is the roman fingerprint of the error or issue.
	Fingerprint string `json:"fingerprint,omitempty"`
	// DeploymentIDs are the deployments the webhook was attributed to, Rule
	// the rule that chose it.
	DeploymentIDs []string `json:"deployment_ids"`
	Rule          string   `json:"rule,omitempty"`
	// Unattributed counts what could not be tied to a release; Reason
	// says why.
	Unattributed int    `json:"unattributed"`
	Reason       string `json:"reason,omitempty"`
	// EventID is the integration_events row that records the webhook.
	EventID string `json:"event_id,omitempty"`
}

// DefaultRecentEvents is how many Sentry event ids (and created issues) a
// Receiver remembers to drop a redelivered webhook: Sentry retries a
// delivery that timed out, with the same body.
const DefaultRecentEvents = 10000

// Receiver maps verified Sentry webhooks to roman: error events through the
// ingest service (so the monitor re-evaluates at once), new fingerprints
// through Marker, and one integration_events row per webhook that did
// something or could not be attributed.
type Receiver struct {
	// Secret is the integration's client secret; empty disables the
	// webhook.
	Secret      roman.Secret
	Deployments roman.DeploymentStore
	Ingest      roman.IngestService
	Events      EventRecorder
	// Marker, when set, marks an issue.created's fingerprint as new.
	Marker NewFingerprintMarker
	Clock  roman.Clock
	// Unattributed, when set, counts items that could not be attributed,
	// by source (the /metrics counter).
	Unattributed func(source string, n int)

	mu     sync.Mutex
	recent map[string]struct{}
	ring   []string
	next   int

	// batch is the group commit of error webhooks (batch.go).
	batch batcher
	// attributions keeps attributions by version across webhooks.
	attributions intake.Cache
}

// Configured reports whether a client secret is set.
func (r *Receiver) Configured() bool { return r != nil && r.Secret.IsSet() }

// Verify checks a webhook's signature (see the package function).
func (r *Receiver) Verify(signature string, body []byte) error {
	return Verify([]byte(r.Secret.Value()), signature, body)
}

func (r *Receiver) now() time.Time {
	if r.Clock == nil {
		return roman.UTC(time.Now())
	}
	return roman.UTC(r.Clock())
}

// seen remembers key and reports whether it was remembered already.
func (r *Receiver) seen(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recent == nil {
		r.recent = make(map[string]struct{}, DefaultRecentEvents)
		r.ring = make([]string, DefaultRecentEvents)
	}
	if _, ok := r.recent[key]; ok {
		return true
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.recent, old)
	}
	r.ring[r.next] = key
	r.next = (r.next + 1) % len(r.ring)
	r.recent[key] = struct{}{}
	return false
}

// forget undoes seen, for a webhook that failed and will be retried.
func (r *Receiver) forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.recent, key)
}

// Receive acts on a verified, decoded webhook.
func (r *Receiver) Receive(ctx context.Context, p *Payload, d Defaults) (*Result, error) {
	if d.Environment != "" && !roman.ValidEnvironment(d.Environment) {
		return nil, roman.Errorf(roman.EINVALID, "query parameter environment: must match [a-z0-9_-]{1,64}")
	}
	if d.Service != "" && !roman.ValidService(d.Service) {
		return nil, roman.Errorf(roman.EINVALID, "query parameter service: must match [a-z0-9_-]{1,64}")
	}
	res := &Result{Resource: p.Resource, Action: p.Action, DeploymentIDs: []string{}}
	switch {
	case p.Error != nil:
		return r.receiveError(ctx, p.Error, d, res)
	case p.Issue != nil && p.Action == "created":
		return r.receiveIssue(ctx, p.Issue, d, res)
	case p.Issue != nil:
		res.Ignored = fmt.Sprintf("issue %s: only created issues matter to roman", p.Action)
	default:
		res.Ignored = fmt.Sprintf("resource %s is not used by roman", p.Resource)
	}
	return res, nil
}

// attribute ties an item to a release. Without a service from the URL, a
// release named "package@version" (Sentry's convention) is tried as
// service "package" first, then as the default service; the version is
// tried whole, then the part after "@".
func (r *Receiver) attribute(ctx context.Context, at *intake.Attributor, env, service, release string) (*roman.Attribution, string, error) {
	if env == "" {
		return nil, "the event names no environment (set the SDK's environment, or add ?environment=<name> to the webhook URL)", nil
	}
	services := []string{service}
	versions := []string{release}
	if pkg, ver, ok := strings.Cut(release, "@"); ok && ver != "" {
		versions = append(versions, ver)
		if service == "" && roman.ValidService(pkg) && pkg != roman.DefaultService {
			services = []string{pkg, ""}
		}
	}
	// A release seen lately costs no query.
	for _, svc := range services {
		for _, v := range versions {
			if a := at.Shared.Get(intake.Key{Service: svc, Environment: env, Version: v}); a != nil {
				return a, "", nil
			}
		}
	}
	reason := ""
	for _, svc := range services {
		var fallback *roman.Attribution
		for _, v := range versions {
			a, why, err := at.Attribute(ctx, intake.Key{Service: svc, Environment: env, Version: v})
			if err != nil {
				return nil, "", err
			}
			if a == nil {
				if reason == "" {
					reason = why
				}
				break
			}
			if a.Rule != roman.AttributedByCurrent {
				return a, "", nil
			}
			if fallback == nil {
				fallback = a
			}
		}
		if fallback != nil {
			return fallback, "", nil
		}
	}
	return nil, reason, nil
}

func (r *Receiver) receiveError(ctx context.Context, e *Error, d Defaults, res *Result) (*Result, error) {
	if !IsError(e.Level) {
		res.Ignored = fmt.Sprintf("level %s is not an error", intake.Text(e.Level, 32))
		return res, nil
	}
	if e.EventID != "" {
		key := "error:" + e.EventID
		if r.seen(key) {
			res.Ignored = "event " + intake.Text(e.EventID, 64) + " was received already (a redelivery)"
			return res, nil
		}
		out, err := r.storeError(ctx, e, d, res)
		if err != nil {
			r.forget(key)
		}
		return out, err
	}
	return r.storeError(ctx, e, d, res)
}

func (r *Receiver) storeError(ctx context.Context, e *Error, d Defaults, res *Result) (*Result, error) {
	now := r.now()
	msg := e.Title
	for _, alt := range []string{e.Message, joinType(e.Type, e.Value), "Sentry event " + e.EventID} {
		if strings.TrimSpace(msg) != "" {
			break
		}
		msg = alt
	}
	msg = intake.Text(msg, intake.MaxMessage)
	if msg == "" {
		msg = "Sentry event"
	}
	env := e.Environment
	if env == "" {
		env = d.Environment
	}
	at := &intake.Attributor{Deployments: r.Deployments, Shared: &r.attributions}
	a, reason, err := r.attribute(ctx, at, env, d.Service, e.Release)
	if err != nil {
		return nil, err
	}
	res.Fingerprint = e.fingerprint(msg)
	j := &job{eventID: intake.Text(e.EventID, 64), issueID: intake.Text(e.IssueID, 64), done: make(chan struct{})}
	if a == nil {
		j.reason = reason
		res.Unattributed, res.Reason = 1, reason
		r.countUnattributed(1)
	} else {
		occurred := e.OccurredAt
		if occurred.IsZero() || occurred.After(now) {
			occurred = now
		}
		sev := "error"
		if e.Level == "fatal" {
			sev = "fatal"
		}
		j.attribution = a
		j.event = &roman.ErrorEvent{DeploymentID: a.Deployment.DeploymentID, OccurredAt: occurred, Message: msg, Severity: sev,
			Fingerprint: res.Fingerprint, ErrorType: intake.Text(e.Type, 256), Stack: intake.Text(e.Stack, intake.MaxMessage)}
	}
	if err := r.commit(ctx, j); err != nil {
		return nil, err
	}
	if a != nil {
		res.Accepted, res.DeploymentIDs, res.Rule = 1, []string{a.Deployment.DeploymentID}, a.Rule
	}
	res.EventID = j.rowID
	return res, nil
}

func joinType(t, v string) string {
	switch {
	case t != "" && v != "":
		return t + ": " + v
	case t != "":
		return t
	}
	return v
}

func (r *Receiver) receiveIssue(ctx context.Context, is *Issue, d Defaults, res *Result) (*Result, error) {
	key := "issue:" + is.ID
	if r.seen(key) {
		res.Ignored = "issue " + intake.Text(is.ID, 64) + " was received already (a redelivery)"
		return res, nil
	}
	out, err := r.markIssue(ctx, is, d, res)
	if err != nil {
		r.forget(key)
	}
	return out, err
}

func (r *Receiver) markIssue(ctx context.Context, is *Issue, d Defaults, res *Result) (*Result, error) {
	now := r.now()
	res.Fingerprint = intake.Text(FingerprintPrefix+is.ID, intake.MaxFingerprint)
	rep := intake.NewReport(intake.SourceSentry)
	detail := map[string]any{"sentry_issue_id": intake.Text(is.ID, 64), "fingerprint": res.Fingerprint, "title": intake.Text(is.Title, 256)}
	service := d.Service
	if service == "" && roman.ValidService(is.ProjectSlug) {
		service = is.ProjectSlug
	}
	at := &intake.Attributor{Deployments: r.Deployments, Shared: &r.attributions}
	var a *roman.Attribution
	reason := "the issue webhook names no environment (add ?environment=<name> to the webhook URL)"
	if d.Environment != "" {
		var err error
		a, reason, err = r.attribute(ctx, at, d.Environment, service, "")
		if err != nil {
			return nil, err
		}
		if a == nil && service != "" && d.Service == "" {
			// The project slug is a guess at the service: fall back to the
			// default service.
			if a, reason, err = r.attribute(ctx, at, d.Environment, "", ""); err != nil {
				return nil, err
			}
		}
	}
	if a == nil {
		rep.Unmapped(reason, 1)
		res.Unattributed, res.Reason = 1, reason
		r.countUnattributed(1)
		return res, r.record(ctx, rep, now, detail, res)
	}
	first := is.FirstSeen
	if first.IsZero() || first.After(now) {
		first = now
	}
	rel := rep.Release(a)
	res.DeploymentIDs, res.Rule = []string{a.Deployment.DeploymentID}, a.Rule
	if r.Marker != nil {
		if err := r.Marker.MarkNewFingerprint(ctx, a.Deployment.DeploymentID, res.Fingerprint, first); err != nil {
			return nil, err
		}
		rel.Marked++
		res.Marked = 1
		rep.Note(fmt.Sprintf("issue %s created, fingerprint %s marked new", intake.Text(is.ID, 64), res.Fingerprint))
	} else {
		rep.Note(fmt.Sprintf("issue %s created (fingerprint %s); this server does not mark new fingerprints", intake.Text(is.ID, 64), res.Fingerprint))
	}
	return res, r.record(ctx, rep, now, detail, res)
}

func (r *Receiver) countUnattributed(n int) {
	if r.Unattributed != nil {
		r.Unattributed(intake.SourceSentry, n)
	}
}

func (r *Receiver) record(ctx context.Context, rep *intake.Report, now time.Time, detail map[string]any, res *Result) error {
	for k, v := range detail {
		if v == "" {
			delete(detail, k)
		}
	}
	ev := rep.Event(now, detail)
	if err := r.Events.AddRomanEvent(ctx, ev); err != nil {
		return err
	}
	res.EventID = ev.EventID
	return nil
}
