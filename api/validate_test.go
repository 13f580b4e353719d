package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/odyssey-1/roman"
)

// TestValidateRoute covers POST /auto-rollback/validate: the verdict with
// 200 whether compliant or not, the request handed to the service as
// POST /auto-rollback would, roles, bad input, and no write at all.
func TestValidateRoute(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var reqs []roman.RollbackRequest
	rejected := roman.Validation{
		Violations: []string{"System already stable: error rate 0.2/minute"},
		Rules:      []string{"stability_automatic"},
		Results: []roman.RuleResult{{Rule: "stability_automatic", Law: "Stability", Severity: "violation",
			Message: "System already stable: error rate 0.2/minute"}},
	}
	f.rbs.ValidateFn = func(_ context.Context, req roman.RollbackRequest) (roman.Validation, error) {
		mu.Lock()
		reqs = append(reqs, req)
		mu.Unlock()
		switch {
		case req.DeploymentID == unknownID:
			return roman.Validation{}, notFound("deployment")
		case req.TriggerType == roman.TriggerAutomatic:
			return rejected, nil
		}
		return roman.Validation{Compliant: true, Override: req.Override}, nil
	}
	body := func(extra string) string {
		return `{"deployment_id":"` + depID + `","trigger_reason":"payment bug"` + extra + `}`
	}

	t.Run("compliant, read key, seed path too", func(t *testing.T) {
		for _, path := range []string{"/auto-rollback/validate", "/functions/v1/auto-rollback/validate"} {
			m := f.do("POST", path, readToken, body("")).expect(t, http.StatusOK).json(t)
			if m["compliant"] != true || len(m["violations"].([]any)) != 0 || len(m["warnings"].([]any)) != 0 {
				t.Fatalf("%s: %v", path, m)
			}
		}
		mu.Lock()
		last := reqs[len(reqs)-1]
		mu.Unlock()
		if last.TriggerType != roman.TriggerManual || last.Caller != "reader" || last.Admin || last.TriggerReason != "payment bug" {
			t.Fatalf("request %+v", last)
		}
	})
	t.Run("a rejection is still 200, with the rule by rule findings", func(t *testing.T) {
		r := f.do("POST", "/auto-rollback/validate", readToken, body(`,"trigger_type":"automatic"`)).expect(t, http.StatusOK)
		var v roman.Validation
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatal(err)
		}
		if v.Compliant || v.Violations[0] != "System already stable: error rate 0.2/minute" || v.Warnings == nil ||
			len(v.Results) != 1 || v.Results[0].Rule != "stability_automatic" {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("override: admin yes, rollback role 403", func(t *testing.T) {
		m := f.do("POST", "/auto-rollback/validate", adminToken, body(`,"override":true`)).expect(t, http.StatusOK).json(t)
		if m["override"] != true {
			t.Fatalf("%v", m)
		}
		mu.Lock()
		last := reqs[len(reqs)-1]
		mu.Unlock()
		if !last.Admin || !last.Override || last.Caller != "root" {
			t.Fatalf("request %+v", last)
		}
		n := len(reqs)
		msg := f.do("POST", "/auto-rollback/validate", rollbackToken, body(`,"override":true`)).expect(t, http.StatusForbidden).errorText(t)
		if !strings.Contains(msg, `override needs role "admin"`) || len(reqs) != n {
			t.Fatalf("%q; service called %d times", msg, len(reqs)-n)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			token, body string
			status      int
			mention     string
		}{
			{"", body(""), http.StatusUnauthorized, "API key"},
			{readToken, `{"deployment_id":"` + depID + `"}`, http.StatusBadRequest, "trigger_reason"},
			{readToken, `{"deployment_id":"abc-123","trigger_reason":"x"}`, http.StatusBadRequest, "deployment_id"},
			{readToken, body(`,"trigger_type":"sometimes"`), http.StatusBadRequest, "trigger_type"},
			{readToken, body(`,"dry_run":true`), http.StatusBadRequest, "dry_run"},
			{readToken, `{"deployment_id":"` + unknownID + `","trigger_reason":"x"}`, http.StatusNotFound, "not found"},
		} {
			msg := f.do("POST", "/auto-rollback/validate", tc.token, tc.body).expect(t, tc.status).errorText(t)
			if !strings.Contains(msg, tc.mention) {
				t.Errorf("%s: %q lacks %q", tc.body, msg, tc.mention)
			}
		}
	})
	if n := f.writes.Load(); n != 0 {
		t.Fatalf("a dry run wrote %d times", n)
	}
}
