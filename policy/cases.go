package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/odyssey-1/roman"
)

// A case file holds sample inputs and the verdicts a constitution should give
// them; `roman policy test FILE --input cases.yaml` runs it offline:
//
//	defaults:                 # optional, merged into every case's input
//	  environment: production
//	cases:
//	  - name: Friday freeze blocks an automatic rollback
//	    input:
//	      trigger: automatic
//	      now: 2025-12-19T14:00:00Z
//	      health: {error_rate_per_minute: 8.5, reason: "High error rate: 8.5 errors/minute"}
//	    expect:
//	      compliant: false
//	      violations: ["Production freeze"]   # each is a substring of some violation
//	      rules: [production_freeze]          # each rule produced a finding
//
// An input has the fields of roman.ValidationInput (the CEL variables) and
// starts from BaseCaseInput; maps merge key by key and null replaces, so
// `target: null` means there is no rollback target. entropy is derived from
// health and thresholds unless given.

// CaseFile is a parsed case file.
type CaseFile struct {
	Defaults map[string]any `yaml:"defaults"`
	Cases    []Case         `yaml:"cases"`
}

// Case is one sample input and its expectation.
type Case struct {
	Name   string         `yaml:"name"`
	Input  map[string]any `yaml:"input"`
	Expect Expect         `yaml:"expect"`
}

// Expect is what a case's verdict must show. Unset fields are not checked;
// a case must check at least one thing.
type Expect struct {
	// Compliant, when set, is the expected verdict.
	Compliant *bool `yaml:"compliant"`
	// Violations and Warnings each list texts that must each be contained in
	// some violation (warning) of the verdict.
	Violations []string `yaml:"violations"`
	Warnings   []string `yaml:"warnings"`
	// Rules lists rule names that must each have produced a finding.
	Rules []string `yaml:"rules"`
}

func (e Expect) empty() bool {
	return e.Compliant == nil && len(e.Violations) == 0 && len(e.Warnings) == 0 && len(e.Rules) == 0
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Name    string           `json:"name"`
	Passed  bool             `json:"passed"`
	Verdict roman.Validation `json:"verdict"`
	// Failures says what did not match, one line each.
	Failures []string `json:"failures,omitempty"`
}

// LoadCases reads and parses a case file.
func LoadCases(path string) (*CaseFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("case file %s: %w", path, err)
	}
	return ParseCases(path, b)
}

// ParseCases parses a case file; every case must have a unique name, an
// expectation and an input that decodes (unknown fields are errors, so a
// misspelt `enviroment:` does not silently test the default).
func ParseCases(name string, data []byte) (*CaseFile, error) {
	var cf CaseFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cf); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("case file %s: invalid YAML: %w", name, err)
	}
	if len(cf.Cases) == 0 {
		return nil, fmt.Errorf("case file %s: no cases", name)
	}
	seen := make(map[string]bool)
	for i, c := range cf.Cases {
		switch {
		case c.Name == "":
			return nil, fmt.Errorf("case file %s: case #%d has no name", name, i+1)
		case seen[c.Name]:
			return nil, fmt.Errorf("case file %s: two cases are named %q", name, c.Name)
		case c.Expect.empty():
			return nil, fmt.Errorf("case file %s: case %q expects nothing (set compliant, violations, warnings or rules)", name, c.Name)
		}
		seen[c.Name] = true
		if _, err := CaseInput(cf.Defaults, c.Input); err != nil {
			return nil, fmt.Errorf("case file %s: case %q: %w", name, c.Name, err)
		}
	}
	return &cf, nil
}

// Fixed times of the base case input: the seed's example, a Monday.
var (
	caseNow        = time.Date(2025, 12, 15, 14, 35, 0, 0, time.UTC)
	caseDeployedAt = time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)
	caseTargetAt   = time.Date(2025, 12, 15, 13, 45, 0, 0, time.UTC)
)

// BaseCaseInput is the input every case starts from: a manual rollback of
// v2.5.3 in production to v2.5.2, a healthy system (no errors), a
// consistent database, the seed's action profile and default thresholds, at
// 2025-12-15T14:35:00Z (a Monday).
func BaseCaseInput() roman.ValidationInput {
	th := roman.DefaultThresholds()
	done := caseDeployedAt.Add(time.Minute)
	return roman.ValidationInput{
		Action:  roman.RollbackProfile("policy test"),
		Trigger: roman.TriggerManual,
		Deployment: &roman.Deployment{
			ID: 2, DeploymentID: "00000000-0000-4000-8000-000000000002", Environment: "production",
			Version: "v2.5.3", GitCommit: "b81c4d0", GitBranch: "main", DeployedAt: caseDeployedAt,
			Status: roman.StatusSuccess, CompletedAt: &done,
		},
		Target: &roman.Deployment{
			ID: 1, DeploymentID: "00000000-0000-4000-8000-000000000001", Environment: "production",
			Version: "v2.5.2", GitCommit: "a7f3b29", GitBranch: "main", DeployedAt: caseTargetAt,
			Status: roman.StatusSuccess, HealthCheckPassed: true,
		},
		Environment: "production",
		Health:      roman.EvaluateHealth(roman.HealthInputs{}, th, caseNow),
		Thresholds:  th,
		Database:    roman.DatabaseState{Consistent: true},
		Now:         caseNow,
	}
}

// CaseInput builds a validation input from the base input, the file's
// defaults and a case's input, merged in that order.
func CaseInput(defaults, input map[string]any) (roman.ValidationInput, error) {
	var base map[string]any
	raw, _ := json.Marshal(BaseCaseInput())
	if err := json.Unmarshal(raw, &base); err != nil {
		return roman.ValidationInput{}, err
	}
	given := merge(normalize(defaults), normalize(input))
	// A case that moves to another environment means its deployments too.
	if env, ok := given["environment"].(string); ok {
		for _, k := range []string{"deployment", "target"} {
			if d, ok := base[k].(map[string]any); ok {
				d["environment"] = env
			}
		}
	}
	merged := merge(base, given)
	b, err := json.Marshal(merged)
	if err != nil {
		return roman.ValidationInput{}, fmt.Errorf("input: %w", err)
	}
	var in roman.ValidationInput
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return roman.ValidationInput{}, fmt.Errorf("input: %w", err)
	}
	if _, ok := given["entropy"]; !ok {
		in.Entropy = in.Health.Entropy(in.Thresholds)
	}
	return in, nil
}

// normalize turns YAML-decoded values into what encoding/json reads back:
// maps with string keys, times as RFC 3339 text.
func normalize(v any) map[string]any {
	m, _ := normalizeValue(v).(map[string]any)
	return m
}

func normalizeValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeValue(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = normalizeValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeValue(e)
		}
		return out
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}

// merge returns base with over merged into it: maps merge key by key, any
// other value (null included) replaces.
func merge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		bm, bok := out[k].(map[string]any)
		om, ook := v.(map[string]any)
		if bok && ook {
			out[k] = merge(bm, om)
			continue
		}
		out[k] = v
	}
	return out
}

// RunCases evaluates every case and compares the verdicts with the
// expectations.
func (c *Constitution) RunCases(ctx context.Context, cf *CaseFile) ([]CaseResult, error) {
	var out []CaseResult
	for _, tc := range cf.Cases {
		in, err := CaseInput(cf.Defaults, tc.Input)
		if err != nil {
			return nil, fmt.Errorf("case %q: %w", tc.Name, err)
		}
		v, err := c.Validate(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("case %q: %w", tc.Name, err)
		}
		r := CaseResult{Name: tc.Name, Verdict: v, Failures: tc.Expect.check(v)}
		r.Passed = len(r.Failures) == 0
		out = append(out, r)
	}
	return out, nil
}

// check lists every way v misses the expectation.
func (e Expect) check(v roman.Validation) []string {
	var fails []string
	if e.Compliant != nil && *e.Compliant != v.Compliant {
		fails = append(fails, fmt.Sprintf("compliant is %t, want %t", v.Compliant, *e.Compliant))
	}
	contains := func(kind string, want, got []string) {
		for _, w := range want {
			if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, w) }) {
				fails = append(fails, fmt.Sprintf("no %s contains %q (%ss: %s)", kind, w, kind, quoteList(got)))
			}
		}
	}
	contains("violation", e.Violations, v.Violations)
	contains("warning", e.Warnings, v.Warnings)
	for _, r := range e.Rules {
		if !slices.Contains(v.Rules, r) {
			fails = append(fails, fmt.Sprintf("rule %q produced no finding (rules that did: %s)", r, quoteList(v.Rules)))
		}
	}
	return fails
}

func quoteList(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
