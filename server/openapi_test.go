package server

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/odyssey-1/roman/api"
)

// TestOpenAPICoversEveryServedRoute is the drift check on the whole server:
// every route the running program serves — the API's own, the dashboard's
// page and forms (web), the Discord endpoint and the /functions/v1 aliases —
// must be in openapi.json with its role, and the document may list nothing
// the server does not serve. Only routes marked Undocumented (the
// dashboard's static assets) are exempt. The api package's drift test sees
// only the routes that package registers itself.
func TestOpenAPICoversEveryServedRoute(t *testing.T) {
	m := startServerEnv(t, nil)
	routes := m.API.Routes()
	if err := api.VerifyOpenAPI(api.OpenAPIDocument(), routes); err != nil {
		t.Fatal(err)
	}
	// Guard against the check passing vacuously: the routes registered
	// outside the api package are part of what was checked, and the only
	// exemption is the static assets.
	patterns := make([]string, 0, len(routes))
	for _, rt := range routes {
		if rt.Undocumented {
			if rt.Pattern() != "GET /app/admin/roman-dashboard/static/{file}" {
				t.Errorf("%s is exempt from the OpenAPI document; only static assets may be", rt.Pattern())
			}
			continue
		}
		patterns = append(patterns, rt.Pattern())
	}
	for _, want := range []string{
		"GET /app/admin/roman-dashboard",
		"POST /app/admin/roman-dashboard/sign-in",
		"POST /app/admin/roman-dashboard/sign-out",
		"GET /app/admin/roman-dashboard/summary",
		"GET /app/admin/roman-dashboard/events",
		"GET /metrics",
		"POST /discord/interactions",
		"POST /functions/v1/auto-rollback/validate",
	} {
		if !slices.Contains(patterns, want) {
			t.Errorf("the server does not serve %s, or serves it undocumented", want)
		}
	}
	// The document the running server serves is the one checked.
	resp, err := http.Get(m.URL() + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, api.OpenAPIDocument()) {
		t.Errorf("GET /openapi.json: %d, not the embedded document", resp.StatusCode)
	}
}
