package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"

	"github.com/odyssey-1/roman"

	// Rules may name a time zone (now.getDayOfWeek("Europe/Berlin")); the
	// zone database is embedded so that such a rule works on hosts and
	// containers without /usr/share/zoneinfo instead of failing closed.
	_ "time/tzdata"
)

// The CEL variables rules are written against, plus thresholds,
// which the stability rules need to honour per-environment limits.
const (
	VarAction      = "action"
	VarTrigger     = "trigger"
	VarDeployment  = "deployment"
	VarTarget      = "target"
	VarEnvironment = "environment"
	VarHealth      = "health"
	VarThresholds  = "thresholds"
	VarEntropy     = "entropy"
	VarDatabase    = "database"
	VarInitiatedBy = "initiated_by"
	VarOverride    = "override"
	VarNow         = "now"
	VarJudgement   = "judgement"
)

// Variable describes one CEL variable for documentation and `roman policy
// show`.
type Variable struct {
	Name string
	// Type is the CEL type as rules see it.
	Type string
	// Fields lists the keys of a map variable; every key is always present
	// (a value may be null).
	Fields []string
}

// objectType is the CEL type of the map variables. Their keys are fixed and
// checked when a rule is compiled (see checkFields), so a misspelt field
// fails at start like a misspelt variable does.
var objectType = cel.MapType(cel.StringType, cel.DynType)

// declarations returns the CEL variable declarations. target is dyn rather
// than a map because it is null when there is no rollback target, and CEL
// does not compare a map type with null.
func declarations() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Variable(VarAction, objectType),
		cel.Variable(VarTrigger, cel.StringType),
		cel.Variable(VarDeployment, objectType),
		cel.Variable(VarTarget, cel.DynType),
		cel.Variable(VarEnvironment, cel.StringType),
		cel.Variable(VarHealth, objectType),
		cel.Variable(VarThresholds, objectType),
		cel.Variable(VarEntropy, cel.DoubleType),
		cel.Variable(VarDatabase, objectType),
		cel.Variable(VarInitiatedBy, cel.StringType),
		cel.Variable(VarOverride, cel.BoolType),
		cel.Variable(VarNow, cel.TimestampType),
		cel.Variable(VarJudgement, objectType),
	}
}

// newEnv returns the CEL environment every rule and message is compiled in.
func newEnv() (*cel.Env, error) {
	opts := append(declarations(),
		// entropy > 0 and health.error_rate_per_minute < 1 read naturally;
		// without this CEL refuses to compare a double with an int.
		cel.CrossTypeNumericComparisons(true),
		ext.Strings(), ext.Math(), ext.Lists(), ext.Sets(),
		cel.Function("rate",
			cel.Overload("rate_double", []*cel.Type{cel.DoubleType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return types.String(roman.FormatRate(float64(v.(types.Double)))) })),
			cel.Overload("rate_int", []*cel.Type{cel.IntType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return types.String(roman.FormatRate(float64(v.(types.Int)))) })),
		),
		// errors_per_minute(x) prints a rate with its noun agreeing:
		// "1 error/minute", "8.5 errors/minute".
		cel.Function("errors_per_minute",
			cel.Overload("errors_per_minute_double", []*cel.Type{cel.DoubleType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return types.String(roman.FormatErrorRate(float64(v.(types.Double)))) })),
			cel.Overload("errors_per_minute_int", []*cel.Type{cel.IntType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return types.String(roman.FormatErrorRate(float64(v.(types.Int)))) })),
		),
	)
	return cel.NewEnv(opts...)
}

// activation turns a validation input into the values of the CEL variables.
// Every key of every map is present; an absent value is null.
func activation(in roman.ValidationInput) map[string]any {
	var target any = types.NullValue
	if in.Target != nil {
		target = deploymentMap(in.Target)
	}
	return map[string]any{
		VarAction: map[string]any{
			"method_type":      in.Action.MethodType,
			"risk_to_life":     in.Action.RiskToLife,
			"entropy_increase": in.Action.EntropyIncrease,
			"geometric_ratio":  in.Action.GeometricRatio,
			"target_frequency": in.Action.TargetFrequency,
			"description":      in.Action.Description,
		},
		VarTrigger:     in.Trigger,
		VarDeployment:  deploymentMap(in.Deployment),
		VarTarget:      target,
		VarEnvironment: in.Environment,
		VarHealth:      healthMap(in.Health),
		VarThresholds: map[string]any{
			"error_rate":          in.Thresholds.ErrorRate,
			"recent_errors":       in.Thresholds.RecentErrors,
			"db_connections":      in.Thresholds.DBConnections,
			"warn_error_rate":     in.Thresholds.WarnErrorRate,
			"warn_p95_ms":         in.Thresholds.WarnP95MS,
			"warn_memory_percent": in.Thresholds.WarnMemoryPercent,
		},
		VarEntropy:     in.Entropy,
		VarDatabase:    map[string]any{"consistent": in.Database.Consistent, "reason": in.Database.Reason},
		VarInitiatedBy: in.InitiatedBy,
		VarOverride:    in.Override,
		VarNow:         in.Now.UTC(),
		VarJudgement:   judgementMap(in.Judgement),
	}
}

// judgementMap is the judge's verdict with its evidence (the fields of a
// health_judgement row); with no judgement every key is there, verdict ""
// and the numbers zero or null.
func judgementMap(j *roman.Judgement) map[string]any {
	if j == nil {
		j = &roman.Judgement{}
	}
	b, err := json.Marshal(j)
	if err != nil {
		return map[string]any{}
	}
	m, _ := jsonValue(b).(map[string]any)
	return m
}

// deploymentMap is a deployment row with the seed's column names. A nil
// deployment gives the same keys, all null, so rules fail on values rather
// than on missing keys.
func deploymentMap(d *roman.Deployment) map[string]any {
	if d == nil {
		d = &roman.Deployment{}
	}
	m := map[string]any{
		"id":                        d.ID,
		"deployment_id":             d.DeploymentID,
		"environment":               d.Environment,
		"version":                   d.Version,
		"git_commit":                d.GitCommit,
		"git_branch":                d.GitBranch,
		"deployed_by":               optString(d.DeployedBy),
		"deployed_at":               d.DeployedAt.UTC(),
		"status":                    d.Status,
		"rollback_from":             optString(d.RollbackFrom),
		"health_check_passed":       d.HealthCheckPassed,
		"health_check_details":      jsonValue(d.HealthCheckDetails),
		"constitutional_validation": jsonValue(d.ConstitutionalValidation),
		"metadata":                  jsonValue(d.Metadata),
		"completed_at":              optTime(d.CompletedAt),
		"rolled_back_at":            optTime(d.RolledBackAt),
	}
	return m
}

// healthMap is the health object; unmeasured signals are null.
func healthMap(h roman.Health) map[string]any {
	warnings := h.Warnings
	if warnings == nil {
		warnings = []string{}
	}
	unknown := h.Unknown
	if unknown == nil {
		unknown = map[string]string{}
	}
	return map[string]any{
		"healthy":                         h.Healthy,
		"status":                          h.Status,
		"error_rate_per_minute":           h.ErrorRatePerMinute,
		"recent_errors":                   h.RecentErrors,
		"database_connections":            optFloat(h.DatabaseConnections),
		"database_connection_utilization": optFloat(h.DatabaseConnectionUtilization),
		"active_queries":                  optFloat(h.ActiveQueries),
		"p95_response_time_ms":            optFloat(h.P95ResponseTimeMS),
		"memory_usage_percent":            optFloat(h.MemoryUsagePercent),
		"reason":                          h.Reason,
		"warnings":                        warnings,
		"unknown":                         unknown,
		"timestamp":                       h.Timestamp.UTC(),
	}
}

func optString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func optFloat(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func optTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

// jsonValue decodes a JSON column for rules (objects become maps); empty or
// invalid JSON is null.
func jsonValue(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil
	}
	return v
}

// mapFields are the keys of each map variable, taken from the activation of
// an empty input so that the list cannot drift from what rules receive.
var mapFields = func() map[string][]string {
	act := activation(roman.ValidationInput{})
	out := make(map[string][]string)
	for name, v := range act {
		if m, ok := v.(map[string]any); ok {
			out[name] = sortedKeys(m)
		}
	}
	out[VarTarget] = out[VarDeployment]
	return out
}()

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Variables describes the CEL variables in declaration order.
func Variables() []Variable {
	typeOf := map[string]string{
		VarAction: "map(string, dyn)", VarTrigger: "string", VarDeployment: "map(string, dyn)",
		VarTarget: "map(string, dyn) or null", VarEnvironment: "string", VarHealth: "map(string, dyn)",
		VarThresholds: "map(string, dyn)", VarEntropy: "double", VarDatabase: "map(string, dyn)",
		VarInitiatedBy: "string", VarOverride: "bool", VarNow: "timestamp", VarJudgement: "map(string, dyn)",
	}
	var out []Variable
	for _, n := range []string{VarAction, VarTrigger, VarDeployment, VarTarget, VarEnvironment, VarHealth,
		VarThresholds, VarEntropy, VarDatabase, VarInitiatedBy, VarOverride, VarNow, VarJudgement} {
		out = append(out, Variable{Name: n, Type: typeOf[n], Fields: slices.Clone(mapFields[n])})
	}
	return out
}

// checkFields walks a checked expression and reports a field of a map
// variable that does not exist (health.eror_rate), whether selected, tested
// with has() or indexed with a constant string. CEL's type checker cannot
// see map keys, and a misspelt key would otherwise fail only at evaluation
// time, rejecting every rollback until someone noticed.
func checkFields(a *ast.AST) error {
	var problems []string
	check := func(operand ast.Expr, field string, shadowed map[string]bool) {
		if operand.Kind() != ast.IdentKind {
			return
		}
		name := operand.AsIdent()
		fields, ok := mapFields[name]
		if !ok || shadowed[name] || slices.Contains(fields, field) {
			return
		}
		problems = append(problems, fmt.Sprintf("undefined field %q of %s (fields: %s)", field, name, strings.Join(fields, ", ")))
	}
	var walk func(e ast.Expr, shadowed map[string]bool)
	walk = func(e ast.Expr, shadowed map[string]bool) {
		switch e.Kind() {
		case ast.SelectKind:
			s := e.AsSelect()
			check(s.Operand(), s.FieldName(), shadowed)
			walk(s.Operand(), shadowed)
		case ast.CallKind:
			c := e.AsCall()
			switch c.FunctionName() {
			case "_[_]", "_[?_]", "_?._":
				if args := c.Args(); len(args) == 2 && args[1].Kind() == ast.LiteralKind {
					if s, ok := args[1].AsLiteral().(types.String); ok {
						check(args[0], string(s), shadowed)
					}
				}
			}
			if c.IsMemberFunction() {
				walk(c.Target(), shadowed)
			}
			for _, arg := range c.Args() {
				walk(arg, shadowed)
			}
		case ast.ListKind:
			for _, el := range e.AsList().Elements() {
				walk(el, shadowed)
			}
		case ast.MapKind:
			for _, en := range e.AsMap().Entries() {
				me := en.AsMapEntry()
				walk(me.Key(), shadowed)
				walk(me.Value(), shadowed)
			}
		case ast.StructKind:
			for _, f := range e.AsStruct().Fields() {
				walk(f.AsStructField().Value(), shadowed)
			}
		case ast.ComprehensionKind:
			c := e.AsComprehension()
			walk(c.IterRange(), shadowed)
			walk(c.AccuInit(), shadowed)
			inner := make(map[string]bool, len(shadowed)+3)
			for k := range shadowed {
				inner[k] = true
			}
			inner[c.IterVar()], inner[c.AccuVar()] = true, true
			if c.HasIterVar2() {
				inner[c.IterVar2()] = true
			}
			walk(c.LoopCondition(), inner)
			walk(c.LoopStep(), inner)
			walk(c.Result(), inner)
		}
	}
	walk(a.Expr(), map[string]bool{})
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}
