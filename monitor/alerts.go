package monitor

import (
	"strings"

	"github.com/odyssey-1/roman"
)

// alertFor is the alert a monitor decision row carries, or nil:
// a health warning, a trigger that only alerts (after the window, or with
// auto_rollback: never), a suppressed automatic rollback, or an automatic
// rollback that could not run. A rejected automatic rollback needs none
// here: the rollback service's rollback_validation row carries the
// constitutional violation alert, and an automatic rollback that starts is
// announced by its rollback_started row. The store writes the alert to the
// outbox in the row's transaction.
func alertFor(d *roman.Deployment, typ, msg string, meta map[string]any) *roman.Alert {
	a := &roman.Alert{DeploymentID: d.DeploymentID, Version: d.Version, Service: d.Service, Environment: d.Environment}
	a.Reason, _ = meta["reason"].(string)
	switch typ {
	case roman.EventHealthWarning:
		a.Kind = roman.AlertHealthWarning
		if ws, ok := meta["warnings"].([]string); ok {
			a.Detail = strings.Join(ws, "; ")
		}
	case roman.EventHealthAlert:
		a.Kind, a.Detail = roman.AlertHealthWarning, msg
	case roman.EventAutoRollbackSuppressed:
		a.Kind, a.Trigger = roman.AlertRollbackSuppressed, roman.TriggerAutomatic
		if e, ok := meta["error"].(string); ok {
			a.Detail = e
		} else {
			a.Detail = suppressedWhy(msg)
		}
	case roman.EventManualIntervention:
		if _, rejected := meta["validation"]; rejected {
			return nil
		}
		a.Kind, a.Trigger = roman.AlertRollbackFailed, roman.TriggerAutomatic
		a.Detail, _ = meta["error"].(string)
		if a.Detail == "" {
			a.Detail = msg
		}
	default:
		return nil
	}
	return a
}

// suppressedWhy takes the reason out of "Automatic rollback of v in env
// suppressed: <why> (trigger: <reason>)".
func suppressedWhy(msg string) string {
	const marker = "suppressed: "
	if i := strings.Index(msg, marker); i >= 0 {
		msg = msg[i+len(marker):]
	}
	if i := strings.LastIndex(msg, " (trigger: "); i >= 0 {
		msg = msg[:i]
	}
	return msg
}
