package api

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/odyssey-1/roman/alertmanager"
)

// fakeReceiver records what reaches the Alertmanager receiver.
type fakeReceiver struct{ got []*alertmanager.Message }

func (r *fakeReceiver) Receive(_ context.Context, m *alertmanager.Message) (*alertmanager.Result, error) {
	r.got = append(r.got, m)
	return &alertmanager.Result{Success: true, Received: len(m.Alerts), Alerts: []alertmanager.AlertResult{}, Warnings: []string{}}, nil
}

// TestAlertmanagerRoute: a message is decoded and handed on; a full server
// answers 503 with Retry-After (which Alertmanager retries), never 429
// (which it would drop until the next flush); without a receiver the route
// is 404.
func TestAlertmanagerRoute(t *testing.T) {
	body, err := os.ReadFile("../alertmanager/testdata/webhook_firing.json")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureConfig(t, Config{MaxIngestInflight: 1})
	if r := f.do("POST", "/integrations/alertmanager", deployToken, string(body)); r.status != http.StatusNotFound {
		t.Fatalf("without a receiver: %d %s", r.status, r.body)
	}
	rec := &fakeReceiver{}
	f.srv.deps.Alertmanager = rec
	if r := f.do("POST", "/integrations/alertmanager", deployToken, string(body)); r.status != 200 || len(rec.got) != 1 ||
		rec.got[0].Alerts[0].Fingerprint != "15620aa453614b8b" {
		t.Fatalf("message: %d %s", r.status, r.body)
	}
	f.srv.ingestSlots <- struct{}{}
	r := f.do("POST", "/integrations/alertmanager", deployToken, string(body))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || !strings.Contains(r.errorText(t), "too many ingest requests") {
		t.Fatalf("full: %d %v %s", r.status, r.header, r.body)
	}
	<-f.srv.ingestSlots
	if r := f.do("POST", "/integrations/alertmanager", deployToken, string(body), "Content-Type", "application/json; charset=utf-8"); r.status != 200 || len(rec.got) != 2 {
		t.Fatalf("charset: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/integrations/alertmanager?x=1", deployToken, string(body)); r.status != 400 {
		t.Fatalf("query: %d %s", r.status, r.body)
	}
}
