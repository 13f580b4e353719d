package api

import (
	"net/http"
	"strings"
	"testing"
)

// unknownDep is a well-formed id no fixture knows.
const unknownDep = "33333333-3333-4333-8333-333333333333"

func TestPostErrors(t *testing.T) {
	f := newFixture(t)
	// One event, attributed to the environment's current deployment.
	r := f.do("POST", "/errors", deployToken, `{"environment":"production","message":"TypeError: x is undefined"}`)
	if r.status != http.StatusOK {
		t.Fatalf("single: %d %s", r.status, r.body)
	}
	if m := r.json(t); m["success"] != true || m["accepted"] != 1.0 || m["deployment_ids"].([]any)[0] != depID {
		t.Fatalf("single: %s", r.body)
	}
	// A batch.
	r = f.do("POST", "/errors", deployToken, `{"events":[{"deployment_id":"`+depID+`","message":"a","occurred_at":"2025-12-15T14:34:00Z"},
		{"environment":"production","message":"b","severity":"critical","fingerprint":"f1"}]}`)
	if r.status != http.StatusOK || r.json(t)["accepted"] != 2.0 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	if n := f.writes.Load(); n != 2 {
		t.Fatalf("writes: %d", n)
	}
	// A read key may not ingest.
	if r := f.do("POST", "/errors", readToken, `{"environment":"production","message":"x"}`); r.status != http.StatusForbidden {
		t.Fatalf("read key: %d", r.status)
	}
}

// TestPostErrorsRefusesBadItems: a bad item refuses the whole batch with a
// 4xx naming the item and field, and nothing is stored.
func TestPostErrorsRefusesBadItems(t *testing.T) {
	f := newFixture(t)
	good := `{"environment":"production","message":"ok"}`
	batch := func(bad string) string { return `{"events":[` + good + `,` + good + `,` + good + `,` + bad + `]}` }
	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"no message", batch(`{"environment":"production"}`), 400, "events[3].message: required"},
		{"blank message", batch(`{"environment":"production","message":"  "}`), 400, "events[3].message: required"},
		{"bad timestamp", batch(`{"environment":"production","message":"x","occurred_at":"yesterday"}`), 400, "events[3].occurred_at: not an RFC 3339 timestamp"},
		{"future timestamp", batch(`{"environment":"production","message":"x","occurred_at":"2025-12-15T14:37:00Z"}`), 400, "events[3].occurred_at: 2025-12-15T14:37:00Z is more than 1m0s in the future"},
		{"unknown deployment", batch(`{"deployment_id":"` + unknownDep + `","message":"x"}`), 404, "events[3].deployment_id: deployment " + unknownDep + " not found"},
		{"bad deployment id", batch(`{"deployment_id":"abc","message":"x"}`), 400, "events[3].deployment_id: must be a UUID"},
		{"no current deployment", batch(`{"environment":"staging","message":"x"}`), 404, `events[3].environment: environment "staging" has no successful deployment`},
		{"no target", batch(`{"message":"x"}`), 400, "events[3].deployment_id: give deployment_id or environment"},
		{"environment mismatch", batch(`{"deployment_id":"` + depID + `","environment":"staging","message":"x"}`), 400, `events[3].environment: "staging" does not match`},
		{"unknown field", batch(`{"environment":"production","message":"x","sevrity":"error"}`), 400, `events[3]: unknown field "sevrity"`},
		{"wrong type", batch(`{"environment":"production","message":42}`), 400, `events[3]: invalid value for field "message": expected string`},
		{"not an object", batch(`"boom"`), 400, "events[3]: expected an object"},
		{"empty batch", `{"events":[]}`, 400, "events: at least one item is required"},
		{"events not an array", `{"events":{}}`, 400, "events: expected an array"},
		{"both shapes", `{"events":[` + good + `],"message":"x"}`, 400, "events: give one event"},
		{"single without message", `{"environment":"production"}`, 400, "message: required"},
		{"single bad timestamp", `{"environment":"production","message":"x","occurred_at":"2025-12-15"}`, 400, "occurred_at: not an RFC 3339 timestamp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.writes.Load()
			r := f.do("POST", "/errors", deployToken, tc.body)
			if r.status != tc.status || !strings.Contains(r.errorText(t), tc.want) {
				t.Fatalf("%d %s, want %d with %q", r.status, r.body, tc.status, tc.want)
			}
			if f.writes.Load() != before {
				t.Fatal("a refused batch was stored")
			}
		})
	}
}

func TestPostErrorsBatchLimit(t *testing.T) {
	f := newFixture(t)
	item := `{"environment":"production","message":"x"}`
	body := `{"events":[` + strings.TrimSuffix(strings.Repeat(item+",", 10001), ",") + `]}`
	r := f.do("POST", "/errors", deployToken, body)
	if r.status != 400 || !strings.Contains(r.errorText(t), "at most 10000") {
		t.Fatalf("10,001 events: %d %s", r.status, r.body)
	}
	body = `{"events":[` + strings.TrimSuffix(strings.Repeat(item+",", 10000), ",") + `]}`
	if r := f.do("POST", "/errors", deployToken, body); r.status != 200 || r.json(t)["accepted"] != 10000.0 {
		t.Fatalf("10,000 events: %d %s", r.status, r.body)
	}
}

func TestPostMetricSamples(t *testing.T) {
	f := newFixture(t)
	r := f.do("POST", "/metrics/samples", deployToken, `{"environment":"production","name":"p95_response_time_ms","value":5200}`)
	if r.status != 200 || r.json(t)["accepted"] != 1.0 {
		t.Fatalf("single: %d %s", r.status, r.body)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"samples":[{"environment":"production","name":"x","value":1},{"environment":"production","name":"y"}]}`, "samples[1].value: required"},
		{`{"samples":[{"environment":"production","name":"bad name!","value":1}]}`, "samples[0].name: must match"},
		{`{"samples":[{"environment":"production","value":1}]}`, "samples[0].name: required"},
		{`{"samples":[{"environment":"production","name":"x","value":"1"}]}`, `samples[0]: invalid value for field "value": expected number`},
		{`{"samples":[{"environment":"production","name":"x","value":1,"at":"2025-12-16T00:00:00Z"}]}`, "samples[0].at: 2025-12-16T00:00:00Z is more than"},
		{`{"environment":"production","name":"x"}`, "value: required"},
	} {
		before := f.writes.Load()
		r := f.do("POST", "/metrics/samples", deployToken, tc.body)
		if r.status != 400 || !strings.Contains(r.errorText(t), tc.want) || f.writes.Load() != before {
			t.Errorf("%s: %d %s, want %q", tc.body, r.status, r.body, tc.want)
		}
	}
}

// TestIngestFloodGets429: beyond the in-flight bound an ingest request is
// answered 429 with Retry-After at once instead of queueing.
func TestIngestFloodGets429(t *testing.T) {
	f := newFixtureConfig(t, Config{MaxIngestInflight: 1})
	// Hold the one slot, as a slow request would.
	f.srv.ingestSlots <- struct{}{}
	r := f.do("POST", "/errors", deployToken, `{"environment":"production","message":"x"}`)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.errorText(t), "too many ingest requests") {
		t.Fatalf("flood: %d %v %s", r.status, r.header, r.body)
	}
	<-f.srv.ingestSlots
	if r := f.do("POST", "/errors", deployToken, `{"environment":"production","message":"x"}`); r.status != 200 {
		t.Fatalf("after the flood: %d %s", r.status, r.body)
	}
}
