package policy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/policy"
)

// TestExampleCases runs the example constitution and case file that
// docs/constitution.md shows: every case passes.
func TestExampleCases(t *testing.T) {
	c, err := policy.Load("testdata/freeze.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cf, err := policy.LoadCases("testdata/freeze_cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	results, err := c.RunCases(context.Background(), cf)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 7 {
		t.Fatalf("%d results", len(results))
	}
	for _, r := range results {
		if !r.Passed {
			t.Errorf("%s: %q (verdict %+v)", r.Name, r.Failures, r.Verdict)
		}
	}
}

func TestFailingCases(t *testing.T) {
	c, err := policy.Load("testdata/freeze.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cf, err := policy.LoadCases("testdata/failing_cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	results, err := c.RunCases(context.Background(), cf)
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Passed || !results[1].Passed || len(results[0].Failures) != 1 || results[0].Failures[0] != "compliant is false, want true" {
		t.Fatalf("%+v", results)
	}
}

func TestExpectations(t *testing.T) {
	c := policy.MustDefault()
	run := func(t *testing.T, file string) policy.CaseResult {
		t.Helper()
		cf, err := policy.ParseCases("cases.yaml", []byte(file))
		if err != nil {
			t.Fatal(err)
		}
		rs, err := c.RunCases(context.Background(), cf)
		if err != nil {
			t.Fatal(err)
		}
		return rs[0]
	}
	r := run(t, `
cases:
  - name: wrong everything
    input: {target: null}
    expect:
      compliant: true
      violations: ["No valid rollback target", "Law of Inhabitance"]
      warnings: ["nothing like this"]
      rules: [target, inhabitance]
`)
	want := []string{
		"compliant is false, want true",
		`no violation contains "Law of Inhabitance" (violations: "No valid rollback target found")`,
		`no warning contains "nothing like this" (warnings: "System already stable: error rate 0/minute")`,
		`rule "inhabitance" produced no finding (rules that did: "stability_manual", "target")`,
	}
	if r.Passed || strings.Join(r.Failures, "\n") != strings.Join(want, "\n") {
		t.Fatalf("failures:\n%s\nwant:\n%s", strings.Join(r.Failures, "\n"), strings.Join(want, "\n"))
	}
}

// TestCaseInput checks how a case's input is built: base, then defaults,
// then the case; maps merge, null replaces, entropy is derived.
func TestCaseInput(t *testing.T) {
	in, err := policy.CaseInput(
		map[string]any{"environment": "staging", "health": map[string]any{"recent_errors": 7}},
		map[string]any{"target": nil, "now": time.Date(2025, 12, 19, 9, 0, 0, 0, time.UTC), "health": map[string]any{"error_rate_per_minute": 2.5}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if in.Environment != "staging" || in.Deployment.Environment != "staging" || in.Target != nil ||
		in.Health.ErrorRatePerMinute != 2.5 || in.Health.RecentErrors != 7 || in.Entropy != 0.5 ||
		!in.Now.Equal(time.Date(2025, 12, 19, 9, 0, 0, 0, time.UTC)) || in.Action != roman.RollbackProfile("policy test") ||
		in.Trigger != roman.TriggerManual || !in.Database.Consistent || in.Thresholds != roman.DefaultThresholds() {
		t.Fatalf("%+v", in)
	}
	in, err = policy.CaseInput(nil, map[string]any{"entropy": 0.9})
	if err != nil || in.Entropy != 0.9 || in.Target == nil || in.Environment != "production" {
		t.Fatalf("%+v %v", in, err)
	}
}

func TestParseCasesErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"", "no cases"},
		{"cases: []\n", "no cases"},
		{"cases:\n  - name: a\n    input: {}\n", `case "a" expects nothing`},
		{"cases:\n  - input: {}\n    expect: {compliant: true}\n", "case #1 has no name"},
		{"cases:\n  - name: a\n    expect: {compliant: true}\n  - name: a\n    expect: {compliant: true}\n", `two cases are named "a"`},
		{"cases:\n  - name: a\n    input: {enviroment: x}\n    expect: {compliant: true}\n", `unknown field "enviroment"`},
		{"cases:\n  - name: a\n    input: {health: {error_rate: 3}}\n    expect: {compliant: true}\n", `unknown field "error_rate"`},
		{"cases:\n  - name: a\n    input: {now: tomorrow}\n    expect: {compliant: true}\n", `case "a": input`},
		{"cases:\n  - name: a\n    expect: {compliant: true, violation: [x]}\n", "field violation not found"},
	} {
		_, err := policy.ParseCases("cases.yaml", []byte(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "cases.yaml") {
			t.Errorf("%q: got %v, want %q", tc.file, err, tc.want)
		}
	}
}
