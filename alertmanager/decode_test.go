package alertmanager_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/alertmanager"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeReferencePayloads decodes the payloads captured from a real
// Alertmanager 0.25.0.
func TestDecodeReferencePayloads(t *testing.T) {
	m, err := alertmanager.Decode(readFixture(t, "webhook_firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := m.Alerts[0]
	if m.Version != "4" || m.Status != "firing" || len(m.Alerts) != 1 || a.Status != "firing" || a.Fingerprint != "15620aa453614b8b" ||
		a.Labels["alertname"] != "HighErrorRate" || a.Labels["version"] != "1.4.2" || a.Annotations["summary"] != "Error rate above 5% on checkout-api" ||
		!a.StartsAt.Equal(time.Date(2026, 12, 4, 16, 25, 46, 318e6, time.UTC)) || a.EndsAt.Year() != 1 ||
		m.GroupKey != `{}:{alertname="HighErrorRate", service="checkout-api"}` || m.TruncatedAlerts != 0 {
		t.Fatalf("firing: %+v", m)
	}
	m, err = alertmanager.Decode(readFixture(t, "webhook_resolved.json"))
	if err != nil {
		t.Fatal(err)
	}
	if a := m.Alerts[0]; a.Status != "resolved" || !a.EndsAt.Equal(time.Date(2026, 12, 4, 16, 25, 50, 774e6, time.UTC)) {
		t.Fatalf("resolved: %+v", a)
	}
	// Later versions add keys; they are accepted.
	b := bytes.Replace(readFixture(t, "webhook_firing.json"), []byte(`"version": "4"`),
		[]byte(`"version": "4", "notification_reason": "first notification", "routeLabels": {}, "somethingNew": [1]`), 1)
	if _, err := alertmanager.Decode(b); err != nil {
		t.Fatalf("later version's keys: %v", err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := string(readFixture(t, "webhook_firing.json"))
	for _, tc := range []struct{ name, body, want string }{
		{"empty", "  ", "request body is required"},
		{"not JSON", "version=4", "invalid JSON"},
		{"truncated", good[:100], "invalid JSON"},
		{"two values", good + good, "more than one value"},
		{"array", "[]", "want a JSON object"},
		{"no version", `{"alerts":[]}`, "version: missing"},
		{"version 3", `{"version":"3","alerts":[]}`, `version: "3" is not supported`},
		{"version number", `{"version":4,"alerts":[]}`, "version: want a string"},
		{"no alerts", `{"version":"4"}`, "alerts: missing"},
		{"null alerts", `{"version":"4","alerts":null}`, "alerts: missing"},
		{"empty alerts", `{"version":"4","alerts":[]}`, "alerts: empty"},
		{"alert not object", `{"version":"4","alerts":[1]}`, "alerts[0]"},
		{"bad status", `{"version":"4","alerts":[{"status":"x","fingerprint":"a","startsAt":"2026-01-01T00:00:00Z"}]}`, `alerts[0].status: "x"`},
		{"no status", `{"version":"4","alerts":[{"fingerprint":"a","startsAt":"2026-01-01T00:00:00Z"}]}`, "alerts[0].status: missing"},
		{"no fingerprint", `{"version":"4","alerts":[{"status":"firing","startsAt":"2026-01-01T00:00:00Z"}]}`, "alerts[0].fingerprint: missing"},
		{"long fingerprint", `{"version":"4","alerts":[{"status":"firing","fingerprint":"` + strings.Repeat("a", 200) + `","startsAt":"2026-01-01T00:00:00Z"}]}`, "longer than"},
		{"no startsAt", `{"version":"4","alerts":[{"status":"firing","fingerprint":"a"}]}`, "alerts[0].startsAt: missing"},
		{"zero startsAt", `{"version":"4","alerts":[{"status":"firing","fingerprint":"a","startsAt":"0001-01-01T00:00:00Z"}]}`, "alerts[0].startsAt"},
		{"bad endsAt", `{"version":"4","alerts":[{"status":"firing","fingerprint":"a","startsAt":"2026-01-01T00:00:00Z","endsAt":"soon"}]}`, "alerts[0].endsAt"},
		{"label number", `{"version":"4","alerts":[{"status":"firing","fingerprint":"a","startsAt":"2026-01-01T00:00:00Z","labels":{"x":1}}]}`, "labels"},
		{"NUL", `{"version":"4","alerts":[{"status":"firing","fingerprint":"a","startsAt":"2026-01-01T00:00:00Z","labels":{"x":"\u0000"}}]}`, "NUL"},
		{"not UTF-8", "{\"version\":\"4\",\"receiver\":\"\xff\"}", "not valid UTF-8"},
		{"negative truncated", `{"version":"4","truncatedAlerts":-1,"alerts":[]}`, "truncatedAlerts"},
	} {
		_, err := alertmanager.Decode([]byte(tc.body))
		if roman.ErrorCode(err) != roman.EINVALID || !strings.Contains(roman.ErrorMessage(err), tc.want) {
			t.Errorf("%s: %v, want EINVALID naming %q", tc.name, err, tc.want)
		}
	}
}

// FuzzAlertmanagerDecode feeds the decoder arbitrary bodies, seeded with the
// reference payloads and variations: it never panics, refuses with
// EINVALID only, and what it accepts is a version 4 message whose alerts
// all have a status, a fingerprint and a start, in text a store can keep.
func FuzzAlertmanagerDecode(f *testing.F) {
	for _, name := range []string{"webhook_firing.json", "webhook_resolved.json"} {
		b := readFixture(f, name)
		f.Add(b)
		f.Add(bytes.Replace(b, []byte(`"truncatedAlerts": 0`), []byte(`"truncatedAlerts": 7`), 1))
		f.Add(bytes.Replace(b, []byte(`"environment": "production",`), nil, 1))
		f.Add(bytes.Replace(b, []byte(`"version": "4"`), []byte(`"version": "5"`), 1))
	}
	f.Add([]byte(`{"version":"4","alerts":[{"status":"firing","fingerprint":"a","startsAt":"2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":"4","alerts":null}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := alertmanager.Decode(body)
		if err != nil {
			if roman.ErrorCode(err) != roman.EINVALID || roman.ErrorMessage(err) == "" {
				t.Fatalf("refusal is not EINVALID with a message: %v", err)
			}
			return
		}
		if m.Version != "4" || len(m.Alerts) == 0 || len(m.Alerts) > alertmanager.MaxAlerts {
			t.Fatalf("accepted %+v", m)
		}
		for _, a := range m.Alerts {
			if (a.Status != "firing" && a.Status != "resolved") || a.Fingerprint == "" || a.StartsAt.IsZero() {
				t.Fatalf("accepted alert %+v", a)
			}
			for k, v := range a.Labels {
				if strings.ContainsRune(k+v, 0) || !utf8.ValidString(k+v) {
					t.Fatalf("accepted label %q=%q", k, v)
				}
			}
		}
		if _, err := json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	})
}
