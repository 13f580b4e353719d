package retryafter_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/odyssey-1/roman/internal/retryafter"
)

var now = time.Date(2025, 12, 15, 14, 3, 0, 0, time.UTC)

func TestHeader(t *testing.T) {
	for _, tc := range []struct {
		name   string
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"absent", "", 0, false},
		{"blank", "   ", 0, false},
		{"integer seconds", "120", 120 * time.Second, true},
		{"zero", "0", 0, true},
		{"surrounding spaces", " 7 ", 7 * time.Second, true},
		{"fractional seconds", "0.57", 570 * time.Millisecond, true},
		{"fraction rounded to the millisecond", "64.5699999", 64570 * time.Millisecond, true},
		{"HTTP date", "Mon, 15 Dec 2025 14:04:30 GMT", 90 * time.Second, true},
		{"RFC 850 date", "Monday, 15-Dec-25 14:04:30 GMT", 90 * time.Second, true},
		{"asctime date", "Mon Dec 15 14:04:30 2025", 90 * time.Second, true},
		{"date now", "Mon, 15 Dec 2025 14:03:00 GMT", 0, false},
		{"date in the past", "Mon, 15 Dec 2025 13:00:00 GMT", 0, false},
		{"negative", "-5", 0, false},
		{"negative fraction", "-0.5", 0, false},
		{"not a number", "soon", 0, false},
		{"number with unit", "5s", 0, false},
		{"NaN", "NaN", 0, false},
		{"infinity", "+Inf", 0, false},
		{"huge seconds capped", "99999999999999999999", retryafter.MaxWait, true},
		{"just under the cap", "86399", 86399 * time.Second, true},
		{"far date capped", "Fri, 01 Jan 2100 00:00:00 GMT", retryafter.MaxWait, true},
	} {
		got, ok := retryafter.Header(tc.value, now)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: Header(%q) = %s, %v; want %s, %v", tc.name, tc.value, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestFromResponse(t *testing.T) {
	discord429 := `{"message": "You are being rate limited.", "retry_after": 64.57, "global": false}`
	for _, tc := range []struct {
		name   string
		header http.Header
		body   string
		want   time.Duration
		wantOK bool
	}{
		{"Discord body wins over the header", http.Header{"Retry-After": {"65"}}, discord429, 64570 * time.Millisecond, true},
		{"Discord body alone", nil, `{"retry_after": 0.5}`, 500 * time.Millisecond, true},
		{"Discord body zero", nil, `{"retry_after": 0}`, 0, true},
		{"Discord body integer", nil, `{"retry_after": 3}`, 3 * time.Second, true},
		{"negative body falls back to the header", http.Header{"Retry-After": {"2"}}, `{"retry_after": -1}`, 2 * time.Second, true},
		{"string body falls back to the header", http.Header{"Retry-After": {"2"}}, `{"retry_after": "9"}`, 2 * time.Second, true},
		{"out-of-range body falls back to the header", http.Header{"Retry-After": {"2"}}, `{"retry_after": 1e400}`, 2 * time.Second, true},
		{"huge body capped", nil, `{"retry_after": 1e300}`, retryafter.MaxWait, true},
		{"JSON without the field", http.Header{"Retry-After": {"30"}}, `{"calls":3}`, 30 * time.Second, true},
		{"plain-text body (Slack)", http.Header{"Retry-After": {"30"}}, `rate_limited`, 30 * time.Second, true},
		{"fractional header", http.Header{"Retry-After": {"1.25"}}, ``, 1250 * time.Millisecond, true},
		{"date from the local clock", http.Header{"Retry-After": {"Mon, 15 Dec 2025 14:03:10 GMT"}}, ``, 10 * time.Second, true},
		{"date from the server's Date header", http.Header{"Date": {"Mon, 15 Dec 2025 15:00:00 GMT"},
			"Retry-After": {"Mon, 15 Dec 2025 15:00:20 GMT"}}, ``, 20 * time.Second, true},
		{"garbage Date header ignored", http.Header{"Date": {"yesterday"},
			"Retry-After": {"Mon, 15 Dec 2025 14:03:10 GMT"}}, ``, 10 * time.Second, true},
		{"nothing usable", http.Header{"Retry-After": {"later"}}, `<html>429</html>`, 0, false},
		{"nothing at all", nil, ``, 0, false},
	} {
		got, ok := retryafter.FromResponse(tc.header, []byte(tc.body), now)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: FromResponse = %s, %v; want %s, %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
}
