// Package intake holds what the Sentry and OpenTelemetry integrations share:
// a per-request cache of release attributions (roman.Attribute), the
// report of what a request was attributed to and by which rule, and what
// it could not map and why, which becomes one roman_events row, and text
// cleaning for values that come from another tool.
package intake

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/odyssey-1/roman"
)

// Sources of integration events: the roman_events rows' metadata.source
// and the label of the unattributed-events counter.
const (
	SourceSentry     = "sentry"
	SourceOTLPLogs   = "otlp_logs"
	SourceOTLPTraces = "otlp_traces"
)

// sourceNames are the sources as messages name them.
var sourceNames = map[string]string{
	SourceSentry:     "Sentry",
	SourceOTLPLogs:   "OpenTelemetry logs",
	SourceOTLPTraces: "OpenTelemetry traces",
}

// Limits of the text an integration stores, the ingest service's own.
const (
	MaxMessage     = 16 << 10
	MaxFingerprint = 256
)

// Text makes a value that came from another tool storable: invalid UTF-8
// becomes U+FFFD, NUL characters are removed, surrounding white space is
// trimmed and the text is cut to max bytes at a character boundary.
func Text(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	s = strings.TrimSpace(s)
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// Key is what an integration knows of an item's release; items with one
// Key are attributed once per request.
type Key = roman.AttributionRequest

// Attributor caches roman.Attribute per request and, with Shared, across
// requests.
type Attributor struct {
	Deployments roman.DeploymentStore
	// Shared, when set, keeps attributions by deployment id or version
	// across requests.
	Shared *Cache
	cache  map[Key]attributed
}

type attributed struct {
	a   *roman.Attribution
	err error
}

// DefaultCacheTTL is how long a Cache keeps an attribution: a deployment
// recorded again with the same version is found after at most this long.
const DefaultCacheTTL = 5 * time.Second

// maxCached bounds a Cache; when full it starts over.
const maxCached = 10000

// Cache keeps attributions by deployment id or by version across requests
// for TTL (default DefaultCacheTTL), so that a stream of events of one
// release costs no store query each. Only those rules are kept: the
// deployment an id names never changes, and a version names the same
// deployment until the version is deployed again. Attributions to the
// current deployment (which a new deployment changes) are never kept.
type Cache struct {
	TTL   time.Duration
	Clock roman.Clock

	mu sync.Mutex
	m  map[Key]cached
}

type cached struct {
	a       *roman.Attribution
	expires time.Time
}

func (c *Cache) now() time.Time {
	if c.Clock != nil {
		return c.Clock()
	}
	return time.Now()
}

// Get returns a kept attribution of k, or nil.
func (c *Cache) Get(k Key) *roman.Attribution {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !c.now().Before(e.expires) {
		return nil
	}
	return e.a
}

func (c *Cache) put(k Key, a *roman.Attribution) {
	if c == nil || a == nil || (a.Rule != roman.AttributedByDeploymentID && a.Rule != roman.AttributedByVersion) {
		return
	}
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = map[Key]cached{}
	}
	c.m[k] = cached{a: a, expires: c.now().Add(ttl)}
}

// Attribute returns the attribution of k, asking the store once per
// distinct k. An error that says what is missing or malformed (EINVALID,
// ENOTFOUND) is returned as reason with a nil error; other errors are the
// store's.
func (t *Attributor) Attribute(ctx context.Context, k Key) (a *roman.Attribution, reason string, err error) {
	if t.cache == nil {
		t.cache = map[Key]attributed{}
	}
	c, ok := t.cache[k]
	if !ok {
		if hit := t.Shared.Get(k); hit != nil {
			c.a = hit
		} else {
			c.a, c.err = roman.Attribute(ctx, t.Deployments, k)
			if c.err == nil && (c.a == nil || c.a.Deployment == nil) {
				// The store answers "no current deployment" with no row and
				// no error.
				c.a, c.err = nil, roman.Errorf(roman.ENOTFOUND, "no deployment of service %s in environment %s", roman.ServiceOrDefault(k.Service), k.Environment)
			}
			if c.err == nil {
				t.Shared.put(k, c.a)
			}
		}
		switch roman.ErrorCode(c.err) {
		case "", roman.EINVALID, roman.ENOTFOUND:
			t.cache[k] = c
		}
	}
	switch code := roman.ErrorCode(c.err); {
	case c.err == nil:
		return c.a, "", nil
	case code == roman.EINVALID || code == roman.ENOTFOUND:
		return nil, roman.ErrorMessage(c.err), nil
	default:
		return nil, "", c.err
	}
}

// Release is what one request brought to one deployment, and the rule
// that tied it there.
type Release struct {
	DeploymentID string `json:"deployment_id"`
	Service      string `json:"service"`
	Environment  string `json:"environment"`
	Version      string `json:"version"`
	// Rule is one of roman's Attributed* rules: deployment_id, version or
	// current.
	Rule string `json:"rule"`
	// Note explains a fallback (a version that matched no deployment).
	Note string `json:"note,omitempty"`
	// Errors are the error events stored for the deployment, Requests the
	// requests counted for it (OpenTelemetry server spans), Marked the
	// fingerprints marked new (Sentry issues).
	Errors   int `json:"errors"`
	Requests int `json:"requests,omitempty"`
	Marked   int `json:"new_fingerprints,omitempty"`
}

// Unmapped is a number of items a request could not attribute, and why.
type Unmapped struct {
	Reason string `json:"reason"`
	Items  int    `json:"items"`
}

// Report collects what one request was attributed to.
type Report struct {
	Source   string
	releases map[string]*Release
	order    []string
	unmapped map[string]int
	notes    []string
}

// NewReport returns an empty report of a source (Source…).
func NewReport(source string) *Report {
	return &Report{Source: source, releases: map[string]*Release{}, unmapped: map[string]int{}}
}

// Release returns the entry of the attributed deployment, creating it.
func (r *Report) Release(a *roman.Attribution) *Release {
	d := a.Deployment
	rel, ok := r.releases[d.DeploymentID]
	if !ok {
		rel = &Release{DeploymentID: d.DeploymentID, Service: d.Service, Environment: d.Environment, Version: d.Version, Rule: a.Rule, Note: a.Note}
		r.releases[d.DeploymentID] = rel
		r.order = append(r.order, d.DeploymentID)
	}
	return rel
}

// Unmapped records n items that could not be attributed, and why.
func (r *Report) Unmapped(reason string, n int) {
	if n > 0 {
		r.unmapped[reason] += n
	}
}

// Note adds a remark to the row (e.g. that a service name was replaced).
func (r *Report) Note(s string) {
	for _, n := range r.notes {
		if n == s {
			return
		}
	}
	r.notes = append(r.notes, s)
}

// UnmappedItems returns how many items could not be attributed.
func (r *Report) UnmappedItems() int {
	n := 0
	for _, k := range r.unmapped {
		n += k
	}
	return n
}

// UnmappedReasons returns the reasons items could not be attributed, most
// items first, each with its count: "2 items: no deployment of …".
func (r *Report) UnmappedReasons() []Unmapped {
	out := make([]Unmapped, 0, len(r.unmapped))
	for reason, n := range r.unmapped {
		out = append(out, Unmapped{Reason: reason, Items: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Items != out[j].Items {
			return out[i].Items > out[j].Items
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

// Releases returns the attributed deployments in the order first seen.
func (r *Report) Releases() []Release {
	out := make([]Release, 0, len(r.order))
	for _, id := range r.order {
		out = append(out, *r.releases[id])
	}
	return out
}

// EventMetadata is the metadata of an integration_events row.
type EventMetadata struct {
	// DeploymentID, Service and Environment are the first attributed
	// release's, so that the audit filters (roman events --deployment)
	// find the row.
	DeploymentID string     `json:"deployment_id,omitempty"`
	Service      string     `json:"service,omitempty"`
	Environment  string     `json:"environment,omitempty"`
	Source       string     `json:"source"`
	Releases     []Release  `json:"releases"`
	Unattributed []Unmapped `json:"unattributed"`
	Notes        []string   `json:"notes,omitempty"`
	// Detail is source-specific (Sentry event ids, an issue id).
	Detail map[string]any `json:"detail,omitempty"`
}

// Event returns the roman_events row of the report: info when everything
// was attributed, warning when something was not. detail is optional.
func (r *Report) Event(now time.Time, detail map[string]any) *roman.RomanEvent {
	md := EventMetadata{Source: r.Source, Releases: r.Releases(), Unattributed: r.UnmappedReasons(), Notes: r.notes, Detail: detail}
	if len(md.Releases) > 0 {
		md.DeploymentID, md.Service, md.Environment = md.Releases[0].DeploymentID, md.Releases[0].Service, md.Releases[0].Environment
	}
	raw, _ := json.Marshal(md)
	sev := roman.SeverityInfo
	if len(md.Unattributed) > 0 {
		sev = roman.SeverityWarning
	}
	return &roman.RomanEvent{EventID: roman.NewUUID(), EventType: roman.EventIntegrationEvents, Severity: sev,
		Message: r.Message(), Metadata: raw, Timestamp: roman.UTC(now)}
}

// Message summarises the report in one line, e.g. "OpenTelemetry traces:
// 3 errors, 120 requests → checkout-api 1.4.2 in production (by version);
// 2 items not attributed: no deployment of service web in staging".
func (r *Report) Message() string {
	var b strings.Builder
	name := sourceNames[r.Source]
	if name == "" {
		name = r.Source
	}
	b.WriteString(name)
	b.WriteString(":")
	parts := 0
	for _, rel := range r.Releases() {
		if parts > 0 {
			b.WriteString(";")
		}
		parts++
		var what []string
		if rel.Errors > 0 || (rel.Requests == 0 && rel.Marked == 0) {
			what = append(what, plural(rel.Errors, "error"))
		}
		if rel.Requests > 0 {
			what = append(what, plural(rel.Requests, "request"))
		}
		if rel.Marked > 0 {
			what = append(what, plural(rel.Marked, "new fingerprint"))
		}
		fmt.Fprintf(&b, " %s → %s %s in %s (by %s)", strings.Join(what, ", "), rel.Service, rel.Version, rel.Environment, ruleText(rel.Rule))
		if rel.Note != "" {
			fmt.Fprintf(&b, " [%s]", rel.Note)
		}
	}
	for _, u := range r.UnmappedReasons() {
		if parts > 0 {
			b.WriteString(";")
		}
		parts++
		fmt.Fprintf(&b, " %s not attributed: %s", plural(u.Items, "item"), u.Reason)
	}
	for _, n := range r.notes {
		if parts > 0 {
			b.WriteString(";")
		}
		parts++
		fmt.Fprintf(&b, " %s", n)
	}
	if parts == 0 {
		b.WriteString(" nothing to record")
	}
	return b.String()
}

func ruleText(rule string) string {
	switch rule {
	case roman.AttributedByDeploymentID:
		return "deployment id"
	case roman.AttributedByVersion:
		return "version"
	case roman.AttributedByCurrent:
		return "current release"
	}
	return rule
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
