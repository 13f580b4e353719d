package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/alertmanager"
)

// MountDashboardStubs registers on s a stand-in for each documented route
// that another package adds to the API server: the dashboard's page, its
// sign-in and sign-out forms and its explain page (web.Dashboard.Register; its static assets are
// Undocumented). openapi.json lists them because the running server serves
// them, so the api package's own drift checks, which run without the web
// package, need them too. server.TestOpenAPICoversEveryServedRoute checks the
// real registration on the whole server. Exported for the api_test package.
func MountDashboardStubs(s *Server) {
	stub := func(http.ResponseWriter, *http.Request) error { return nil }
	const base = "/app/admin/roman-dashboard"
	s.HandleRoute(Route{Method: "GET", Path: base, Handler: stub})
	s.HandleRoute(Route{Method: "POST", Path: base + "/sign-in", Handler: stub})
	s.HandleRoute(Route{Method: "POST", Path: base + "/sign-out", Handler: stub})
	s.HandleRoute(Route{Method: "GET", Path: base + "/explain/{deployment_id}", Handler: stub})
}

// TestOpenAPIMatchesRoutes is the drift check: the served document and the
// server's route table (including anything registered later with Handle,
// here the dashboard's routes as stand-ins) must list the same routes with
// the same roles.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f := newFixture(t)
	MountDashboardStubs(f.srv)
	if err := VerifyOpenAPI(OpenAPIDocument(), f.srv.Routes()); err != nil {
		t.Fatal(err)
	}
	served := f.do("GET", "/openapi.json", "", "").expect(t, http.StatusOK).body
	if string(served) != string(OpenAPIDocument()) {
		t.Error("GET /openapi.json does not serve the embedded document")
	}
}

func TestOpenAPIDriftIsDetected(t *testing.T) {
	noop := func(http.ResponseWriter, *http.Request) error { return nil }
	t.Run("route added without documentation", func(t *testing.T) {
		s := NewServer(Config{}, Deps{})
		MountDashboardStubs(s)
		s.Handle("POST /not-documented", roman.RoleDeploy, noop)
		err := VerifyOpenAPI(OpenAPIDocument(), s.Routes())
		if err == nil || !strings.Contains(err.Error(), "served but not documented: POST /not-documented") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("undocumented opt-out", func(t *testing.T) {
		s := NewServer(Config{}, Deps{})
		MountDashboardStubs(s)
		s.HandleRoute(Route{Method: "GET", Path: "/app/admin/roman-dashboard/static/{file...}", Handler: noop, Undocumented: true})
		if err := VerifyOpenAPI(OpenAPIDocument(), s.Routes()); err != nil {
			t.Error(err)
		}
	})
	s := NewServer(Config{}, Deps{})
	MountDashboardStubs(s)
	edit := func(t *testing.T, change func(doc map[string]any)) error {
		t.Helper()
		var doc map[string]any
		if err := json.Unmarshal(OpenAPIDocument(), &doc); err != nil {
			t.Fatal(err)
		}
		change(doc)
		b, _ := json.Marshal(doc)
		return VerifyOpenAPI(b, s.Routes())
	}
	op := func(doc map[string]any, path, method string) map[string]any {
		return doc["paths"].(map[string]any)[path].(map[string]any)[method].(map[string]any)
	}
	for _, tc := range []struct {
		name   string
		change func(doc map[string]any)
		want   string
	}{
		{"route removed from the document", func(doc map[string]any) {
			delete(doc["paths"].(map[string]any), "/functions/v1/auto-rollback/history")
		}, "served but not documented: GET /functions/v1/auto-rollback/history"},
		{"documented route the server lacks", func(doc map[string]any) {
			doc["paths"].(map[string]any)["/auto-rollback/simulate"] = map[string]any{"post": map[string]any{"x-roman-role": "read"}}
		}, "documented but not served: POST /auto-rollback/simulate"},
		{"role mismatch", func(doc map[string]any) {
			op(doc, "/auto-rollback", "post")["x-roman-role"] = "read"
		}, `POST /auto-rollback: x-roman-role is "read", the route needs "rollback"`},
		{"open route not marked", func(doc map[string]any) {
			delete(op(doc, "/healthz", "get"), "security")
		}, "GET /healthz: needs no credentials"},
		{"protected route marked open", func(doc map[string]any) {
			op(doc, "/deployments", "get")["security"] = []any{}
		}, `GET /deployments: needs role "read" but the document says security: []`},
		{"path parameter undeclared", func(doc map[string]any) {
			delete(doc["paths"].(map[string]any)["/snapshots/{snapshot_id}"].(map[string]any), "parameters")
		}, `path parameter "snapshot_id" not declared`},
		{"dangling ref", func(doc map[string]any) {
			delete(doc["components"].(map[string]any)["schemas"].(map[string]any), "Health")
		}, `unresolved $ref "#/components/schemas/Health"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := edit(t, tc.change)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestOpenAPISchemasMatchGoTypes checks each documented schema has exactly
// the JSON fields of the Go type the server encodes or decodes, so a field
// added to a type cannot go undocumented.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPIDocument(), &doc); err != nil {
		t.Fatal(err)
	}
	for name, typ := range map[string]reflect.Type{
		"Deployment":              reflect.TypeFor[roman.Deployment](),
		"RecordDeploymentRequest": reflect.TypeFor[RecordDeploymentRequest](),
		"UpdateDeploymentRequest": reflect.TypeFor[UpdateDeploymentRequest](),
		"DeploymentList":          reflect.TypeFor[DeploymentList](),
		"CreateSnapshotRequest":   reflect.TypeFor[CreateSnapshotRequest](),
		"Snapshot":                reflect.TypeFor[roman.Snapshot](),
		"SnapshotList":            reflect.TypeFor[SnapshotList](),
		"SnapshotDiff":            reflect.TypeFor[roman.SnapshotDiff](),
		"Migration":               reflect.TypeFor[roman.Migration](),
		"RecordMigrationRequest":  reflect.TypeFor[RecordMigrationRequest](),
		"MigrationList":           reflect.TypeFor[MigrationList](),
		"RollbackRequest":         reflect.TypeFor[roman.RollbackRequest](),
		"RollbackResult":          reflect.TypeFor[roman.RollbackResult](),
		"TargetDeployment":        reflect.TypeFor[roman.TargetDeployment](),
		"Validation":              reflect.TypeFor[roman.Validation](),
		"RuleResult":              reflect.TypeFor[roman.RuleResult](),
		"CheckRequest":            reflect.TypeFor[CheckRequest](),
		"CheckResult":             reflect.TypeFor[roman.CheckResult](),
		"Health":                  reflect.TypeFor[roman.Health](),
		"RollbackEvent":           reflect.TypeFor[roman.RollbackEvent](),
		"RollbackStep":            reflect.TypeFor[roman.RollbackStep](),
		"RollbackHistory":         reflect.TypeFor[RollbackHistory](),
		"Rejection":               reflect.TypeFor[ErrorResponse](),
		"Status":                  reflect.TypeFor[StatusResponse](),
		"RomanEvent":              reflect.TypeFor[roman.RomanEvent](),
		"EventList":               reflect.TypeFor[EventList](),
		"Explanation":             reflect.TypeFor[roman.Explanation](),
		"ExplainEntry":            reflect.TypeFor[roman.ExplainEntry](),
		"ExplainVerdict":          reflect.TypeFor[roman.ExplainVerdict](),
		"FiringAlert":             reflect.TypeFor[roman.FiringAlert](),
		"AlertmanagerResult":      reflect.TypeFor[alertmanager.Result](),
		"AlertmanagerAlertResult": reflect.TypeFor[alertmanager.AlertResult](),
	} {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s missing", name)
			continue
		}
		want := keys(jsonFields(typ))
		var got []string
		for k := range s.Properties {
			got = append(got, k)
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("schema %s has properties %v; Go type %s has %v", name, got, typ, want)
		}
	}
	ids := map[string]string{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			var op struct {
				ID string `json:"operationId"`
			}
			_ = json.Unmarshal(raw, &op)
			id := op.ID
			if prev, dup := ids[id]; dup || id == "" {
				t.Errorf("operationId %q of %s %s is empty or also used by %s", id, method, path, prev)
			}
			ids[id] = method + " " + path
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
