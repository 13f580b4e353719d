package notify

import (
	"fmt"
	"strings"

	"github.com/odyssey-1/roman"
)

// Field is one "Label: value" line of an alert.
type Field struct {
	Label string
	Value string
}

// Title is an alert's headline, the seed's "🚨 ROLLBACK INITIATED" for a
// triggered rollback. The seed's list marks a triggered rollback ⚠️ and a
// constitutional violation 🚨, while its example alert shows a triggered
// rollback as 🚨: the example wins for triggered rollbacks, since it is
// the one spelled out field for field.
func Title(a *roman.Alert) string {
	switch a.Kind {
	case roman.AlertRollbackTriggered:
		return "🚨 ROLLBACK INITIATED"
	case roman.AlertRollbackCompleted:
		return "✅ ROLLBACK COMPLETE"
	case roman.AlertRollbackFailed:
		return "❌ ROLLBACK FAILED"
	case roman.AlertConstitutionalViolation:
		return "🚨 CONSTITUTIONAL VIOLATION: ROLLBACK REJECTED"
	case roman.AlertHealthWarning:
		return "⚠️ HEALTH WARNING"
	case roman.AlertRollbackSuppressed:
		return "⚠️ ROLLBACK SUPPRESSED"
	}
	return "R.O.M.A.N. ALERT"
}

// Fields are an alert's lines in the seed's order: Deployment, (Service,
// unless it is the default one), Environment, Reason, Why (the judge's
// explanation of an automatic trigger), Trigger, Target,
// Constitutional Status, then what the kind adds. A line with nothing to
// say is left out.
func Fields(a *roman.Alert) []Field {
	var fs []Field
	add := func(label, value string) {
		if value != "" {
			fs = append(fs, Field{label, value})
		}
	}
	dep := a.DeploymentID
	if a.Version != "" && dep != "" {
		dep = a.Version + " (" + dep + ")"
	} else if a.Version != "" {
		dep = a.Version
	}
	add("Deployment", dep)
	if a.Service != roman.DefaultService {
		add("Service", a.Service)
	}
	add("Environment", a.Environment)
	switch a.Kind {
	case roman.AlertHealthWarning:
		add("Warning", firstNonEmpty(a.Detail, a.Reason))
		add("Why", strings.TrimPrefix(a.Why, "Why: "))
	case roman.AlertRollbackSuppressed:
		add("Reason", a.Reason)
		add("Why", strings.TrimPrefix(a.Why, "Why: "))
		add("Trigger", TriggerText(a.Trigger))
		add("Suppressed", a.Detail)
	default:
		add("Reason", a.Reason)
		add("Why", strings.TrimPrefix(a.Why, "Why: "))
		add("Trigger", TriggerText(a.Trigger))
		add("Target", target(a))
		add("Constitutional Status", a.Validation)
		if a.Kind == roman.AlertRollbackFailed {
			add("Failure", a.Detail)
		}
		if a.Kind == roman.AlertRollbackCompleted && a.DurationSeconds != nil {
			add("Duration", fmt.Sprintf("%.1f seconds", *a.DurationSeconds))
		}
	}
	return fs
}

// Closing is the sentence under an alert's fields, the seed's
// "R.O.M.A.N. is executing rollback..." for a triggered rollback.
func Closing(a *roman.Alert) string {
	switch a.Kind {
	case roman.AlertRollbackTriggered:
		return "R.O.M.A.N. is executing rollback..."
	case roman.AlertRollbackCompleted:
		if a.DurationSeconds != nil {
			return fmt.Sprintf("✅ Rollback complete (%.1f seconds)", *a.DurationSeconds)
		}
		return "✅ Rollback complete"
	case roman.AlertRollbackFailed:
		return "Manual intervention required."
	case roman.AlertConstitutionalViolation:
		return "Rollback rejected by the constitution. Manual intervention required."
	case roman.AlertHealthWarning:
		return "Warnings never roll back; R.O.M.A.N. keeps watching."
	case roman.AlertRollbackSuppressed:
		return "Storm protection: no automatic rollback. A manual rollback is still possible."
	}
	return ""
}

// Text is the whole alert as plain text, exactly the seed's example for a
// triggered rollback:
//
//	🚨 ROLLBACK INITIATED
//
//	Deployment: v2.5.3 (abc-123)
//	Environment: production
//	...
//	R.O.M.A.N. is executing rollback...
func Text(a *roman.Alert) string {
	var sb strings.Builder
	sb.WriteString(Title(a) + "\n\n" + Lines(a))
	if len(a.Violations) > 0 {
		sb.WriteString("\n\nViolations:\n• " + strings.Join(a.Violations, "\n• "))
	}
	if len(a.Warnings) > 0 {
		sb.WriteString("\n\nWarnings:\n• " + strings.Join(a.Warnings, "\n• "))
	}
	if ls := NewErrorLines(a); len(ls) > 0 {
		sb.WriteString("\n\nNew errors:\n• " + strings.Join(ls, "\n• "))
	}
	if c := Closing(a); c != "" {
		sb.WriteString("\n\n" + c)
	}
	return sb.String()
}

// Lines renders Fields as "Label: value" lines.
func Lines(a *roman.Alert) string {
	var lines []string
	for _, f := range Fields(a) {
		lines = append(lines, f.Label+": "+f.Value)
	}
	return strings.Join(lines, "\n")
}

// TriggerText capitalises a trigger type as the seed shows it
// ("Automatic").
func TriggerText(t string) string {
	switch t {
	case roman.TriggerAutomatic:
		return "Automatic"
	case roman.TriggerManual:
		return "Manual"
	case roman.TriggerConstitutionalViolation:
		return "Constitutional violation"
	}
	return t
}

func target(a *roman.Alert) string {
	switch {
	case a.TargetVersion != "" && a.TargetCommit != "":
		return a.TargetVersion + " (" + roman.ShortCommit(a.TargetCommit) + ")"
	case a.TargetVersion != "":
		return a.TargetVersion
	case a.Kind == roman.AlertConstitutionalViolation:
		return "none found"
	}
	return ""
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// maxNewErrorMessage bounds the sample message an alert shows of a new
// error.
const maxNewErrorMessage = 200

// NewErrorLines are the alert's new errors, one line each: the sample
// message, its count and fingerprint ("TypeError: cart is undefined — 12
// events (fingerprint 3f2a…)").
func NewErrorLines(a *roman.Alert) []string {
	var out []string
	for _, g := range a.NewErrors {
		msg := g.Message
		if r := []rune(msg); len(r) > maxNewErrorMessage {
			msg = string(r[:maxNewErrorMessage-1]) + "…"
		}
		if g.ErrorType != "" && !strings.HasPrefix(msg, g.ErrorType) {
			msg = g.ErrorType + ": " + msg
		}
		n := fmt.Sprintf("%d events", g.Count)
		if g.Count == 1 {
			n = "1 event"
		}
		out = append(out, fmt.Sprintf("%s — %s (fingerprint %s)", msg, n, g.Fingerprint))
	}
	return out
}
