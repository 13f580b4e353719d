package monitor

import (
	"strings"

	"github.com/odyssey-1/roman"
)

// alertFor is the alert a monitor decision row carries, or nil:
// a health warning (rate-limited per signal), a trigger that only alerts
// (after the window, or with auto_rollback: never), a suppressed or rejected
// automatic rollback (manual intervention required: the detail gives the
// reason and the command to run), or an automatic rollback that could not
// run. An automatic rollback that starts is announced by its
// rollback_started row. The store writes the alert to the outbox in the
// row's transaction.
func alertFor(d *roman.Deployment, typ, msg string, meta map[string]any) *roman.Alert {
	a := &roman.Alert{DeploymentID: d.DeploymentID, Version: d.Version, Service: d.Service, Environment: d.Environment}
	a.Reason, _ = meta["reason"].(string)
	a.Why = whyText(meta)
	switch typ {
	case roman.EventWatchUnverified:
		// A window that ended inconclusive under the baseline judge: a
		// human must decide.
		if inc, _ := meta["judge_inconclusive"].(bool); !inc {
			return nil
		}
		a.Kind, a.Detail = roman.AlertHealthWarning, msg
	case roman.EventHealthWarning:
		// Only the signals that entered a warning state and were not
		// alerted on lately (warnings.go) alert; the row is written anyway.
		ws, _ := meta["alert_warnings"].([]string)
		if len(ws) == 0 {
			return nil
		}
		a.Kind, a.Detail = roman.AlertHealthWarning, strings.Join(ws, "; ")
	case roman.EventHealthAlert:
		a.Kind, a.Detail = roman.AlertHealthWarning, msg
	case roman.EventAutoRollbackSuppressed:
		a.Kind, a.Trigger = roman.AlertRollbackSuppressed, roman.TriggerAutomatic
		if e, ok := meta["error"].(string); ok {
			a.Detail = e
		} else {
			a.Detail = suppressedWhy(msg)
		}
		a.Detail = withCommand(a.Detail, meta)
	case roman.EventManualIntervention:
		if _, rejected := meta["validation"]; rejected {
			// The rollback service's rollback_validation row carries the
			// constitutional violation alert; this one says what to do.
			a.Kind, a.Trigger = roman.AlertRollbackSuppressed, roman.TriggerAutomatic
			a.Detail, _ = meta["suppressed_reason"].(string)
			a.Detail = withCommand(a.Detail, meta)
			return a
		}
		a.Kind, a.Trigger = roman.AlertRollbackFailed, roman.TriggerAutomatic
		a.Detail, _ = meta["error"].(string)
		if a.Detail == "" {
			a.Detail = msg
		}
		a.Detail = withCommand(a.Detail, meta)
	default:
		return nil
	}
	return a
}

// whyText returns the why line a decision's metadata carries, or "".
func whyText(meta map[string]any) string {
	why, _ := meta["why"].(string)
	return why
}

// withCommand appends "manual intervention required" and the command to
// run (metadata.command) to an alert's detail.
func withCommand(detail string, meta map[string]any) string {
	cmd, _ := meta["command"].(string)
	if cmd == "" {
		return detail
	}
	return detail + "; manual intervention required: " + cmd
}

// suppressedWhy takes the reason out of "Automatic rollback of v in env
// suppressed: <why> (trigger: <reason>)".
func suppressedWhy(msg string) string {
	const marker = "suppressed: "
	if i := strings.Index(msg, marker); i >= 0 {
		msg = msg[i+len(marker):]
	}
	if i := strings.LastIndex(msg, " (trigger: "); i >= 0 && strings.Contains(msg[i:], ")") {
		msg = msg[:i]
	}
	return msg
}
