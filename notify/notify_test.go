package notify_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/notify"
	"github.com/odyssey-1/roman/notify/notifytest"
)

// TestTextIsTheSeedExample checks the triggered alert against the seed's
// "Example Alert", line for line.
func TestTextIsTheSeedExample(t *testing.T) {
	want := `🚨 ROLLBACK INITIATED

Deployment: v2.5.3 (abc-123)
Environment: production
Reason: High error rate (8.5 errors/minute)
Trigger: Automatic
Target: v2.5.2 (a7f3b29)
Constitutional Status: APPROVED

R.O.M.A.N. is executing rollback...`
	if got := notify.Text(notifytest.SeedAlert()); got != want {
		t.Errorf("alert text:\n%s\nwant the seed's:\n%s", got, want)
	}
}

func TestTextPerKind(t *testing.T) {
	dur := 4.2
	base := notifytest.SeedAlert()
	tests := []struct {
		name   string
		change func(a *roman.Alert)
		want   []string
		absent []string
	}{
		{"completed", func(a *roman.Alert) {
			a.Kind, a.DurationSeconds = roman.AlertRollbackCompleted, &dur
		}, []string{"✅ ROLLBACK COMPLETE", "Duration: 4.2 seconds", "✅ Rollback complete (4.2 seconds)"}, nil},
		{"failed", func(a *roman.Alert) {
			a.Kind, a.Detail = roman.AlertRollbackFailed, "executor github failed: run concluded failure"
		}, []string{"❌ ROLLBACK FAILED", "Failure: executor github failed: run concluded failure", "Manual intervention required."}, nil},
		{"constitutional violation", func(a *roman.Alert) {
			a.Kind, a.Validation = roman.AlertConstitutionalViolation, roman.ValidationRejected
			a.TargetVersion, a.TargetCommit = "", ""
			a.Violations = []string{"Law of Total Coherence violated: Cannot increase entropy when system unstable", "No valid rollback target found"}
		}, []string{"🚨 CONSTITUTIONAL VIOLATION", "Constitutional Status: REJECTED", "Target: none found",
			"• Law of Total Coherence violated", "• No valid rollback target found", "Manual intervention required."}, nil},
		{"health warning", func(a *roman.Alert) {
			a.Kind, a.Detail, a.Trigger, a.Validation = roman.AlertHealthWarning, "p95 response time 6200 ms", "", ""
		}, []string{"⚠️ HEALTH WARNING", "Warning: p95 response time 6200 ms"}, []string{"Target:", "Constitutional Status"}},
		{"suppressed", func(a *roman.Alert) {
			a.Kind, a.Detail, a.Validation = roman.AlertRollbackSuppressed, "cooldown: last rollback in production 3m ago (cooldown 10m)", ""
		}, []string{"⚠️ ROLLBACK SUPPRESSED", "Suppressed: cooldown", "Trigger: Automatic", "A manual rollback is still possible."}, []string{"Target:"}},
		{"manual, long commit, no version", func(a *roman.Alert) {
			a.Trigger, a.Version, a.TargetCommit = roman.TriggerManual, "", "a7f3b29c0ffee0123456789abcdef0123456789a"
		}, []string{"Deployment: abc-123\n", "Trigger: Manual", "Target: v2.5.2 (a7f3b29)"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := *base
			tc.change(&a)
			got := notify.Text(&a)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in:\n%s", w, got)
				}
			}
			for _, w := range tc.absent {
				if strings.Contains(got, w) {
					t.Errorf("unexpected %q in:\n%s", w, got)
				}
			}
		})
	}
}

func TestCheckClassifiesAnswers(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    http.Header
		body      string
		ok, retry bool
		after     time.Duration
	}{
		{"discord 204", 204, nil, "", true, false, 0},
		{"slack ok", 200, nil, "ok", true, false, 0},
		{"discord 429 body", 429, http.Header{"Retry-After": {"65"}}, `{"message": "You are being rate limited.", "retry_after": 64.57, "global": false}`, false, true, 64570 * time.Millisecond},
		{"slack 429 header", 429, http.Header{"Retry-After": {"30"}}, `{"calls":3}`, false, true, 30 * time.Second},
		{"429 HTTP date", 429, http.Header{"Date": {"Mon, 15 Dec 2025 14:03:00 GMT"}, "Retry-After": {"Mon, 15 Dec 2025 14:04:00 GMT"}}, "", false, true, time.Minute},
		{"429 garbage header", 429, http.Header{"Retry-After": {"-3"}}, "", false, true, time.Second},
		{"429 nothing", 429, nil, "", false, true, time.Second},
		{"slack invalid_payload", 400, nil, "invalid_payload", false, false, 0},
		{"slack no_team", 404, nil, "no_team", false, false, 0},
		{"slack channel_is_archived", 410, nil, "channel_is_archived", false, false, 0},
		{"slack rollup_error", 500, nil, "rollup_error", false, true, 0},
		{"bad gateway", 502, nil, "<html>", false, true, 0},
		{"timeout", 408, nil, "", false, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			retry, err := notify.Check("x", "https://hooks.example/SECRET", tc.status, tc.header, []byte(tc.body))
			if (err == nil) != tc.ok || retry != tc.retry {
				t.Fatalf("Check = %v, %v; want ok=%v retry=%v", retry, err, tc.ok, tc.retry)
			}
			d, isRA := notify.RetryAfter(err)
			if isRA != (tc.after > 0) || d != tc.after {
				t.Errorf("RetryAfter = %s, %v; want %s", d, isRA, tc.after)
			}
			if err != nil && tc.status != 429 && tc.body != "" && !strings.Contains(err.Error(), tc.body) {
				t.Errorf("error %q does not quote the answer %q", err, tc.body)
			}
		})
	}
}

func TestPostJSONNeverShowsTheURL(t *testing.T) {
	// The shared helper itself, through a minimal notifier.
	notifytest.CheckNoLeak(t, func(u string) roman.Notifier { return postNotifier(u) })
	if got := notify.RedactURL("https://user:pw@discord.com/api/webhooks/1/SECRET?x=y"); got != "https://discord.com/…" {
		t.Errorf("RedactURL = %q", got)
	}
}

type postNotifier string

func (p postNotifier) Notify(ctx context.Context, a *roman.Alert) (bool, error) {
	status, h, body, err := notify.PostJSON(ctx, nil, string(p), []byte(`{}`), nil)
	if err != nil {
		return true, err
	}
	return notify.Check("test", string(p), status, h, body)
}

func TestPostJSONSendsJSON(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
	}))
	defer srv.Close()
	status, _, _, err := notify.PostJSON(context.Background(), nil, srv.URL, []byte(`{}`), http.Header{"X-A": {"b"}})
	if err != nil || status != 200 || got.Get("Content-Type") != "application/json" || got.Get("X-A") != "b" {
		t.Errorf("status %d, err %v, headers %v", status, err, got)
	}
}

func TestRouting(t *testing.T) {
	routes := map[string][]string{"slack": {"rollback_failed", "constitutional_violation"}, "webhook": {}, "discord": {"all"}}
	tests := []struct {
		channel, kind string
		want          bool
	}{
		{"discord", roman.AlertHealthWarning, true},
		{"slack", roman.AlertRollbackFailed, true},
		{"slack", roman.AlertRollbackTriggered, false},
		{"webhook", roman.AlertRollbackFailed, false},
	}
	for _, tc := range tests {
		if got := notify.Routed(routes, tc.channel, tc.kind); got != tc.want {
			t.Errorf("Routed(%s, %s) = %v", tc.channel, tc.kind, got)
		}
	}
	if !notify.Routed(nil, "slack", roman.AlertHealthWarning) {
		t.Error("an unrouted channel must receive every kind")
	}
	r := notify.Router(func(env string) ([]string, map[string][]string) {
		if env == "production" {
			return []string{"discord", "slack"}, routes
		}
		return []string{"discord"}, nil
	})
	if got := r(&roman.Alert{Kind: roman.AlertRollbackFailed, Environment: "production"}); !reflect.DeepEqual(got, []string{"discord", "slack"}) {
		t.Errorf("production failed → %v", got)
	}
	if got := r(&roman.Alert{Kind: roman.AlertHealthWarning, Environment: "production"}); !reflect.DeepEqual(got, []string{"discord"}) {
		t.Errorf("production warning → %v", got)
	}
	if got := r(&roman.Alert{Kind: roman.AlertHealthWarning, Environment: "staging"}); !reflect.DeepEqual(got, []string{"discord"}) {
		t.Errorf("staging warning → %v", got)
	}
}

// TestAlertNamesTheService: an alert about a service other than the
// default one says which, right after the deployment; the default
// service's alerts read as the seed's.
func TestAlertNamesTheService(t *testing.T) {
	a := notifytest.SeedAlert()
	if strings.Contains(notify.Text(a), "Service:") {
		t.Fatalf("the default service is named:\n%s", notify.Text(a))
	}
	a.Service = roman.DefaultService
	if strings.Contains(notify.Text(a), "Service:") {
		t.Fatalf("the default service is named:\n%s", notify.Text(a))
	}
	a.Service = "checkout"
	if txt := notify.Text(a); !strings.Contains(txt, "Deployment: v2.5.3 (abc-123)\nService: checkout\nEnvironment: production") {
		t.Fatalf("the service is not named:\n%s", txt)
	}
}
