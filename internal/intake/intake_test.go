package intake

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

func TestText(t *testing.T) {
	if got := Text("  a\x00b\xffc  ", 100); got != "ab\uFFFDc" {
		t.Errorf("%q", got)
	}
	if got := Text("héllo", 2); got != "h" {
		t.Errorf("cut inside a character: %q", got)
	}
}

func TestReport(t *testing.T) {
	r := NewReport(SourceOTLPTraces)
	d := &roman.Deployment{DeploymentID: "6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01", Service: "checkout", Environment: "production", Version: "1.0.1"}
	rel := r.Release(&roman.Attribution{Deployment: d, Rule: roman.AttributedByVersion})
	rel.Errors, rel.Requests = 6, 16
	r.Unmapped("no deployment of service ghost in environment production", 3)
	r.Unmapped("no deployment of service ghost in environment production", 1)
	ev := r.Event(time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC), nil)
	want := "OpenTelemetry traces: 6 errors, 16 requests → checkout 1.0.1 in production (by version); 4 items not attributed: no deployment of service ghost in environment production"
	if ev.Message != want || ev.Severity != roman.SeverityWarning || ev.EventType != roman.EventIntegrationEvents {
		t.Fatalf("%s %s\n%s", ev.Severity, ev.EventType, ev.Message)
	}
	var md EventMetadata
	if err := json.Unmarshal(ev.Metadata, &md); err != nil || md.DeploymentID != d.DeploymentID || md.Service != "checkout" ||
		len(md.Releases) != 1 || md.Releases[0].Rule != "version" || len(md.Unattributed) != 1 || md.Unattributed[0].Items != 4 {
		t.Fatalf("%s %v", ev.Metadata, err)
	}
	if r := NewReport(SourceSentry); !strings.HasSuffix(r.Message(), "nothing to record") {
		t.Fatal(r.Message())
	}
}

func TestCacheKeepsOnlyStableRules(t *testing.T) {
	now := time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)
	c := &Cache{TTL: time.Second, Clock: func() time.Time { return now }}
	k := Key{Service: "checkout", Environment: "production", Version: "1.0.1"}
	d := &roman.Deployment{DeploymentID: "x"}
	c.put(k, &roman.Attribution{Deployment: d, Rule: roman.AttributedByCurrent})
	if c.Get(k) != nil {
		t.Fatal("an attribution to the current deployment was kept")
	}
	c.put(k, &roman.Attribution{Deployment: d, Rule: roman.AttributedByVersion})
	if a := c.Get(k); a == nil || a.Deployment != d {
		t.Fatal("a version match was not kept")
	}
	now = now.Add(time.Second)
	if c.Get(k) != nil {
		t.Fatal("kept past its TTL")
	}
	var nilCache *Cache
	if nilCache.Get(k) != nil {
		t.Fatal("nil cache")
	}
}
