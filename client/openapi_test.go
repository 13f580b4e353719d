package client_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman/api"
	"github.com/odyssey-1/roman/client"
)

// The cross-check of the OpenAPI document and the Go client. Operations the
// Go client implements are marked "x-clients": ["go", ...] in
// api/openapi.json (the TypeScript client's test reads the "typescript"
// marks the same way). The client's side is its route table, which every
// method calls through (TestMain checks that no request escaped it).

// openAPIDoc is the part of the document the cross-check reads.
type openAPIDoc struct {
	Paths map[string]map[string]json.RawMessage `json:"paths"`
	root  map[string]any
}

type openAPIOp struct {
	OperationID string   `json:"operationId"`
	Clients     []string `json:"x-clients"`
	RequestBody *struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

func parseOpenAPI(t *testing.T, doc []byte) *openAPIDoc {
	t.Helper()
	var d openAPIDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(doc, &d.root); err != nil {
		t.Fatal(err)
	}
	return &d
}

// crossCheck returns every disagreement between the document and the
// client's routes: an operation marked "go" that no route implements, a
// route whose method and path the document lacks, or whose operation is not
// marked "go" or has another operationId, and a JSON field of a request or
// response (at any depth) that the schema has and the Go type lacks, or the
// other way round.
func crossCheck(d *openAPIDoc, routes []client.Route) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	byKey := map[string]client.Route{}
	for _, r := range routes {
		byKey[strings.ToLower(r.Method)+" "+r.Path] = r
	}
	for path, item := range d.Paths {
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			var op openAPIOp
			if err := json.Unmarshal(raw, &op); err != nil {
				add("%s %s: %v", method, path, err)
				continue
			}
			marked := false
			for _, c := range op.Clients {
				marked = marked || c == "go"
			}
			r, ok := byKey[method+" "+path]
			switch {
			case marked && !ok:
				add("%s (%s %s) is marked for the Go client, which has no method for it", op.OperationID, strings.ToUpper(method), path)
			case ok && !marked:
				add("the Go client calls %s %s (%s), which the document does not mark \"go\"", r.Method, r.Path, op.OperationID)
			}
			if !ok {
				continue
			}
			delete(byKey, method+" "+path)
			if r.OperationID != op.OperationID {
				add("%s %s: the client names it %q, the document %q", r.Method, r.Path, r.OperationID, op.OperationID)
			}
			var req map[string]any
			if op.RequestBody != nil {
				req = op.RequestBody.Content["application/json"].Schema
			}
			switch {
			case r.Request != nil && req == nil:
				add("%s: the client sends a body, the document has none", op.OperationID)
			case r.Request == nil && req != nil:
				add("%s: the document has a request body, the client sends none", op.OperationID)
			case r.Request != nil:
				compareFields(add, d.root, op.OperationID+" request", req, r.Request, map[string]bool{})
			}
			var codes []string
			for code := range op.Responses {
				if strings.HasPrefix(code, "2") {
					codes = append(codes, code)
				}
			}
			sort.Strings(codes)
			for _, code := range codes {
				resp := op.Responses[code].Content["application/json"].Schema
				if r.Response != nil && resp != nil {
					compareFields(add, d.root, op.OperationID+" response "+code, resp, r.Response, map[string]bool{})
				}
			}
		}
	}
	for _, r := range byKey {
		add("the Go client calls %s %s (%s), which the document does not have", r.Method, r.Path, r.OperationID)
	}
	sort.Strings(problems)
	return problems
}

// compareFields compares the properties of schema with the JSON fields of
// typ and recurses into properties that are objects on both sides.
func compareFields(add func(string, ...any), root map[string]any, where string, schema map[string]any, typ reflect.Type, seen map[string]bool) {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
	}
	props := properties(root, schema)
	if typ.Kind() != reflect.Struct || typ == reflect.TypeFor[time.Time]() || props == nil {
		return
	}
	if seen[typ.String()] {
		return
	}
	seen[typ.String()] = true
	fields := jsonFields(typ)
	for name, ft := range fields {
		p, ok := props[name]
		if !ok {
			add("%s: field %q of Go type %s is not in the document", where, name, typ)
			continue
		}
		if ps, ok := p.(map[string]any); ok {
			if items, ok := resolve(root, ps)["items"].(map[string]any); ok {
				ps = items
			}
			compareFields(add, root, where+"."+name, ps, ft, seen)
		}
	}
	for name := range props {
		if _, ok := fields[name]; !ok {
			add("%s: property %q of the document is not in Go type %s", where, name, typ)
		}
	}
}

// resolve follows local $refs.
func resolve(root map[string]any, s map[string]any) map[string]any {
	for i := 0; i < 10; i++ {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		var cur any = root
		for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, _ := cur.(map[string]any)
			cur = m[tok]
		}
		next, ok := cur.(map[string]any)
		if !ok {
			return map[string]any{}
		}
		s = next
	}
	return s
}

// properties returns the properties of an object schema, the union over
// its oneOf, anyOf or allOf alternatives; nil when it declares none.
func properties(root map[string]any, s map[string]any) map[string]any {
	s = resolve(root, s)
	var out map[string]any
	if p, ok := s["properties"].(map[string]any); ok {
		out = map[string]any{}
		for k, v := range p {
			out[k] = v
		}
	}
	for _, k := range []string{"oneOf", "anyOf", "allOf"} {
		alts, _ := s[k].([]any)
		for _, a := range alts {
			am, _ := a.(map[string]any)
			for name, v := range properties(root, am) {
				if out == nil {
					out = map[string]any{}
				}
				out[name] = v
			}
		}
	}
	return out
}

// jsonFields returns the JSON names of typ's encoded fields (embedded
// structs flattened, "-" skipped) and their types.
func jsonFields(typ reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// TestOpenAPIAndGoClientAgree is the cross-check on the real document and
// the real route table.
func TestOpenAPIAndGoClientAgree(t *testing.T) {
	d := parseOpenAPI(t, api.OpenAPIDocument())
	if p := crossCheck(d, client.Routes()); len(p) > 0 {
		t.Errorf("the OpenAPI document and the Go client disagree:\n  %s", strings.Join(p, "\n  "))
	}
}

// TestCrossCheckFindsDrift shows the cross-check fails for each kind of
// drift, so a green run means agreement rather than a blind check.
func TestCrossCheckFindsDrift(t *testing.T) {
	edit := func(change func(doc map[string]any)) *openAPIDoc {
		var doc map[string]any
		if err := json.Unmarshal(api.OpenAPIDocument(), &doc); err != nil {
			t.Fatal(err)
		}
		change(doc)
		b, _ := json.Marshal(doc)
		return parseOpenAPI(t, b)
	}
	op := func(doc map[string]any, path, method string) map[string]any {
		return doc["paths"].(map[string]any)[path].(map[string]any)[method].(map[string]any)
	}
	schema := func(doc map[string]any, name string) map[string]any {
		return doc["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
	}
	routes := client.Routes()
	for _, tc := range []struct {
		name   string
		doc    *openAPIDoc
		routes []client.Route
		want   string
	}{
		{"operation marked go without a method", edit(func(doc map[string]any) {
			op(doc, "/app/admin/roman-dashboard/summary", "get")["x-clients"] = []any{"go"}
		}), routes, "dashboardSummary (GET /app/admin/roman-dashboard/summary) is marked for the Go client, which has no method for it"},
		{"method not marked", edit(func(doc map[string]any) {
			delete(op(doc, "/events", "get"), "x-clients")
		}), routes, `the Go client calls GET /events (listEvents), which the document does not mark "go"`},
		{"route the document lacks", edit(func(doc map[string]any) {}),
			append(routes[:len(routes):len(routes)], client.Route{Method: "POST", Path: "/deployments/{deployment_id}/promote", OperationID: "promote"}),
			"the Go client calls POST /deployments/{deployment_id}/promote (promote), which the document does not have"},
		{"schema property the Go type lacks", edit(func(doc map[string]any) {
			schema(doc, "RecordDeploymentRequest")["properties"].(map[string]any)["region"] = map[string]any{"type": "string"}
		}), routes, `recordDeployment request: property "region" of the document is not in Go type api.RecordDeploymentRequest`},
		{"Go field the schema lacks, nested", edit(func(doc map[string]any) {
			delete(schema(doc, "Deployment")["properties"].(map[string]any), "git_branch")
		}), routes, `listDeployments response 200.deployments: field "git_branch" of Go type roman.Deployment is not in the document`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := crossCheck(tc.doc, tc.routes)
			if !strings.Contains(strings.Join(p, "\n"), tc.want) {
				t.Errorf("got %q, want %q", p, tc.want)
			}
		})
	}
}

// TestRequestCheckFindsDrift shows the check TestMain runs over the
// recorded requests fails for a request outside the route table and for a
// query parameter the document does not declare.
func TestRequestCheckFindsDrift(t *testing.T) {
	doc := api.OpenAPIDocument()
	got := requestProblems([]sentRequest{
		{Method: "GET", Path: "/deployments", Query: map[string][]string{"environment": {"production"}, "limit": {"3"}}},
		{Method: "GET", Path: "/auto-rollback/history", Query: map[string][]string{"region": {"eu"}}},
		{Method: "DELETE", Path: "/deployments/7a1c0e2b-0000-4000-8000-000000000001"},
	}, doc)
	want := []string{
		`GET /auto-rollback/history: query parameter "region" is not declared in the document`,
		"DELETE /deployments/7a1c0e2b-0000-4000-8000-000000000001 matches no route of the table (add it to routes.go)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
}
