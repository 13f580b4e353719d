package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/odyssey-1/roman"
)

var _ roman.IntegrationAlertStore = (*DB)(nil)

// RecordIntegrationAlerts records a group of alerts in one transaction,
// deduplicated by (source, fingerprint, starts_at): see
// roman.IntegrationAlertStore. Each alert is first inserted if its identity
// is new; otherwise a resolved one marks a firing row resolved; anything
// else is a duplicate. Each statement decides atomically, so concurrent
// requests and replicas record each transition once.
func (db *DB) RecordIntegrationAlerts(ctx context.Context, alerts []*roman.IntegrationAlert, events func(i int, outcome string) []*roman.RomanEvent) ([]string, error) {
	outcomes := make([]string, len(alerts))
	now := roman.UTC(db.now())
	err := db.write(ctx, func(tx *sql.Tx) error {
		for i, a := range alerts {
			if a.ReceivedAt.IsZero() {
				a.ReceivedAt = now
			}
			a.UpdatedAt = a.ReceivedAt
			dep, err := normID("deployment_id", a.DeploymentID)
			if err != nil {
				return err
			}
			err = tx.QueryRowContext(ctx, db.q(`INSERT INTO integration_alerts (source, fingerprint, starts_at, ends_at,
				status, alertname, summary, labelled_trigger, deployment_id, service, environment, attribution_rule,
				group_key, labels, annotations, received_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (source, fingerprint, starts_at) DO NOTHING RETURNING id`),
				a.Source, a.Fingerprint, db.ts(a.StartsAt), db.tsPtr(a.EndsAt), a.Status, a.AlertName, a.Summary,
				a.Labelled, idArg(dep), a.Service, a.Environment, a.Rule, a.GroupKey, jsonArg(a.Labels),
				jsonArg(a.Annotations), db.ts(a.ReceivedAt), db.ts(a.UpdatedAt)).Scan(&a.ID)
			switch {
			case err == nil:
				outcomes[i] = roman.AlertOutcomeNew
			case !errors.Is(err, sql.ErrNoRows):
				return err
			case a.Status == roman.AlertResolved:
				// Known: a firing row turns resolved, once.
				err = tx.QueryRowContext(ctx, db.q(`UPDATE integration_alerts SET status = 'resolved', ends_at = ?,
					updated_at = ? WHERE source = ? AND fingerprint = ? AND starts_at = ? AND status = 'firing'
					RETURNING id, deployment_id, service, environment, attribution_rule`),
					db.tsPtr(a.EndsAt), db.ts(a.UpdatedAt), a.Source, a.Fingerprint, db.ts(a.StartsAt)).Scan(
					&a.ID, idScan{s: &a.DeploymentID}, &a.Service, &a.Environment, &a.Rule)
				switch {
				case err == nil:
					outcomes[i] = roman.AlertOutcomeResolved
				case errors.Is(err, sql.ErrNoRows):
					outcomes[i] = roman.AlertOutcomeDuplicate
				default:
					return err
				}
			default:
				outcomes[i] = roman.AlertOutcomeDuplicate
			}
			if outcomes[i] == roman.AlertOutcomeDuplicate || events == nil {
				continue
			}
			for _, e := range events(i, outcomes[i]) {
				if e.EventID == "" {
					e.EventID = roman.NewUUID()
				}
				e.Timestamp = db.orNow(e.Timestamp)
				if err := db.insertEvent(ctx, tx, e); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if roman.ErrorCode(err) == roman.EINVALID {
		return nil, err
	}
	if err != nil {
		return nil, internal("record integration alerts", err)
	}
	return outcomes, nil
}

// FiringAlerts returns the firing alerts attributed to each of the
// deployments, oldest startsAt first, with one query.
func (db *DB) FiringAlerts(ctx context.Context, deploymentIDs []string) (map[string][]*roman.IntegrationAlert, error) {
	ids := make([]any, 0, len(deploymentIDs))
	given := make(map[string]string, len(deploymentIDs))
	for _, id := range deploymentIDs {
		if l, ok := lookupID(id); ok {
			if _, dup := given[l]; !dup {
				ids = append(ids, l)
			}
			given[l] = id
		}
	}
	out := map[string][]*roman.IntegrationAlert{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT id, source, fingerprint, starts_at, ends_at, status, alertname,
		summary, labelled_trigger, deployment_id, service, environment, attribution_rule, group_key, received_at, updated_at
		FROM integration_alerts WHERE status = 'firing' AND deployment_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)
		ORDER BY starts_at, id`), ids...)
	if err != nil {
		return nil, internal("list firing alerts", err)
	}
	defer rows.Close()
	for rows.Next() {
		a := &roman.IntegrationAlert{}
		if err := rows.Scan(&a.ID, &a.Source, &a.Fingerprint, scanTime(&a.StartsAt), scanTimePtr(&a.EndsAt), &a.Status,
			&a.AlertName, &a.Summary, &a.Labelled, idScan{s: &a.DeploymentID}, &a.Service, &a.Environment, &a.Rule,
			&a.GroupKey, scanTime(&a.ReceivedAt), scanTime(&a.UpdatedAt)); err != nil {
			return nil, internal("list firing alerts", err)
		}
		key := given[strings.ToLower(a.DeploymentID)]
		out[key] = append(out[key], a)
	}
	return out, internal("list firing alerts", rows.Err())
}
