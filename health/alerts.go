package health

import (
	"context"
	"time"

	"github.com/odyssey-1/roman"
)

// addAlerts reads the firing alerts of other tools (Alertmanager)
// attributed to the deployments and puts them, classified, into their
// inputs: a trigger when the alert's name is in the environment's
// alert_triggers (or it is labelled roman_trigger="true"), pre-existing when
// it started before the release was deployed. ins[i] belongs to ds[i].
func (c *Checker) addAlerts(ctx context.Context, ds []*roman.Deployment, ins []*roman.HealthInputs) error {
	if c.Alerts == nil || len(ds) == 0 {
		return nil
	}
	ids := make([]string, len(ds))
	var names []string // the trigger names of every environment concerned
	seenEnv, seenName := map[string]bool{}, map[string]bool{}
	for i, d := range ds {
		ids[i] = d.DeploymentID
		if c.AlertTriggers == nil || seenEnv[d.Environment] {
			continue
		}
		seenEnv[d.Environment] = true
		for _, n := range c.AlertTriggers(d.Environment) {
			if !seenName[n] {
				seenName[n] = true
				names = append(names, n)
			}
		}
	}
	firing, err := c.Alerts.FiringAlerts(ctx, ids, names)
	if err != nil {
		return err
	}
	for i, d := range ds {
		as := firing[d.DeploymentID]
		if len(as) == 0 {
			continue
		}
		var triggers []string
		if c.AlertTriggers != nil {
			triggers = c.AlertTriggers(d.Environment)
		}
		for _, a := range as {
			ins[i].Alerts = append(ins[i].Alerts, FiringAlertOf(a, d, triggers))
		}
	}
	return nil
}

// FiringAlertOf classifies a stored firing alert for the health of d under
// the environment's alert_triggers.
func FiringAlertOf(a *roman.IntegrationAlert, d *roman.Deployment, triggers []string) roman.FiringAlert {
	return roman.FiringAlert{AlertName: a.AlertName, Summary: a.Summary, Fingerprint: a.Fingerprint,
		StartsAt: a.StartsAt, Rule: a.Rule, Trigger: roman.IsAlertTrigger(a.AlertName, a.Labelled, triggers),
		PreExisting: PreExisting(a.StartsAt, d)}
}

// PreExisting reports whether an alert that started at startsAt was firing
// before d was deployed: such an alert never rolls d back.
func PreExisting(startsAt time.Time, d *roman.Deployment) bool {
	return startsAt.Before(d.DeployedAt)
}
