package roman

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// Integration sources: the tools whose events roman hears besides its own
// ingest API. A source names where an event came from in the audit trail and
// in the unattributed-events counter.
const (
	SourceAlertmanager = "alertmanager"
)

// Event types of the integrations in roman_events.
const (
	// EventIntegrationAlert: an alert from another tool (Alertmanager)
	// was recorded firing or resolved, with the release it was attributed
	// to and the rule that tied it (metadata.attribution_rule).
	EventIntegrationAlert = "integration_alert"
	// EventIntegrationUnattributed: an event from another tool mapped to no
	// release (no environment label, an unknown deployment id, no
	// deployment in its environment); the message names what was missing.
	// It is recorded, never dropped and never an error.
	EventIntegrationUnattributed = "integration_unattributed"
	// EventAlertPreexisting: a trigger alert started before the release it
	// was attributed to was deployed, so it never rolls that release back.
	EventAlertPreexisting = "alert_preexisting"
	// EventIntegrationTruncated: Alertmanager sent a truncated group
	// (max_alerts): roman saw only part of it.
	EventIntegrationTruncated = "integration_truncated"
)

// Alert states of an integration alert.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// Outcomes of recording an integration alert.
const (
	// AlertOutcomeNew: the (fingerprint, starts_at) was not known; stored.
	AlertOutcomeNew = "recorded"
	// AlertOutcomeResolved: a firing alert was marked resolved.
	AlertOutcomeResolved = "resolved"
	// AlertOutcomeDuplicate: the state was known already (a re-sent
	// group); nothing was written.
	AlertOutcomeDuplicate = "duplicate"
)

// AlertTriggerLabel is the label that makes any alert a rollback trigger
// when its value is "true", whatever the environment's alert_triggers say.
const AlertTriggerLabel = "roman_trigger"

// IntegrationAlert is one alert from another tool (Alertmanager), as roman
// keeps it (table integration_alerts): one row per (fingerprint, starts_at),
// firing until a resolved message for it arrives.
type IntegrationAlert struct {
	ID          int64  `json:"id"`
	Source      string `json:"source"`
	Fingerprint string `json:"fingerprint"`
	// StartsAt is the alert's startsAt: with the fingerprint, its identity.
	StartsAt time.Time `json:"starts_at"`
	// EndsAt is set once the alert is resolved.
	EndsAt    *time.Time `json:"ends_at"`
	Status    string     `json:"status"`
	AlertName string     `json:"alertname"`
	// Summary is the alert's summary annotation (may be empty).
	Summary string `json:"summary"`
	// Labelled is true when the alert carries roman_trigger="true".
	Labelled bool `json:"labelled_trigger"`
	// DeploymentID is the release the alert was attributed to; empty when
	// it mapped to none.
	DeploymentID string `json:"deployment_id"`
	Service      string `json:"service"`
	Environment  string `json:"environment"`
	// Rule is the attribution rule (Attributed*), empty when unattributed.
	Rule        string          `json:"attribution_rule"`
	GroupKey    string          `json:"group_key"`
	Labels      json.RawMessage `json:"labels"`
	Annotations json.RawMessage `json:"annotations"`
	ReceivedAt  time.Time       `json:"received_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// IntegrationAlertStore keeps the integration alerts (migration 00014), so
// their state survives restarts and is shared by every replica.
type IntegrationAlertStore interface {
	// RecordIntegrationAlerts records a group of alerts in one transaction,
	// deduplicated by (fingerprint, starts_at): an unknown alert is stored
	// (AlertOutcomeNew), a firing one that arrives resolved is marked so
	// (AlertOutcomeResolved), anything else is AlertOutcomeDuplicate and
	// writes nothing (a resolved alert never fires again: Alertmanager
	// gives a new firing a new startsAt). For each alert that was not a
	// duplicate, events(i, outcome) may return roman_events rows, written in
	// the same transaction. A store may ask for the rows of
	// AlertOutcomeNew before it knows the outcome (the PostgreSQL store
	// writes a group and the rows of its new alerts in one statement) and
	// then writes them only if the alert was new, so events must only build
	// rows. For a resolved alert the stored row's attribution
	// (DeploymentID, Service, Environment, Rule) is read back into the
	// alert before event is called. It returns each alert's outcome and
	// fills ID. Only EINTERNAL.
	RecordIntegrationAlerts(ctx context.Context, alerts []*IntegrationAlert, events func(i int, outcome string) []*RomanEvent) ([]string, error)
	// FiringAlerts returns, per deployment id given, the firing alerts
	// attributed to it: a bounded number of each (the store says how
	// many), those that may be triggers first (labelled roman_trigger="true"
	// or named in triggers, and started at or after the deployment), then
	// the others, oldest startsAt first within each. A deployment without
	// any is absent. Only EINTERNAL.
	FiringAlerts(ctx context.Context, deploymentIDs []string, triggers []string) (map[string][]*IntegrationAlert, error)
}

// FiringAlert is a firing alert of another tool as the health object
// shows it: one input of health, a trigger or a warning.
type FiringAlert struct {
	AlertName   string    `json:"alertname"`
	Summary     string    `json:"summary,omitempty"`
	Fingerprint string    `json:"fingerprint"`
	StartsAt    time.Time `json:"starts_at"`
	// Rule is how the alert was tied to the release (Attributed*).
	Rule string `json:"attribution_rule"`
	// Trigger is true when the alert's name is in the environment's
	// alert_triggers or it is labelled roman_trigger="true".
	Trigger bool `json:"trigger"`
	// PreExisting is true when the alert started before the release was
	// deployed: it never rolls that release back.
	PreExisting bool `json:"pre_existing,omitempty"`
}

// AlertReason is the trigger reason of a firing trigger alert:
// "Alert firing: <alertname>: <summary>" (without ": <summary>" when the
// alert has none).
func AlertReason(a FiringAlert) string {
	s := warnAlert + a.AlertName
	if a.Summary != "" {
		s += ": " + a.Summary
	}
	return s
}

// preexistingWarning is the warning text of a trigger alert that started
// before the release.
func preexistingWarning(a FiringAlert) string {
	return strings.Replace(AlertReason(a), warnAlert, warnAlertBefore, 1)
}

// The beginnings of the alert texts.
const (
	warnAlert       = "Alert firing: "
	warnAlertBefore = "Alert firing since before this release: "
)

// IsAlertTrigger reports whether an alert named name (labelled is
// roman_trigger="true") is a trigger under the environment's
// alert_triggers list.
func IsAlertTrigger(name string, labelled bool, triggers []string) bool {
	if labelled {
		return true
	}
	for _, t := range triggers {
		if t == name {
			return true
		}
	}
	return false
}

// evaluateAlerts applies the firing alerts of in to h: the first firing
// trigger alert that started after the release is the reason when no other
// trigger fired; every other firing alert is a warning.
func evaluateAlerts(h *Health, alerts []FiringAlert) {
	if len(alerts) == 0 {
		return
	}
	h.Alerts = append([]FiringAlert(nil), alerts...)
	for _, a := range alerts {
		switch {
		case a.Trigger && !a.PreExisting && h.Reason == "":
			h.Reason = AlertReason(a)
		case a.Trigger && !a.PreExisting:
			// A trigger too, but another one is the reason.
		case a.Trigger:
			h.Warnings = append(h.Warnings, preexistingWarning(a))
		default:
			h.Warnings = append(h.Warnings, AlertReason(a))
		}
	}
}

// alertWarningSignal names the signal of an alert warning text: "alert:"
// and the alert's name; "" for another text.
func alertWarningSignal(text string) string {
	for _, p := range []string{warnAlertBefore, warnAlert} {
		if rest, ok := strings.CutPrefix(text, p); ok {
			name, _, _ := strings.Cut(rest, ": ")
			return "alert:" + name
		}
	}
	return ""
}

// TriggerAlert returns the firing alert whose trigger is the health's
// reason, or nil when the reason is another trigger (or none fired).
func (h Health) TriggerAlert() *FiringAlert {
	if !strings.HasPrefix(h.Reason, warnAlert) {
		return nil
	}
	for i, a := range h.Alerts {
		if a.Trigger && !a.PreExisting && AlertReason(a) == h.Reason {
			return &h.Alerts[i]
		}
	}
	return nil
}
