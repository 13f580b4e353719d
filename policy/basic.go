// Package policy holds roman's constitution: the rules every rollback is
// validated against before anything changes (SPEC §6).
package policy

import (
	"context"

	"github.com/odyssey-1/roman"
)

// Rule names of the built-in rules.
const (
	RuleStability           = "stability"
	RuleTarget              = "target"
	RuleDatabaseConsistency = "database_consistency"
)

// Exact messages of the built-in rules (SPEC §6).
const (
	MsgNoTarget          = "No valid rollback target found"
	MsgDatabaseInconsist = "Database in inconsistent state: manual intervention required"
)

// Basic is the first validator: it enforces the target rule, the stability
// rule and the database consistency rule of SPEC §6 in Go. The CEL rule
// engine replaces it behind the same roman.Validator interface.
type Basic struct{}

var _ roman.Validator = Basic{}

// Validate returns the verdict for in. The stability rule is a violation for
// automatic triggers (the spike passed before the rollback began) and a
// warning for manual ones. An admin override turns every violation except
// the target rule into a warning.
func (Basic) Validate(_ context.Context, in roman.ValidationInput) (roman.Validation, error) {
	v := roman.Validation{Violations: []string{}, Warnings: []string{}}
	add := func(rule, msg string, violation, overridable bool) {
		v.Rules = append(v.Rules, rule)
		if violation && !(in.Override && overridable) {
			v.Violations = append(v.Violations, msg)
			return
		}
		v.Warnings = append(v.Warnings, msg)
	}
	if in.Health.Stable(in.Thresholds) {
		add(RuleStability, "System already stable: error rate "+roman.FormatRate(in.Health.ErrorRatePerMinute)+"/minute",
			in.Trigger == roman.TriggerAutomatic, true)
	}
	if in.Target == nil {
		add(RuleTarget, MsgNoTarget, true, false)
	}
	if !in.Database.Consistent {
		add(RuleDatabaseConsistency, MsgDatabaseInconsist, true, true)
	}
	v.Compliant = len(v.Violations) == 0
	v.Override = in.Override
	return v, nil
}
