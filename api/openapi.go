package api

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// openAPIDocument is the hand-written OpenAPI 3.0 document served at
// /openapi.json. It is hand-written so that it reads as the contract; the
// drift check (VerifyOpenAPI) keeps it and the route table in step.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns a copy of the embedded OpenAPI document.
func OpenAPIDocument() []byte { return slices.Clone(openAPIDocument) }

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

var pathParamRE = regexp.MustCompile(`\{([^}]+)\}`)

// VerifyOpenAPI checks an OpenAPI document against a route table and returns
// every disagreement: a documented route the table lacks, a route the
// document lacks, a role (x-roman-role) or security requirement that does
// not match, a path parameter not declared, or a $ref that resolves to
// nothing. Tests call it with Server.Routes(), so routes added later with
// Handle are checked too.
func VerifyOpenAPI(doc []byte, routes []Route) error {
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	var root any
	if err := json.Unmarshal(doc, &d); err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	if err := json.Unmarshal(doc, &root); err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	registered := make(map[string]Route)
	for _, rt := range routes {
		if rt.Undocumented {
			continue
		}
		key := strings.ToLower(rt.Method) + " " + docPath(rt.Path)
		registered[key] = rt
	}
	documented := make(map[string]bool)
	for path, item := range d.Paths {
		var pathParams []json.RawMessage
		if raw, ok := item["parameters"]; ok {
			_ = json.Unmarshal(raw, &pathParams)
		}
		for _, m := range openAPIMethods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			key := m + " " + path
			documented[key] = true
			rt, ok := registered[key]
			if !ok {
				add("documented but not served: %s %s", strings.ToUpper(m), path)
				continue
			}
			checkOperation(add, root, rt, path, raw, pathParams)
		}
	}
	for key, rt := range registered {
		if !documented[key] {
			add("served but not documented: %s", rt.Pattern())
		}
	}
	for _, r := range danglingRefs(root) {
		add("unresolved $ref %q", r)
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return errors.New("openapi drift:\n  " + strings.Join(problems, "\n  "))
}

// docPath turns a net/http pattern path into its OpenAPI form: "{name...}"
// becomes "{name}" and a trailing "{$}" (exact match) is dropped.
func docPath(p string) string {
	p = strings.TrimSuffix(p, "{$}")
	return strings.ReplaceAll(p, "...}", "}")
}

// checkOperation compares one documented operation with its route.
func checkOperation(add func(string, ...any), root any, rt Route, path string, raw json.RawMessage, pathParams []json.RawMessage) {
	var op struct {
		Role       string             `json:"x-roman-role"`
		Security   *[]json.RawMessage `json:"security"`
		Parameters []json.RawMessage  `json:"parameters"`
	}
	if err := json.Unmarshal(raw, &op); err != nil {
		add("%s: %v", rt.Pattern(), err)
		return
	}
	if op.Role != rt.Role.String() {
		add("%s: x-roman-role is %q, the route needs %q", rt.Pattern(), op.Role, rt.Role.String())
	}
	open := op.Security != nil && len(*op.Security) == 0
	if rt.Role.String() == "none" && !open {
		add("%s: needs no credentials but the document does not say security: []", rt.Pattern())
	} else if rt.Role.String() != "none" && open {
		add("%s: needs role %q but the document says security: []", rt.Pattern(), rt.Role)
	}
	declared := make(map[string]bool)
	for _, p := range append(slices.Clone(pathParams), op.Parameters...) {
		name, in := resolveParam(root, p)
		if in == "path" {
			declared[name] = true
		}
	}
	for _, m := range pathParamRE.FindAllStringSubmatch(path, -1) {
		if !declared[m[1]] {
			add("%s: path parameter %q not declared", rt.Pattern(), m[1])
		}
		delete(declared, m[1])
	}
	for name := range declared {
		add("%s: declares path parameter %q that the path lacks", rt.Pattern(), name)
	}
}

// resolveParam returns the name and location of a parameter object,
// following one local $ref.
func resolveParam(root any, raw json.RawMessage) (name, in string) {
	var p struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	}
	_ = json.Unmarshal(raw, &p)
	if p.Ref != "" {
		target, _ := lookupRef(root, p.Ref)
		m, _ := target.(map[string]any)
		p.Name, _ = m["name"].(string)
		p.In, _ = m["in"].(string)
	}
	return p.Name, p.In
}

// lookupRef resolves a local JSON pointer ("#/components/schemas/X").
func lookupRef(root any, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	cur := root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// danglingRefs lists every "$ref" in the document that resolves to nothing.
func danglingRefs(root any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && k == "$ref" {
					if _, ok := lookupRef(root, s); !ok {
						out = append(out, s)
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(root)
	return out
}
