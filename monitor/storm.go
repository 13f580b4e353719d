package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/odyssey-1/roman"
)

// Storm protection kinds, recorded as metadata.suppressed_by.
const (
	SuppressedRollbackDeployment = "rollback_deployment"
	SuppressedCooldown           = "cooldown"
	SuppressedMaxInARow          = "max_auto_rollbacks"
)

// storm returns why an automatic rollback of w must not start (kind and
// text, and for a cooldown when it ends), or "" when it may (storm
// protection). Manual rollbacks are never subject to it.
func (m *Monitor) storm(ctx context.Context, w *watch, s Settings, now time.Time) (kind, why string, until *time.Time, err error) {
	d := w.d
	if d.RollbackFrom != nil {
		return SuppressedRollbackDeployment, fmt.Sprintf(
			"%s was itself deployed by a rollback (of %s), and roman never rolls such a deployment back automatically", d.Version, *d.RollbackFrom), nil, nil
	}
	evs, err := m.Store.ListRollbackEvents(ctx, roman.RollbackFilter{Service: roman.ServiceOrDefault(d.Service), Environment: d.Environment, Limit: 50})
	if err != nil {
		return "", "", nil, err
	}
	// Cooldown: after a rollback that ran (a rejected one changed nothing),
	// only for deployments recorded before it finished. A deployment
	// recorded after it is a new human decision, watched and rolled back
	// normally.
	for _, e := range evs {
		if e.Status == roman.RollbackAborted {
			continue
		}
		end := e.InitiatedAt.Add(s.Cooldown)
		if !now.Before(end) {
			break // the newest rollback's cooldown is over
		}
		if recordedAfter(d, e) {
			continue // not subject to this rollback's cooldown; an older one may still apply
		}
		return SuppressedCooldown, fmt.Sprintf("cooldown: a rollback of %s started at %s (event %s) before %s was deployed; automatic rollbacks resume at %s",
			where(d), e.InitiatedAt.UTC().Format(time.RFC3339), e.EventID, d.Version, end.UTC().Format(time.RFC3339)), &end, nil
	}
	// In a row: automatic rollbacks since the last manual one and since the
	// last deployment that passed its watch window.
	reset, err := m.lastPassed(ctx, scopeOf(d))
	if err != nil {
		return "", "", nil, err
	}
	n := 0
	for _, e := range evs {
		if e.TriggerType != roman.TriggerAutomatic || !e.InitiatedAt.After(reset) {
			break
		}
		if e.Status != roman.RollbackAborted {
			n++
		}
	}
	if s.MaxAutoRollbacks > 0 && n >= s.MaxAutoRollbacks {
		return SuppressedMaxInARow, fmt.Sprintf(
			"%d automatic rollbacks in a row in %s (at most %d): a human must act (a manual rollback, or a deployment that passes its watch window, resets the count)",
			n, where(d), s.MaxAutoRollbacks), nil, nil
	}
	return "", "", nil, nil
}

// recordedAfter reports whether deployment d came after rollback e had
// finished: its deployed_at is after the rollback's completed_at. A rollback
// that has not finished covers every deployment of its environment.
func recordedAfter(d *roman.Deployment, e *roman.RollbackEvent) bool {
	return e.CompletedAt != nil && d.DeployedAt.After(*e.CompletedAt)
}

// where names the (service, environment) of d for a message: the
// environment alone for the default service.
func where(d *roman.Deployment) string {
	if d.Service == "" || d.Service == roman.DefaultService {
		return d.Environment
	}
	return d.Service + " in " + d.Environment
}

// lastPassed returns when the newest deployment of the (service,
// environment) that the monitor passed at the end of its window (not one a
// rollback deployed) was deployed; the zero time when there is none among
// the recent ones.
func (m *Monitor) lastPassed(ctx context.Context, k scope) (time.Time, error) {
	ds, err := m.Store.ListDeployments(ctx, roman.DeploymentFilter{Service: k.service, Environment: k.env, Limit: 50})
	if err != nil {
		return time.Time{}, err
	}
	for _, d := range ds {
		if d.RollbackFrom != nil || !d.HealthCheckPassed || len(d.HealthCheckDetails) == 0 {
			continue
		}
		var det struct {
			DecidedBy string `json:"decided_by"`
		}
		if json.Unmarshal(d.HealthCheckDetails, &det) == nil && det.DecidedBy == "monitor" {
			return d.DeployedAt, nil
		}
	}
	return time.Time{}, nil
}
