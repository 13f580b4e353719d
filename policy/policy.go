// Package policy holds roman's constitution: the rules every rollback is
// validated against before anything changes.
//
// Rules are data. A constitution is a YAML list of named rules, each a CEL
// expression (cel-go) over the validation input, with a law, an optional
// `when`, a `require`, a severity and a message template. The default rules
// (the seven default rules) are embedded from default.yaml; a user file adds rules
// and switches a default off only by naming it under `disable:`. Everything
// is parsed, type-checked and compiled once by Load, so a bad file stops the
// server at start and never fails a request.
package policy

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"gopkg.in/yaml.v3"

	"github.com/odyssey-1/roman"
)

// defaultYAML is the embedded default constitution.
//
//go:embed default.yaml
var defaultYAML []byte

// DefaultConstitution returns a copy of the embedded default constitution's
// YAML text.
func DefaultConstitution() []byte { return slices.Clone(defaultYAML) }

// DefaultSource names the embedded defaults in rule sources and errors.
const DefaultSource = "default"

// Rule names of the default rules.
const (
	RuleInhabitance         = "inhabitance"
	RuleHarmonicAttraction  = "harmonic_attraction"
	RuleTotalCoherence      = "total_coherence"
	RuleStructuralIntegrity = "structural_integrity"
	RuleStabilityAutomatic  = "stability_automatic"
	RuleStabilityManual     = "stability_manual"
	RuleTarget              = "target"
	RuleDatabaseConsistency = "database_consistency"
)

// Exact messages of default rules.
const (
	MsgTotalCoherence    = "Law of Total Coherence violated: Cannot increase entropy when system unstable"
	MsgNoTarget          = "No valid rollback target found"
	MsgDatabaseInconsist = "Database in inconsistent state: manual intervention required"
)

// Severities of a rule.
const (
	SeverityViolation = "violation"
	SeverityWarning   = "warning"
)

// DefaultCostLimit bounds the work of evaluating one expression, in CEL cost
// units (roughly one per operation and per element a comprehension visits).
// The default rules cost under 20; the limit is there so that a user rule
// such as a nested map over a large list cannot hang a request: it stops
// with an error and, like any evaluation error, counts as a violation.
const DefaultCostLimit = 100_000

// Rule is one effective rule of a constitution.
type Rule struct {
	// Name identifies the rule in verdicts, the audit log and `disable:`.
	Name string `json:"name"`
	// Law is the law or concern the rule enforces.
	Law string `json:"law,omitempty"`
	// Description says in plain words what the rule checks.
	Description string `json:"description,omitempty"`
	// When is an optional CEL condition: the rule applies only when it is
	// true.
	When string `json:"when,omitempty"`
	// Require is the CEL condition the rollback must satisfy.
	Require string `json:"require"`
	// Severity is SeverityViolation (rejects) or SeverityWarning.
	Severity string `json:"severity"`
	// Overridable says whether an admin override turns a violation of this
	// rule into a warning.
	Overridable bool `json:"overridable"`
	// Message is the template of the text reported when Require is false.
	Message string `json:"message"`
	// Source is DefaultSource or the path of the user file.
	Source string `json:"source"`
}

// ruleSpec is a rule as written in a constitution file.
type ruleSpec struct {
	Name        string `yaml:"name"`
	Law         string `yaml:"law"`
	Description string `yaml:"description"`
	When        string `yaml:"when"`
	Require     string `yaml:"require"`
	Severity    string `yaml:"severity"`
	Overridable *bool  `yaml:"overridable"`
	Message     string `yaml:"message"`
}

// fileSpec is a constitution file.
type fileSpec struct {
	Rules   []ruleSpec `yaml:"rules"`
	Disable []string   `yaml:"disable"`
}

// LoadError is a constitution that cannot be loaded: the file, the rule
// (when the problem is in one) and the field, with the cause, e.g.
//
//	constitution rules.yaml: rule "freeze": require: ERROR: <input>:1:1: undeclared reference to 'enviroment'
type LoadError struct {
	File  string
	Rule  string
	Field string
	Err   error
}

// Error implements error.
func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString("constitution " + e.File)
	if e.Rule != "" {
		fmt.Fprintf(&b, ": rule %q", e.Rule)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *LoadError) Unwrap() error { return e.Err }

// Option configures a constitution.
type Option func(*options)

type options struct {
	costLimit uint64
}

// WithCostLimit sets the per-expression cost limit (default
// DefaultCostLimit).
func WithCostLimit(limit uint64) Option { return func(o *options) { o.costLimit = limit } }

// Constitution is a compiled rule set. It implements roman.Validator and is
// safe for concurrent use.
type Constitution struct {
	rules    []*compiledRule
	disabled []string
	file     string
}

var _ roman.Validator = (*Constitution)(nil)

// compiledRule is a rule with its programs.
type compiledRule struct {
	Rule
	when    cel.Program // nil when the rule always applies
	require cel.Program
	message *message
}

// Default returns the embedded default constitution.
func Default(opts ...Option) (*Constitution, error) { return New("", nil, opts...) }

// MustDefault is Default for callers (tests, tools) that cannot proceed
// without it. The embedded defaults are compiled by this package's tests,
// so it panics only on a broken build.
func MustDefault() *Constitution {
	c, err := Default()
	if err != nil {
		panic(err)
	}
	return c
}

// Load returns the defaults plus the rules of the file at path; an empty
// path gives the defaults alone. Any problem — unreadable file, bad YAML, a
// rule that does not compile — is a *LoadError naming the file and rule.
func Load(path string, opts ...Option) (*Constitution, error) {
	if path == "" {
		return Default(opts...)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &LoadError{File: path, Err: err}
	}
	return New(path, b, opts...)
}

var ruleNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// New compiles the defaults plus a user constitution given as YAML text;
// file names it in errors and rule sources. An empty file adds nothing.
func New(file string, user []byte, opts ...Option) (*Constitution, error) {
	o := options{costLimit: DefaultCostLimit}
	for _, opt := range opts {
		opt(&o)
	}
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("constitution: CEL environment: %w", err)
	}
	defaults, err := parseFile(DefaultSource, defaultYAML)
	if err != nil {
		return nil, err
	}
	if len(defaults.Disable) > 0 {
		return nil, &LoadError{File: DefaultSource, Field: "disable", Err: errors.New("the defaults cannot disable rules")}
	}
	var spec fileSpec
	if file != "" {
		if spec, err = parseFile(file, user); err != nil {
			return nil, err
		}
	}

	c := &Constitution{file: file}
	defaultNames := make(map[string]bool)
	for _, r := range defaults.Rules {
		defaultNames[r.Name] = true
	}
	disabled := make(map[string]bool)
	for _, name := range spec.Disable {
		if !defaultNames[name] {
			return nil, &LoadError{File: file, Field: "disable", Err: fmt.Errorf("%q is not a default rule (defaults: %s)", name, strings.Join(sortedSet(defaultNames), ", "))}
		}
		if !disabled[name] {
			disabled[name] = true
			c.disabled = append(c.disabled, name)
		}
	}
	for _, r := range spec.Rules {
		if defaultNames[r.Name] {
			return nil, &LoadError{File: file, Rule: r.Name, Err: errors.New("a default rule has this name; a default is changed only by disabling it and adding a rule with a new name")}
		}
	}
	for _, r := range defaults.Rules {
		if disabled[r.Name] {
			continue
		}
		cr, err := compileRule(env, DefaultSource, r, o)
		if err != nil {
			return nil, err
		}
		c.rules = append(c.rules, cr)
	}
	for _, r := range spec.Rules {
		cr, err := compileRule(env, file, r, o)
		if err != nil {
			return nil, err
		}
		c.rules = append(c.rules, cr)
	}
	return c, nil
}

// parseFile decodes a constitution strictly: unknown keys are errors (a
// misspelt `requires:` must not silently drop a condition), as are rules
// without a valid, unique name.
func parseFile(file string, data []byte) (fileSpec, error) {
	var spec fileSpec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty file (io.EOF) is an empty constitution.
	if err := dec.Decode(&spec); err != nil && !errors.Is(err, io.EOF) {
		return fileSpec{}, &LoadError{File: file, Err: fmt.Errorf("invalid YAML: %w", err)}
	}
	seen := make(map[string]bool)
	for i, r := range spec.Rules {
		switch {
		case r.Name == "":
			return fileSpec{}, &LoadError{File: file, Err: fmt.Errorf("rule #%d has no name", i+1)}
		case !ruleNameRE.MatchString(r.Name):
			return fileSpec{}, &LoadError{File: file, Rule: r.Name, Field: "name", Err: errors.New("must match [a-z][a-z0-9_-]{0,63}")}
		case seen[r.Name]:
			return fileSpec{}, &LoadError{File: file, Rule: r.Name, Err: errors.New("two rules have this name")}
		}
		seen[r.Name] = true
	}
	return spec, nil
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// compileRule checks and compiles one rule.
func compileRule(env *cel.Env, file string, r ruleSpec, o options) (*compiledRule, error) {
	fail := func(field string, err error) error {
		return &LoadError{File: file, Rule: r.Name, Field: field, Err: err}
	}
	cr := &compiledRule{Rule: Rule{
		Name: r.Name, Law: strings.TrimSpace(r.Law), Description: strings.TrimSpace(r.Description),
		When: strings.TrimSpace(r.When), Require: strings.TrimSpace(r.Require),
		Severity: r.Severity, Overridable: true, Message: r.Message, Source: file,
	}}
	if r.Overridable != nil {
		cr.Overridable = *r.Overridable
	}
	switch cr.Severity {
	case "":
		cr.Severity = SeverityViolation
	case SeverityViolation, SeverityWarning:
	default:
		return nil, fail("severity", fmt.Errorf("%q is not violation or warning", r.Severity))
	}
	if cr.Require == "" {
		return nil, fail("require", errors.New("missing: every rule needs a require expression"))
	}
	if strings.TrimSpace(cr.Message) == "" {
		return nil, fail("message", errors.New("missing: every rule needs a message"))
	}
	compile := func(src string, wantBool bool) (cel.Program, error) {
		checked, iss := env.Compile(src)
		if iss.Err() != nil {
			return nil, iss.Err()
		}
		if err := checkFields(checked.NativeRep()); err != nil {
			return nil, err
		}
		if wantBool {
			if t := checked.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
				return nil, fmt.Errorf("must be a bool expression, is %s", t)
			}
		}
		return env.Program(checked, cel.CostLimit(o.costLimit), cel.InterruptCheckFrequency(100))
	}
	var err error
	if cr.When != "" {
		if cr.when, err = compile(cr.When, true); err != nil {
			return nil, fail("when", err)
		}
	}
	if cr.require, err = compile(cr.Require, true); err != nil {
		return nil, fail("require", err)
	}
	if cr.message, err = parseMessage(cr.Message, func(src string) (cel.Program, error) { return compile(src, false) }); err != nil {
		return nil, fail("message", err)
	}
	return cr, nil
}

// Rules returns the effective rules in evaluation order: the defaults not
// disabled, then the user file's rules.
func (c *Constitution) Rules() []Rule {
	out := make([]Rule, len(c.rules))
	for i, r := range c.rules {
		out[i] = r.Rule
	}
	return out
}

// Disabled returns the default rules the user file disabled.
func (c *Constitution) Disabled() []string { return slices.Clone(c.disabled) }

// File returns the user file's path, or "" for the defaults alone.
func (c *Constitution) File() string { return c.file }

// Validate evaluates every rule against in. A rule that cannot be evaluated
// (a runtime error such as a missing key or a null compared with a number,
// or the cost limit) is a violation naming the rule: the constitution fails
// closed. With in.Override, violations of overridable rules become warnings.
// The error is non-nil only when ctx ends before the verdict is complete.
func (c *Constitution) Validate(ctx context.Context, in roman.ValidationInput) (roman.Validation, error) {
	vars := activation(in)
	v := roman.Validation{Violations: []string{}, Warnings: []string{}, Override: in.Override}
	for _, r := range c.rules {
		res, fired := r.evaluate(ctx, vars, in.Override)
		if !fired {
			continue
		}
		v.Results = append(v.Results, res)
		v.Rules = append(v.Rules, res.Rule)
		if res.Severity == SeverityViolation {
			v.Violations = append(v.Violations, res.Message)
		} else {
			v.Warnings = append(v.Warnings, res.Message)
		}
	}
	if err := ctx.Err(); err != nil {
		return roman.Validation{}, &roman.Error{Code: roman.EINTERNAL, Err: fmt.Errorf("constitution: validation interrupted: %w", err)}
	}
	v.Compliant = len(v.Violations) == 0
	return v, nil
}

// evaluate runs one rule. fired is false when the rule does not apply or is
// satisfied.
func (r *compiledRule) evaluate(ctx context.Context, vars map[string]any, override bool) (res roman.RuleResult, fired bool) {
	defer func() {
		if p := recover(); p != nil {
			res, fired = r.broken("evaluation", fmt.Errorf("panic: %v", p), override), true
		}
	}()
	if r.when != nil {
		ok, err := evalBool(ctx, r.when, vars)
		if err != nil {
			return r.broken("when", err, override), true
		}
		if !ok {
			return res, false
		}
	}
	ok, err := evalBool(ctx, r.require, vars)
	if err != nil {
		return r.broken("require", err, override), true
	}
	if ok {
		return res, false
	}
	res = r.finding(r.Severity, override)
	msg, err := r.message.render(ctx, vars)
	if err != nil {
		msg = fmt.Sprintf("Rule %q failed (its message could not be rendered: %v)", r.Name, err)
		res.Error = "message: " + err.Error()
	}
	res.Message = msg
	return res, true
}

// broken is the fail-closed finding of a rule that could not be evaluated.
func (r *compiledRule) broken(field string, err error, override bool) roman.RuleResult {
	res := r.finding(SeverityViolation, override)
	res.Error = field + ": " + err.Error()
	res.Message = fmt.Sprintf("Rule %q could not be evaluated (%s: %v); failing closed", r.Name, field, err)
	return res
}

// finding applies the override to a finding of the given severity.
func (r *compiledRule) finding(severity string, override bool) roman.RuleResult {
	res := roman.RuleResult{Rule: r.Name, Law: r.Law, Severity: severity}
	if severity == SeverityViolation && override && r.Overridable {
		res.Severity, res.Overridden = SeverityWarning, true
	}
	return res
}

// evalBool evaluates a bool program; any other result is an error.
func evalBool(ctx context.Context, prg cel.Program, vars map[string]any) (bool, error) {
	out, _, err := prg.ContextEval(ctx, vars)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("result is %s, not a bool", out.Type())
	}
	return bool(b), nil
}
