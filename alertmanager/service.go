package alertmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/health"
)

// Labels that tie an alert to a release. The first of each pair that is
// set counts.
const (
	LabelEnvironment    = "environment"
	LabelEnv            = "env"
	LabelService        = "service"
	LabelJob            = "job"
	LabelVersion        = "version"
	LabelDeploymentID   = "deployment_id"
	LabelAlertName      = "alertname"
	AnnotationSummary   = "summary"
	maxLabelsJSONLength = 64 << 10
)

// Store is what the service writes: the alerts with their audit rows, and
// a truncated group's note.
type Store interface {
	roman.IntegrationAlertStore
	roman.EventStore
}

// Service receives Alertmanager webhook messages.
type Service struct {
	// Deployments resolves each alert's release (roman.Attribute).
	Deployments roman.DeploymentStore
	Store       Store
	// Hub is told of every release whose alerts changed (a ChangeErrors
	// naming it, as an ingested error batch), so the monitor judges it at
	// once.
	Hub *roman.Hub
	// AlertTriggers returns the alert names that are triggers in an
	// environment.
	AlertTriggers func(env string) []string
	// Unattributed, when set, counts alerts that mapped to no release
	// (the roman_integration_unattributed_total counter).
	Unattributed func(source string, n int)
	Clock        roman.Clock
	Logger       *slog.Logger

	// batch is the group commit of concurrent messages (batch.go).
	batch batcher
}

// Result answers a received message.
type Result struct {
	Success bool `json:"success"`
	// Received is how many alerts the message carried.
	Received int `json:"received"`
	// Recorded counts alerts stored for the first time, Resolved firing
	// alerts marked resolved, Duplicates states known already (a re-sent
	// group: nothing written), Unattributed alerts that mapped to no
	// release (recorded as warnings).
	Recorded     int `json:"recorded"`
	Resolved     int `json:"resolved"`
	Duplicates   int `json:"duplicates"`
	Unattributed int `json:"unattributed"`
	// TruncatedAlerts is how many alerts Alertmanager left out of the
	// group (max_alerts); roman never saw them.
	TruncatedAlerts uint64        `json:"truncated_alerts"`
	Alerts          []AlertResult `json:"alerts"`
	// Warnings say what roman could not map, and a truncated group.
	Warnings []string `json:"warnings"`
}

// AlertResult is what became of one alert.
type AlertResult struct {
	AlertName   string `json:"alertname"`
	Fingerprint string `json:"fingerprint"`
	Status      string `json:"status"`
	// Outcome is recorded, resolved or duplicate.
	Outcome string `json:"outcome"`
	// DeploymentID and AttributionRule name the release the alert was tied
	// to and how (deployment_id, version or current); empty when it mapped
	// to none.
	DeploymentID    string `json:"deployment_id,omitempty"`
	AttributionRule string `json:"attribution_rule,omitempty"`
	// Trigger is true for a rollback trigger alert, PreExisting when it
	// started before its release was deployed (it never rolls it back).
	Trigger     bool   `json:"trigger"`
	PreExisting bool   `json:"pre_existing,omitempty"`
	Warning     string `json:"warning,omitempty"`
}

// mapped is one alert's attribution.
type mapped struct {
	att     *roman.Attribution
	warning string
}

// Receive records a decoded message: each alert tied to its release (or
// recorded as unattributed, naming what was missing), deduplicated, with a
// roman_events row per new state. Messages received at the same time are
// recorded together, one transaction per group (a group commit), and each
// returns once its group has committed. Only store failures are errors.
func (s *Service) Receive(ctx context.Context, m *Message) (*Result, error) {
	now := roman.UTC(s.Clock())
	res := &Result{Success: true, Received: len(m.Alerts), TruncatedAlerts: m.TruncatedAlerts,
		Alerts: make([]AlertResult, len(m.Alerts)), Warnings: []string{}}
	cache := map[roman.AttributionRequest]mapped{}
	rows := make([]*roman.IntegrationAlert, len(m.Alerts))
	maps := make([]mapped, len(m.Alerts))
	for i, a := range m.Alerts {
		req := attributionRequest(a.Labels)
		mp, ok := cache[req]
		if !ok {
			var err error
			if mp, err = s.attribute(ctx, req); err != nil {
				return nil, err
			}
			cache[req] = mp
		}
		maps[i] = mp
		rows[i] = s.row(m, a, mp, now)
	}
	outcomes, err := s.record(ctx, rows, func(i int, row *roman.IntegrationAlert, outcome string) []*roman.RomanEvent {
		return s.events(m, m.Alerts[i], row, maps[i], outcome, now)
	})
	if err != nil {
		return nil, err
	}
	changed := map[string]*roman.IntegrationAlert{}
	unattributed := 0
	for i, a := range m.Alerts {
		row, out := rows[i], outcomes[i]
		ar := AlertResult{AlertName: row.AlertName, Fingerprint: a.Fingerprint, Status: a.Status, Outcome: out,
			DeploymentID: row.DeploymentID, AttributionRule: row.Rule, Warning: maps[i].warning}
		if d := deploymentOf(maps[i], row); d != nil {
			fa := health.FiringAlertOf(row, d, s.triggers(d.Environment))
			ar.Trigger, ar.PreExisting = fa.Trigger, fa.PreExisting
		}
		switch out {
		case roman.AlertOutcomeNew:
			res.Recorded++
		case roman.AlertOutcomeResolved:
			res.Resolved++
		default:
			res.Duplicates++
		}
		if row.DeploymentID == "" {
			res.Unattributed++
			res.Warnings = append(res.Warnings, fmt.Sprintf("alert %s (fingerprint %s): %s", displayName(row.AlertName), a.Fingerprint, maps[i].warning))
			if out != roman.AlertOutcomeDuplicate {
				unattributed++
			}
		} else if out != roman.AlertOutcomeDuplicate {
			changed[row.DeploymentID] = row
		}
		res.Alerts[i] = ar
	}
	if unattributed > 0 && s.Unattributed != nil {
		s.Unattributed(roman.SourceAlertmanager, unattributed)
	}
	if m.TruncatedAlerts > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the group was truncated: Alertmanager left out %d alert(s) (max_alerts); roman saw %d", m.TruncatedAlerts, len(m.Alerts)))
		if res.Recorded+res.Resolved > 0 {
			s.noteTruncated(ctx, m, changed, now)
		}
	}
	// The audit rows carry no alert for the outbox, so the alert sender
	// need not be woken (a ChangeRomanEvent would make it claim).
	for id, row := range changed {
		s.Hub.Publish(roman.Change{Kind: roman.ChangeErrors, Service: row.Service, Environment: row.Environment, DeploymentID: id})
	}
	return res, nil
}

// attributionRequest reads an alert's release labels.
func attributionRequest(labels map[string]string) roman.AttributionRequest {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := labels[k]; v != "" {
				return v
			}
		}
		return ""
	}
	return roman.AttributionRequest{Environment: first(LabelEnvironment, LabelEnv), Service: first(LabelService, LabelJob),
		Version: labels[LabelVersion], DeploymentID: labels[LabelDeploymentID]}
}

// attribute ties a request to a release; what cannot be tied is a warning
// naming what was missing, not an error.
func (s *Service) attribute(ctx context.Context, req roman.AttributionRequest) (mapped, error) {
	if req.Environment == "" && req.DeploymentID == "" {
		return mapped{warning: "no environment label (environment or env) and no deployment_id label: not attributed to any release"}, nil
	}
	att, err := roman.Attribute(ctx, s.Deployments, req)
	switch roman.ErrorCode(err) {
	case "":
		return mapped{att: att}, nil
	case roman.ENOTFOUND, roman.EINVALID:
		return mapped{warning: roman.ErrorMessage(err) + ": not attributed to any release"}, nil
	}
	return mapped{}, err
}

// row is the stored form of an alert.
func (s *Service) row(m *Message, a Alert, mp mapped, now time.Time) *roman.IntegrationAlert {
	r := &roman.IntegrationAlert{Source: roman.SourceAlertmanager, Fingerprint: a.Fingerprint, StartsAt: roman.UTC(a.StartsAt),
		Status: a.Status, AlertName: a.Labels[LabelAlertName], Summary: clipSummary(a.Annotations[AnnotationSummary]),
		Labelled: a.Labels[roman.AlertTriggerLabel] == "true", GroupKey: m.GroupKey,
		Labels: labelsJSON(a.Labels), Annotations: labelsJSON(a.Annotations), ReceivedAt: now}
	if a.Status == roman.AlertResolved && !a.EndsAt.IsZero() && a.EndsAt.Year() > 1 {
		end := roman.UTC(a.EndsAt)
		r.EndsAt = &end
	}
	if mp.att != nil {
		d := mp.att.Deployment
		r.DeploymentID, r.Service, r.Environment, r.Rule = d.DeploymentID, roman.ServiceOrDefault(d.Service), d.Environment, mp.att.Rule
	} else {
		req := attributionRequest(a.Labels)
		if roman.ValidEnvironment(req.Environment) {
			r.Environment = req.Environment
		}
		if roman.ValidService(req.Service) {
			r.Service = req.Service
		}
	}
	return r
}

// deploymentOf returns the release the alert is attributed to, as far as
// this message's attribution knows it.
func deploymentOf(mp mapped, row *roman.IntegrationAlert) *roman.Deployment {
	if mp.att != nil && mp.att.Deployment.DeploymentID == row.DeploymentID {
		return mp.att.Deployment
	}
	return nil
}

func (s *Service) triggers(env string) []string {
	if s.AlertTriggers == nil {
		return nil
	}
	return s.AlertTriggers(env)
}

// events returns the audit rows of one alert's new state.
func (s *Service) events(m *Message, a Alert, row *roman.IntegrationAlert, mp mapped, outcome string, now time.Time) []*roman.RomanEvent {
	md := map[string]any{"source": roman.SourceAlertmanager, "alertname": row.AlertName, "fingerprint": row.Fingerprint,
		"starts_at": row.StartsAt, "status": row.Status, "group_key": m.GroupKey, "receiver": m.Receiver, "summary": row.Summary,
		"labels": json.RawMessage(row.Labels)}
	if row.EndsAt != nil {
		md["ends_at"] = *row.EndsAt
	}
	if row.Environment != "" {
		md["environment"] = row.Environment
	}
	if row.Service != "" {
		md["service"] = row.Service
	}
	name := displayName(row.AlertName)
	if row.DeploymentID == "" {
		md["reason"] = mp.warning
		return []*roman.RomanEvent{{EventType: roman.EventIntegrationUnattributed, Severity: roman.SeverityWarning, Timestamp: now,
			Message:  fmt.Sprintf("Alertmanager alert %s (%s, fingerprint %s) not attributed to a release: %s", name, row.Status, row.Fingerprint, mp.warning),
			Metadata: jsonOf(md)}}
	}
	md["deployment_id"], md["attribution_rule"] = row.DeploymentID, row.Rule
	what := "release " + row.DeploymentID
	d := deploymentOf(mp, row)
	var fa roman.FiringAlert
	if d != nil {
		md["version"] = d.Version
		if mp.att.Note != "" {
			md["attribution_note"] = mp.att.Note
		}
		what = fmt.Sprintf("%s in %s (%s)", d.Version, d.Environment, roman.ServiceOrDefault(d.Service))
		fa = health.FiringAlertOf(row, d, s.triggers(d.Environment))
		md["trigger"], md["pre_existing"] = fa.Trigger, fa.PreExisting
	}
	summary := ""
	if row.Summary != "" {
		summary = ": " + row.Summary
	}
	sev := roman.SeverityInfo
	if fa.Trigger && row.Status == roman.AlertFiring {
		sev = roman.SeverityWarning
	}
	state := "firing"
	if outcome == roman.AlertOutcomeResolved || row.Status == roman.AlertResolved {
		state = "resolved"
	}
	out := []*roman.RomanEvent{{EventType: roman.EventIntegrationAlert, Severity: sev, Timestamp: now,
		Message: fmt.Sprintf("Alertmanager alert %s %s for %s (attributed by %s, fingerprint %s)%s",
			name, state, what, row.Rule, row.Fingerprint, summary),
		Metadata: jsonOf(md)}}
	if d != nil && fa.Trigger && fa.PreExisting && row.Status == roman.AlertFiring {
		md2 := map[string]any{}
		for k, v := range md {
			md2[k] = v
		}
		md2["deployed_at"] = d.DeployedAt
		md2["suppressed_reason"] = "pre-existing: the alert started before the release was deployed"
		out = append(out, &roman.RomanEvent{EventType: roman.EventAlertPreexisting, Severity: roman.SeverityWarning, Timestamp: now,
			Message: fmt.Sprintf("Trigger alert %s (fingerprint %s) started at %s, before %s was deployed at %s: pre-existing, it does not roll %s back",
				name, row.Fingerprint, row.StartsAt.Format(time.RFC3339Nano), d.Version, roman.UTC(d.DeployedAt).Format(time.RFC3339Nano), d.Version),
			Metadata: jsonOf(md2)})
	}
	return out
}

// noteTruncated records that a group arrived truncated.
func (s *Service) noteTruncated(ctx context.Context, m *Message, changed map[string]*roman.IntegrationAlert, now time.Time) {
	md := map[string]any{"source": roman.SourceAlertmanager, "group_key": m.GroupKey, "receiver": m.Receiver,
		"truncated_alerts": m.TruncatedAlerts, "received": len(m.Alerts)}
	if len(changed) == 1 {
		for id, row := range changed {
			md["deployment_id"], md["environment"], md["service"] = id, row.Environment, row.Service
		}
	} else if env := attributionRequest(m.CommonLabels).Environment; roman.ValidEnvironment(env) {
		md["environment"] = env
	}
	e := &roman.RomanEvent{EventID: roman.NewUUID(), EventType: roman.EventIntegrationTruncated, Severity: roman.SeverityWarning,
		Message: fmt.Sprintf("Alertmanager group %s was truncated: %d alert(s) left out (max_alerts), roman saw %d; raise max_alerts or narrow the route",
			m.GroupKey, m.TruncatedAlerts, len(m.Alerts)),
		Metadata: jsonOf(md), Timestamp: now}
	if err := s.Store.AddRomanEvent(ctx, e); err != nil && s.Logger != nil {
		s.Logger.Error("alertmanager: recording a truncated group failed", "err", err)
	}
}

func displayName(name string) string {
	if name == "" {
		return "(no alertname)"
	}
	return name
}

func clipSummary(s string) string {
	if len(s) <= MaxSummary {
		return s
	}
	cut := MaxSummary
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// labelsJSON is a label or annotation set as stored: {} when it is larger
// than maxLabelsJSONLength (the body limit bounds it anyway).
func labelsJSON(kv map[string]string) json.RawMessage {
	b := jsonOf(kv)
	if len(b) > maxLabelsJSONLength {
		return json.RawMessage(`{}`)
	}
	return b
}

func jsonOf(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}
