package policy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/policy"
)

// input returns the base case input (a manual rollback of a healthy
// production deployment with a target) changed by fn.
func input(fn func(in *roman.ValidationInput)) roman.ValidationInput {
	in := policy.BaseCaseInput()
	if fn != nil {
		fn(&in)
	}
	return in
}

// spike makes the system unhealthy the way the monitor sees a bad deploy.
func spike(in *roman.ValidationInput) {
	in.Health = roman.EvaluateHealth(roman.HealthInputs{ErrorsLastMinute: 9, ErrorsLast5Minutes: 9}, in.Thresholds, in.Now)
	in.Entropy = in.Health.Entropy(in.Thresholds)
}

func calm(rate float64) func(in *roman.ValidationInput) {
	return func(in *roman.ValidationInput) {
		in.Health.ErrorRatePerMinute = rate
		in.Entropy = in.Health.Entropy(in.Thresholds)
	}
}

func validate(t *testing.T, c *policy.Constitution, in roman.ValidationInput) roman.Validation {
	t.Helper()
	v, err := c.Validate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if v.Compliant != (len(v.Violations) == 0) {
		t.Fatalf("compliant %t with violations %q", v.Compliant, v.Violations)
	}
	if len(v.Results) != len(v.Violations)+len(v.Warnings) || len(v.Rules) != len(v.Results) {
		t.Fatalf("results %+v do not account for violations %q and warnings %q", v.Results, v.Violations, v.Warnings)
	}
	for i, r := range v.Results {
		if v.Rules[i] != r.Rule {
			t.Fatalf("rules %q out of step with results %+v", v.Rules, v.Results)
		}
	}
	return v
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, content string) *policy.Constitution {
	t.Helper()
	c, err := policy.Load(writeFile(t, content))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDefaultRules is the table of the built-in default rules: for each rule
// an input that satisfies it and one that does not, with the exact message,
// the rule name and the severity.
func TestDefaultRules(t *testing.T) {
	c := policy.MustDefault()
	automatic := func(in *roman.ValidationInput) { in.Trigger = roman.TriggerAutomatic }
	both := func(fns ...func(*roman.ValidationInput)) func(*roman.ValidationInput) {
		return func(in *roman.ValidationInput) {
			for _, fn := range fns {
				fn(in)
			}
		}
	}
	for _, tc := range []struct {
		name     string
		in       roman.ValidationInput
		rule     string // "" when no rule may fire
		severity string
		message  string
	}{
		{"seed profile, spike, automatic: approved", input(both(spike, automatic)), "", "", ""},
		{"seed profile, spike, manual: approved", input(spike), "", "", ""},

		{"1 inhabitance: risk 0 passes", input(both(spike, func(in *roman.ValidationInput) { in.Action.RiskToLife = 0 })), "", "", ""},
		{"1 inhabitance: risk 0.5 rejects", input(both(spike, func(in *roman.ValidationInput) { in.Action.RiskToLife = 0.5 })),
			policy.RuleInhabitance, "violation", "Law of Inhabitance violated: risk_to_life must be 0, got 0.5"},

		{"2 harmonic attraction: harmonic_resonance passes", input(spike), "", "", ""},
		{"2 harmonic attraction: another method rejects", input(both(spike, func(in *roman.ValidationInput) { in.Action.MethodType = "forward_fix" })),
			policy.RuleHarmonicAttraction, "violation", "Law of Harmonic Attraction violated: method_type must be harmonic_resonance, got forward_fix"},

		{"3 total coherence: unstable, entropy increase rejects", input(both(spike, func(in *roman.ValidationInput) { in.Action.EntropyIncrease = 0.2 })),
			policy.RuleTotalCoherence, "violation", policy.MsgTotalCoherence},
		{"3 total coherence: unstable, entropy decrease passes", input(both(spike, func(in *roman.ValidationInput) { in.Action.EntropyIncrease = -0.1 })), "", "", ""},
		{"3 total coherence: entropy 0.1 is not unstable", input(both(calm(0.5), func(in *roman.ValidationInput) {
			in.Health.Reason = "Database connection utilization at 93%"
			in.Action.EntropyIncrease = 0.2
		})), "", "", ""},

		{"4 structural integrity: 1.62 passes", input(both(spike, func(in *roman.ValidationInput) { in.Action.GeometricRatio = 1.62 })), "", "", ""},
		{"4 structural integrity: 1.5 rejects", input(both(spike, func(in *roman.ValidationInput) { in.Action.GeometricRatio = 1.5 })),
			policy.RuleStructuralIntegrity, "violation", "Law of Structural Integrity violated: geometric_ratio must be within 0.01 of 1.618, got 1.5"},
		{"4 structural integrity: 1.63 rejects", input(both(spike, func(in *roman.ValidationInput) { in.Action.GeometricRatio = 1.63 })),
			policy.RuleStructuralIntegrity, "violation", "Law of Structural Integrity violated: geometric_ratio must be within 0.01 of 1.618, got 1.63"},

		{"5 stability: automatic, stable rejects", input(both(automatic, calm(0.2))),
			policy.RuleStabilityAutomatic, "violation", "System already stable: error rate 0.2/minute"},
		{"5 stability: manual, stable warns", input(calm(0.2)),
			policy.RuleStabilityManual, "warning", "System already stable: error rate 0.2/minute"},
		{"5 stability: constitutional_violation trigger, stable warns", input(both(calm(0), func(in *roman.ValidationInput) { in.Trigger = roman.TriggerConstitutionalViolation })),
			policy.RuleStabilityManual, "warning", "System already stable: error rate 0/minute"},
		{"5 stability: automatic, elevated rate (1-5/min) is not stable", input(both(automatic, calm(2))), "", "", ""},
		{"5 stability: automatic, DB-connection trigger with no errors is not stable", input(both(automatic, calm(0), func(in *roman.ValidationInput) {
			in.Health.Reason = "Database connection utilization at 93%"
		})), "", "", ""},
		{"5 stability: automatic, error-rate trigger is not stable", input(both(automatic, spike)), "", "", ""},
		{"5 stability: the warning rate comes from the environment's thresholds", input(both(automatic, calm(2), func(in *roman.ValidationInput) {
			in.Thresholds.WarnErrorRate = 3
		})), policy.RuleStabilityAutomatic, "violation", "System already stable: error rate 2/minute"},

		{"6 target: present passes", input(spike), "", "", ""},
		{"6 target: none rejects", input(both(spike, func(in *roman.ValidationInput) { in.Target = nil })),
			policy.RuleTarget, "violation", policy.MsgNoTarget},

		{"7 database: consistent passes", input(spike), "", "", ""},
		{"7 database: inconsistent rejects", input(both(spike, func(in *roman.ValidationInput) {
			in.Database = roman.DatabaseState{Reason: "migration 0042_add_index failed: timeout"}
		})), policy.RuleDatabaseConsistency, "violation", policy.MsgDatabaseInconsist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := validate(t, c, tc.in)
			if tc.rule == "" {
				if !v.Compliant || len(v.Warnings) != 0 {
					t.Fatalf("want a clean approval, got %+v", v)
				}
				return
			}
			if len(v.Results) != 1 {
				t.Fatalf("want exactly rule %s, got %+v", tc.rule, v.Results)
			}
			r := v.Results[0]
			if r.Rule != tc.rule || r.Severity != tc.severity || r.Message != tc.message || r.Law == "" {
				t.Fatalf("got %+v, want rule %s %s %q", r, tc.rule, tc.severity, tc.message)
			}
			want := v.Warnings
			if tc.severity == "violation" {
				want = v.Violations
			}
			if !slices.Equal(want, []string{tc.message}) || v.Compliant != (tc.severity == "warning") {
				t.Fatalf("verdict %+v", v)
			}
		})
	}
}

// TestSeedRejectionMessage reproduces the seed's constitutional rejection
// example: an action that increases entropy while the system is unstable.
func TestSeedRejectionMessage(t *testing.T) {
	v := validate(t, policy.MustDefault(), input(func(in *roman.ValidationInput) {
		spike(in)
		in.Trigger = roman.TriggerAutomatic
		in.Action.EntropyIncrease = 0.3
	}))
	if v.Compliant || !slices.Equal(v.Violations, []string{"Law of Total Coherence violated: Cannot increase entropy when system unstable"}) {
		t.Fatalf("%+v", v)
	}
}

// TestOverride checks that an override turns violations into warnings,
// except the target rule's, and says so in the verdict.
func TestOverride(t *testing.T) {
	c := policy.MustDefault()
	t.Run("everything but the target is overridden", func(t *testing.T) {
		v := validate(t, c, input(func(in *roman.ValidationInput) {
			in.Override = true
			in.Target = nil
			in.Database = roman.DatabaseState{Reason: "rollback of migration x failed"}
			in.Action.RiskToLife = 1
		}))
		if v.Compliant || !v.Override || !slices.Equal(v.Violations, []string{policy.MsgNoTarget}) {
			t.Fatalf("the target violation must survive an override: %+v", v)
		}
		if !slices.Contains(v.Warnings, policy.MsgDatabaseInconsist) || !slices.Contains(v.Rules, policy.RuleInhabitance) {
			t.Fatalf("overridden violations must be warnings: %+v", v)
		}
		for _, r := range v.Results {
			overridable := r.Rule != policy.RuleTarget && r.Rule != policy.RuleStabilityManual
			if r.Overridden != overridable {
				t.Errorf("%s: overridden %t", r.Rule, r.Overridden)
			}
		}
	})
	t.Run("overridable violations only: approved", func(t *testing.T) {
		v := validate(t, c, input(func(in *roman.ValidationInput) {
			spike(in)
			in.Override = true
			in.Database = roman.DatabaseState{Reason: "migration failed"}
		}))
		if !v.Compliant || !v.Override || !slices.Equal(v.Warnings, []string{policy.MsgDatabaseInconsist}) {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("without override the same input is rejected", func(t *testing.T) {
		v := validate(t, c, input(func(in *roman.ValidationInput) {
			spike(in)
			in.Database = roman.DatabaseState{Reason: "migration failed"}
		}))
		if v.Compliant || v.Override || v.Results[0].Overridden {
			t.Fatalf("%+v", v)
		}
	})
}

// freezeRules are user rules: a Friday production freeze for automatic
// rollbacks, and "production needs a human".
const freezeRules = `
rules:
  - name: production_freeze
    law: Change freeze
    description: No automatic changes to production on Fridays (UTC).
    when: environment == "production" && trigger == "automatic"
    require: now.getDayOfWeek() != 5
    severity: violation
    message: "Production freeze: no automatic rollback on {{ now }}; a human must decide"
  - name: berlin_friday_warning
    when: environment == "production"
    require: now.getDayOfWeek("Europe/Berlin") != 5
    severity: warning
    message: "It is Friday in Berlin"
`

func TestUserRuleFreezeWindow(t *testing.T) {
	c := load(t, freezeRules)
	friday := time.Date(2025, 12, 19, 14, 0, 0, 0, time.UTC)
	thursday := friday.Add(-24 * time.Hour)
	lateThursdayUTC := time.Date(2025, 12, 18, 23, 30, 0, 0, time.UTC) // Friday 00:30 in Berlin
	at := func(now time.Time, trigger, env string) roman.ValidationInput {
		return input(func(in *roman.ValidationInput) {
			spike(in)
			in.Now, in.Trigger, in.Environment = now, trigger, env
		})
	}
	t.Run("Friday automatic production rollback is blocked", func(t *testing.T) {
		v := validate(t, c, at(friday, roman.TriggerAutomatic, "production"))
		if v.Compliant || !slices.Equal(v.Rules, []string{"production_freeze", "berlin_friday_warning"}) ||
			v.Violations[0] != "Production freeze: no automatic rollback on 2025-12-19T14:00:00Z; a human must decide" {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("Friday manual rollback passes with a warning", func(t *testing.T) {
		v := validate(t, c, at(friday, roman.TriggerManual, "production"))
		if !v.Compliant || !slices.Equal(v.Warnings, []string{"It is Friday in Berlin"}) {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("Friday staging is not frozen", func(t *testing.T) {
		if v := validate(t, c, at(friday, roman.TriggerAutomatic, "staging")); !v.Compliant || len(v.Warnings) != 0 {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("Thursday is not frozen", func(t *testing.T) {
		if v := validate(t, c, at(thursday, roman.TriggerAutomatic, "production")); !v.Compliant || len(v.Warnings) != 0 {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("time zones: late Thursday UTC is Friday in Berlin", func(t *testing.T) {
		v := validate(t, c, at(lateThursdayUTC, roman.TriggerAutomatic, "production"))
		if !v.Compliant || !slices.Equal(v.Rules, []string{"berlin_friday_warning"}) {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("an override lifts the freeze", func(t *testing.T) {
		in := at(friday, roman.TriggerManual, "production")
		in.Override = true
		if v := validate(t, c, in); !v.Compliant {
			t.Fatalf("%+v", v)
		}
	})
}

func TestUserRuleProductionNeedsAHuman(t *testing.T) {
	c := load(t, `
rules:
  - name: production_needs_a_human
    law: Four eyes
    when: environment == "production"
    require: trigger != "automatic" && initiated_by != ""
    overridable: false
    message: "Production rollbacks need a named human (initiated_by); trigger was {{ trigger }}"
`)
	for _, tc := range []struct {
		trigger, by, env string
		ok               bool
	}{
		{roman.TriggerAutomatic, "", "production", false},
		{roman.TriggerManual, "", "production", false},
		{roman.TriggerManual, "0b6c3c52-4a8e-4c55-9d0e-2f4f7a1d8e11", "production", true},
		{roman.TriggerAutomatic, "", "staging", true},
	} {
		in := input(func(in *roman.ValidationInput) {
			spike(in)
			in.Trigger, in.InitiatedBy, in.Environment = tc.trigger, tc.by, tc.env
			in.Override = true // not overridable: an override changes nothing
		})
		v := validate(t, c, in)
		if v.Compliant != tc.ok {
			t.Errorf("%+v: got %+v", tc, v)
		}
		if !tc.ok && !strings.HasPrefix(v.Violations[0], "Production rollbacks need a named human (initiated_by); trigger was "+tc.trigger) {
			t.Errorf("message: %q", v.Violations[0])
		}
	}
}

func TestDisable(t *testing.T) {
	c := load(t, "disable: [stability_manual, stability_automatic]\n")
	if got := c.Disabled(); !slices.Equal(got, []string{"stability_manual", "stability_automatic"}) {
		t.Fatalf("disabled %q", got)
	}
	for _, r := range c.Rules() {
		if strings.HasPrefix(r.Name, "stability") {
			t.Fatalf("disabled rule %s still effective", r.Name)
		}
	}
	v := validate(t, c, input(func(in *roman.ValidationInput) { in.Trigger = roman.TriggerAutomatic }))
	if !v.Compliant || len(v.Warnings) != 0 {
		t.Fatalf("a stable system passes once stability is disabled: %+v", v)
	}
}

// TestRules checks the effective rule list: defaults in file order, then the
// user's, each with its source; and that without a file only the built-in
// defaults apply.
func TestRules(t *testing.T) {
	p := writeFile(t, freezeRules)
	c, err := policy.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range c.Rules() {
		names = append(names, r.Name)
		wantSource := policy.DefaultSource
		if strings.Contains(r.Name, "friday") || strings.Contains(r.Name, "freeze") {
			wantSource = p
		}
		if r.Source != wantSource || r.Require == "" || r.Message == "" || (r.Severity != "violation" && r.Severity != "warning") {
			t.Errorf("rule %+v", r)
		}
		if r.Name == policy.RuleTarget && r.Overridable || r.Name == policy.RuleInhabitance && !r.Overridable {
			t.Errorf("overridable wrong on %+v", r)
		}
	}
	want := []string{"inhabitance", "harmonic_attraction", "total_coherence", "structural_integrity",
		"stability_automatic", "stability_manual", "target", "database_consistency", "production_freeze", "berlin_friday_warning"}
	if !slices.Equal(names, want) {
		t.Fatalf("rules %q, want %q", names, want)
	}
	if c.File() != p {
		t.Fatalf("file %q", c.File())
	}
	if d, _ := policy.Load(""); len(d.Rules()) != 8 || d.File() != "" {
		t.Fatalf("defaults: %d rules", len(d.Rules()))
	}
}

// TestLoadErrors: every way a file can be wrong stops the load with the
// file, the rule and the CEL error.
func TestLoadErrors(t *testing.T) {
	rule := func(body string) string {
		return "rules:\n  - name: mine\n" + body
	}
	for _, tc := range []struct {
		name, file string
		rule       string // the rule the error must name; "" for none
		want       []string
	}{
		{"undeclared variable", rule("    require: enviroment == \"production\"\n    message: x\n"), "mine",
			[]string{"require", "undeclared reference to 'enviroment'"}},
		{"misspelt field of a map variable", rule("    require: health.eror_rate_per_minute < 1.0\n    message: x\n"), "mine",
			[]string{"require", `undefined field "eror_rate_per_minute" of health`}},
		{"misspelt field in has()", rule("    require: has(target.verison)\n    message: x\n"), "mine",
			[]string{`undefined field "verison" of target`}},
		{"misspelt field indexed", rule("    require: action[\"risk\"] == 0.0\n    message: x\n"), "mine",
			[]string{`undefined field "risk" of action`}},
		{"misspelt field in when", rule("    when: database.consistnt\n    require: true\n    message: x\n"), "mine",
			[]string{"when", `undefined field "consistnt" of database`}},
		{"syntax error", rule("    require: entropy >\n    message: x\n"), "mine", []string{"require", "Syntax error"}},
		{"type error", rule("    require: entropy + \"x\" == 1.0\n    message: x\n"), "mine", []string{"require", "no matching overload"}},
		{"require not a bool", rule("    require: entropy * 2.0\n    message: x\n"), "mine", []string{"require", "must be a bool expression, is double"}},
		{"no require", rule("    message: x\n"), "mine", []string{"require", "missing"}},
		{"no message", rule("    require: true\n"), "mine", []string{"message", "missing"}},
		{"bad severity", rule("    require: true\n    severity: fatal\n    message: x\n"), "mine", []string{"severity", `"fatal"`}},
		{"message expression error", rule("    require: true\n    message: \"got {{ action.nope }}\"\n"), "mine",
			[]string{"message", `undefined field "nope" of action`}},
		{"message unclosed", rule("    require: true\n    message: \"got {{ entropy\"\n"), "mine", []string{"message", `"{{" without "}}"`}},
		{"message stray close", rule("    require: true\n    message: \"got }}\"\n"), "mine", []string{"message", `"}}" without "{{"`}},
		{"user rule named like a default", "rules:\n  - name: target\n    require: true\n    message: x\n", "target", []string{"a default rule has this name"}},
		{"duplicate user rules", rule("    require: true\n    message: x\n  - name: mine\n    require: true\n    message: y\n"), "mine", []string{"two rules have this name"}},
		{"bad name", "rules:\n  - name: My Rule\n    require: true\n    message: x\n", "My Rule", []string{"must match"}},
		{"no name", "rules:\n  - require: true\n    message: x\n", "", []string{"rule #1 has no name"}},
		{"unknown rule key", rule("    requires: true\n    message: x\n"), "", []string{"field requires not found"}},
		{"unknown top-level key", "rulez: []\n", "", []string{"field rulez not found"}},
		{"disable an unknown rule", "disable: [stabilty]\n", "", []string{"disable", `"stabilty" is not a default rule`}},
		{"not YAML", "rules: [\n", "", []string{"invalid YAML"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.file)
			c, err := policy.Load(p)
			if err == nil {
				t.Fatalf("loaded %d rules", len(c.Rules()))
			}
			var le *policy.LoadError
			if !errors.As(err, &le) || le.File != p || le.Rule != tc.rule {
				t.Fatalf("want a LoadError for file %s rule %q, got %#v", p, tc.rule, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "constitution "+p) || tc.rule != "" && !strings.Contains(msg, `rule "`+tc.rule+`"`) {
				t.Errorf("error %q must name the file and the rule", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := policy.Load(filepath.Join(t.TempDir(), "nope.yaml"))
		var le *policy.LoadError
		if !errors.As(err, &le) || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("empty file adds nothing", func(t *testing.T) {
		if c := load(t, ""); len(c.Rules()) != 8 {
			t.Fatalf("%d rules", len(c.Rules()))
		}
	})
}

// TestEvaluationErrorsFailClosed: a rule that cannot be evaluated is a
// violation naming it; the other rules still run, and nothing panics.
func TestEvaluationErrorsFailClosed(t *testing.T) {
	c := load(t, `
rules:
  - name: slow_responses
    # p95 is null when no source measures it: comparing null with a number
    # is an evaluation error.
    require: health.p95_response_time_ms < 5000.0
    severity: warning
    message: slow
  - name: metadata_ticket
    require: deployment.metadata.ticket != ""
    message: no ticket
  - name: guarded
    require: health.p95_response_time_ms == null || health.p95_response_time_ms < 10000.0
    message: guarded
`)
	v := validate(t, c, input(spike))
	if v.Compliant || !slices.Equal(v.Rules, []string{"slow_responses", "metadata_ticket"}) {
		t.Fatalf("%+v", v)
	}
	for _, r := range v.Results {
		if r.Severity != "violation" || r.Error == "" || !strings.Contains(r.Message, `Rule "`+r.Rule+`" could not be evaluated`) {
			t.Errorf("%+v", r)
		}
	}
	if !strings.Contains(v.Results[1].Error, "no such key") {
		t.Errorf("want the CEL error, got %q", v.Results[1].Error)
	}
	// With the signal measured, the same rules evaluate normally.
	v = validate(t, c, input(func(in *roman.ValidationInput) {
		spike(in)
		p95 := 6000.0
		in.Health.P95ResponseTimeMS = &p95
		in.Deployment.Metadata = []byte(`{"ticket":"OPS-1"}`)
	}))
	if !v.Compliant || !slices.Equal(v.Warnings, []string{"slow"}) {
		t.Fatalf("%+v", v)
	}
	// An admin override covers an overridable broken rule too.
	v = validate(t, c, input(func(in *roman.ValidationInput) { spike(in); in.Override = true }))
	if !v.Compliant || len(v.Warnings) != 2 || !v.Results[0].Overridden {
		t.Fatalf("%+v", v)
	}
}

// TestCostLimit: a rule that would run for a long time is stopped by the
// cost limit and fails closed instead of hanging the request.
func TestCostLimit(t *testing.T) {
	c := load(t, `
rules:
  - name: expensive
    require: >-
      [1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c,
      [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f,
      [1,2,3,4,5,6,7,8,9,10].all(g, [1,2,3,4,5,6,7,8,9,10].all(h, a+b+c+d+e+f+g+h > 0))))))))
    message: expensive
`)
	v := validate(t, c, input(spike))
	if v.Compliant || len(v.Results) != 1 || !strings.Contains(v.Results[0].Error, "cost limit exceeded") {
		t.Fatalf("%+v", v)
	}
	cheap, err := policy.Load(writeFile(t, "rules:\n  - name: list\n    require: '[1,2,3].all(x, x > 0)'\n    message: x\n"), policy.WithCostLimit(5))
	if err != nil {
		t.Fatal(err)
	}
	if v := validate(t, cheap, input(spike)); v.Compliant {
		t.Fatalf("a limit of 5 must stop even a small comprehension: %+v", v)
	}
}

func TestValidateCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := policy.MustDefault().Validate(ctx, input(spike))
	if roman.ErrorCode(err) != roman.EINTERNAL {
		t.Fatalf("%v", err)
	}
}

// TestVariables checks every CEL variable and field a rule can use is there
// with its type, and that null signals can be tested.
func TestVariables(t *testing.T) {
	c := load(t, `
rules:
  - name: types
    require: >-
      type(action.method_type) == string && type(action.risk_to_life) == double &&
      type(action.entropy_increase) == double && type(action.geometric_ratio) == double &&
      type(action.target_frequency) == double && action.description.startsWith("Rollback deployment: ") &&
      type(trigger) == string && type(environment) == string && type(entropy) == double &&
      type(initiated_by) == string && type(override) == bool && type(now) == google.protobuf.Timestamp &&
      type(database.consistent) == bool && type(database.reason) == string &&
      type(deployment.deployed_at) == google.protobuf.Timestamp && deployment.version == "v2.5.3" &&
      deployment.rollback_from == null && deployment.metadata == null &&
      target.version == "v2.5.2" && target.health_check_passed &&
      type(health.error_rate_per_minute) == double && type(health.recent_errors) == int &&
      health.database_connections == null && has(health.database_connections) &&
      health.memory_usage_percent != null && health.memory_usage_percent > 50.0 &&
      health.warnings.size() == 0 && health.unknown.size() == 0 && health.reason == "" &&
      type(health.timestamp) == google.protobuf.Timestamp &&
      thresholds.error_rate == 5.0 && thresholds.warn_error_rate == 1.0 &&
      now - deployment.deployed_at == duration("35m")
    message: "types: {{ entropy }} {{ target.version }} {{ health.database_connections }} {{ now }} {{ health.warnings }} {{ \"{{\" }}"
  - name: render
    require: "false"
    severity: warning
    message: "{{ entropy }}|{{ health.recent_errors }}|{{ health.database_connections }}|{{ now }}|{{ health.warnings }}|{{ \"{{\" }}|{{ rate(8.25) }}|{{ rate(9) }}|{{ errors_per_minute(1) }}|{{ errors_per_minute(0.96) }}|{{ errors_per_minute(8.5) }}|{{ errors_per_minute(0) }}|{{ now - deployment.deployed_at }}|{{ target.metadata }}"
`)
	v := validate(t, c, input(func(in *roman.ValidationInput) {
		mem := 60.0
		in.Health.MemoryUsagePercent = &mem
		in.Entropy = 0.25
		in.Target.Metadata = []byte(`{"pr":42}`)
	}))
	want := `0.25|0|null|2025-12-15T14:35:00Z|[]|{{|8.3|9|1 error/minute|1 error/minute|8.5 errors/minute|0 errors/minute|35m0s|{"pr":42}`
	if !slices.Equal(v.Rules, []string{"stability_manual", "render"}) || v.Warnings[1] != want {
		t.Fatalf("got %+v\nwant warning %q", v, want)
	}
	var names []string
	for _, vr := range policy.Variables() {
		names = append(names, vr.Name)
	}
	want2 := []string{"action", "trigger", "deployment", "target", "environment", "health", "thresholds", "entropy", "database", "initiated_by", "override", "now", "judgement"}
	if !slices.Equal(names, want2) {
		t.Fatalf("variables %q", names)
	}
}

func TestConcurrentValidate(t *testing.T) {
	c := load(t, freezeRules)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				v, err := c.Validate(context.Background(), input(calm(0.2)))
				if err != nil || !v.Compliant || len(v.Warnings) != 1 {
					t.Errorf("%+v %v", v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestDefaultConstitutionText(t *testing.T) {
	text := string(policy.DefaultConstitution())
	for _, msg := range []string{policy.MsgTotalCoherence, policy.MsgNoTarget, policy.MsgDatabaseInconsist, "System already stable: error rate"} {
		if !strings.Contains(text, msg) {
			t.Errorf("default.yaml lacks %q", msg)
		}
	}
}

// TestJudgementVariable checks that rules see the judge's verdict and
// evidence, and that a misspelt field of judgement fails at load.
func TestJudgementVariable(t *testing.T) {
	c := load(t, `rules:
  - name: needs_regression
    law: Judged rollbacks
    when: trigger == "automatic" && judgement.judge == "baseline"
    require: judgement.verdict == "fail" && judgement.e_value >= judgement.limits.e_value_threshold
    severity: violation
    message: "judge says {{ judgement.verdict }}: {{ judgement.why }}"
`)
	ratio := 47.0
	j := &roman.Judgement{Judge: roman.JudgeBaseline, Verdict: roman.VerdictInconclusive, Why: "Why: 9 errors", EValue: 3, Ratio: &ratio,
		Limits: roman.JudgementLimits{EValueThreshold: 100}}
	v := validate(t, c, input(func(in *roman.ValidationInput) { in.Trigger = roman.TriggerAutomatic; in.Judgement = j }))
	if !slices.Contains(v.Violations, "judge says inconclusive: Why: 9 errors") {
		t.Fatalf("violations %q", v.Violations)
	}
	j.Verdict, j.EValue = roman.VerdictFail, 500
	v = validate(t, c, input(func(in *roman.ValidationInput) { in.Trigger = roman.TriggerAutomatic; in.Judgement = j }))
	if slices.Contains(v.Rules, "needs_regression") && len(v.Violations) > 0 && strings.Contains(strings.Join(v.Violations, ";"), "judge says") {
		t.Fatalf("a significant regression should pass: %+v", v)
	}
	// No judgement: the rule's condition is false (judge is "").
	v = validate(t, c, input(func(in *roman.ValidationInput) { in.Trigger = roman.TriggerAutomatic }))
	if strings.Contains(strings.Join(v.Violations, ";"), "judge says") {
		t.Fatalf("no judgement: %+v", v)
	}
	if _, err := policy.Load(writeFile(t, "rules:\n  - name: x\n    law: x\n    require: judgement.verdikt == \"fail\"\n    severity: violation\n    message: x\n")); err == nil || !strings.Contains(err.Error(), "verdikt") {
		t.Errorf("misspelt field: %v", err)
	}
}
