package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
)

// fillPath replaces path parameters with known ids.
func fillPath(p string) string {
	p = strings.ReplaceAll(p, "{deployment_id}", depID)
	p = strings.ReplaceAll(p, "{snapshot_id}", snapID)
	return strings.ReplaceAll(p, "{other_snapshot_id}", snapID2)
}

// TestAuthMatrix walks every registered route with every kind of
// credential: none and a wrong key get 401, a key below the route's role
// gets 403 naming the role, and a key at or above it gets past auth.
func TestAuthMatrix(t *testing.T) {
	f := newFixture(t)
	creds := []struct {
		token string
		role  roman.Role
	}{
		{"", roman.RoleNone}, {"not-a-key", roman.RoleNone},
		{readToken, roman.RoleRead}, {deployToken, roman.RoleDeploy},
		{rollbackToken, roman.RoleRollback}, {adminToken, roman.RoleAdmin},
	}
	for _, rt := range f.srv.Routes() {
		for _, c := range creds {
			r := f.do(rt.Method, fillPath(rt.Path), c.token, "")
			switch {
			case rt.Role == roman.RoleNone:
				if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
					t.Errorf("%s with %q: %d, route needs no credentials", rt.Pattern(), c.token, r.status)
				}
			case c.role == roman.RoleNone:
				if r.status != http.StatusUnauthorized || r.errorText(t) != "missing or invalid API key" ||
					r.header.Get("WWW-Authenticate") != "Bearer" {
					t.Errorf("%s with %q: %d %s WWW-Authenticate=%q", rt.Pattern(), c.token, r.status, r.body, r.header.Get("WWW-Authenticate"))
				}
			case c.role < rt.Role:
				if r.status != http.StatusForbidden || !strings.Contains(r.errorText(t), `needs role "`+rt.Role.String()+`"`) {
					t.Errorf("%s with role %s: %d %s", rt.Pattern(), c.role, r.status, r.body)
				}
			default:
				if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
					t.Errorf("%s with role %s: %d %s", rt.Pattern(), c.role, r.status, r.body)
				}
			}
		}
	}
}

func TestAuthHeaderForms(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		header string
		want   int
	}{
		{"Bearer " + readToken, http.StatusOK},
		{"bearer " + readToken, http.StatusOK},
		{"Bearer  " + readToken + " ", http.StatusOK},
		{"Basic " + readToken, http.StatusUnauthorized},
		{readToken, http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
		{"Bearer " + readToken + "x", http.StatusUnauthorized},
	} {
		r := f.do("GET", "/auto-rollback/history", "", "", "Authorization", tc.header)
		if r.status != tc.want {
			t.Errorf("Authorization %q: %d, want %d", tc.header, r.status, tc.want)
		}
	}
}

func TestOverrideNeedsAdmin(t *testing.T) {
	f := newFixture(t)
	r := f.do("POST", "/auto-rollback", rollbackToken, `{"deployment_id":"`+depID+`","trigger_reason":"r","override":true}`).
		expect(t, http.StatusForbidden)
	if !strings.Contains(r.errorText(t), `"admin"`) {
		t.Errorf("403 does not name the admin role: %s", r.body)
	}
	if f.writes.Load() != 0 {
		t.Error("a refused override reached the service")
	}
}

func TestNoKeyringRefusesEverything(t *testing.T) {
	f := newFixture(t)
	ts := httptest.NewServer(NewServer(Config{}, Deps{}).Handler())
	t.Cleanup(ts.Close)
	f.ts = ts
	f.do("GET", "/auto-rollback/history", readToken, "").expect(t, http.StatusUnauthorized)
	f.do("GET", "/healthz", "", "").expect(t, http.StatusOK)
}

func TestCallerInContext(t *testing.T) {
	f := newFixture(t)
	var got Caller
	f.srv.Handle("GET /whoami", roman.RoleRead, func(w http.ResponseWriter, r *http.Request) error {
		got, _ = CallerFromContext(r.Context())
		return WriteJSON(w, http.StatusOK, map[string]string{"name": got.Name})
	})
	f.do("GET", "/whoami", deployToken, "").expect(t, http.StatusOK)
	if got != (Caller{Name: "ci", Role: roman.RoleDeploy}) {
		t.Errorf("caller %+v", got)
	}
}
