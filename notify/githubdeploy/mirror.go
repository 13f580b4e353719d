// Package githubdeploy mirrors roman's releases to GitHub deployments: each
// recorded release becomes a GitHub deployment of the configured repository,
// and roman's decisions about it become its statuses — in_progress while
// roman watches it, success when its watch window passes, failure
// ("Rolled back by roman: <reason>") when roman rolls it back, and inactive
// when a newer release of the same service and environment passes its
// watch and so replaces it; the release a completed rollback went back to
// gets success again ("Restored by roman: ...").
//
// Nothing is sent from the decision's code path. Mirror picks, inside the
// transaction that writes each roman_events row, the jobs the event calls
// for, and the store writes them to the alert outbox on the channel
// "github" (roman.ChannelGitHub); the alert sender delivers them with the
// Notifier of this package. So GitHub being down loses nothing (rows wait in
// the database, across restarts), and a release's jobs are delivered in
// order (the outbox keeps each deployment's rows in id order per channel:
// the GitHub deployment exists before its first status).
package githubdeploy

import (
	"encoding/json"
	"fmt"

	"github.com/odyssey-1/roman"
)

// Mirror returns the roman.OutboxMirror of GitHub deployments. cfg returns
// an environment's configuration; environments without a repository are not
// mirrored. A status is queued only for a release whose creation was
// queued, so releases recorded before the mirror was configured (and
// rollback redeploys, which roman records itself) get none.
func Mirror(cfg func(environment string) Config) roman.OutboxMirror {
	return func(e *roman.RomanEvent, l roman.MirrorLookup) ([]roman.MirrorRow, error) {
		switch e.EventType {
		case roman.EventDeploymentRecorded, roman.EventWatchStarted, roman.EventWatchPassed,
			roman.EventWatchUnverified, roman.EventWatchFailed, roman.EventRollbackStarted, roman.EventRollbackCompleted:
		default:
			return nil, nil
		}
		var meta struct {
			DeploymentID       string `json:"deployment_id"`
			TriggerReason      string `json:"trigger_reason"`
			TargetDeploymentID string `json:"target_deployment_id"`
		}
		_ = json.Unmarshal(e.Metadata, &meta)
		if e.EventType == roman.EventRollbackCompleted {
			return restored(cfg, l, meta.TargetDeploymentID, meta.DeploymentID)
		}
		d, err := l.Deployment(meta.DeploymentID)
		if err != nil || d == nil || !cfg(d.Environment).Enabled() {
			return nil, err
		}
		if e.EventType == roman.EventDeploymentRecorded {
			return []roman.MirrorRow{row(roman.MirrorCreateDeployment, d, "")}, nil
		}
		if ok, err := l.Queued(roman.ChannelGitHub, roman.MirrorCreateDeployment, d.DeploymentID); err != nil || !ok {
			return nil, err
		}
		// A release roman rolled back keeps its failure: a watch that starts
		// or ends after the rollback began posts nothing.
		if e.EventType != roman.EventRollbackStarted {
			if failed, err := l.Queued(roman.ChannelGitHub, roman.MirrorStatusFailure, d.DeploymentID); err != nil || failed {
				return nil, err
			}
		}
		switch e.EventType {
		case roman.EventWatchStarted:
			return []roman.MirrorRow{row(roman.MirrorStatusInProgress, d, e.Message)}, nil
		case roman.EventWatchPassed, roman.EventWatchUnverified:
			rows := []roman.MirrorRow{row(roman.MirrorStatusSuccess, d, e.Message)}
			p, err := l.Replaced(d)
			if err != nil {
				return nil, err
			}
			if p != nil {
				if ok, err := l.Queued(roman.ChannelGitHub, roman.MirrorCreateDeployment, p.DeploymentID); err != nil {
					return nil, err
				} else if ok {
					rows = append(rows, row(roman.MirrorStatusInactive, p, fmt.Sprintf("Replaced by %s, which passed roman's watch", d.Version)))
				}
			}
			return rows, nil
		case roman.EventWatchFailed:
			if d.Status == roman.StatusRolledBack {
				return nil, nil // its rollback posted the failure
			}
			return []roman.MirrorRow{row(roman.MirrorStatusFailure, d, e.Message)}, nil
		case roman.EventRollbackStarted:
			reason := meta.TriggerReason
			if reason == "" {
				reason = e.Message
			}
			return []roman.MirrorRow{row(roman.MirrorStatusFailure, d, "Rolled back by roman: "+reason)}, nil
		}
		return nil, nil
	}
}

// restored is the success status of the release a completed rollback went
// back to: it runs again, whatever GitHub showed for it (a release the bad
// one had replaced is inactive there).
func restored(cfg func(string) Config, l roman.MirrorLookup, targetID, badID string) ([]roman.MirrorRow, error) {
	t, err := l.Deployment(targetID)
	if err != nil || t == nil || !cfg(t.Environment).Enabled() {
		return nil, err
	}
	if ok, err := l.Queued(roman.ChannelGitHub, roman.MirrorCreateDeployment, t.DeploymentID); err != nil || !ok {
		return nil, err
	}
	bad := "a bad release"
	if b, err := l.Deployment(badID); err != nil {
		return nil, err
	} else if b != nil {
		bad = b.Version
	}
	return []roman.MirrorRow{row(roman.MirrorStatusSuccess, t, fmt.Sprintf("Restored by roman: rollback of %s complete", bad))}, nil
}

// row is one job about d.
func row(kind string, d *roman.Deployment, description string) roman.MirrorRow {
	return roman.MirrorRow{Channel: roman.ChannelGitHub, Alert: roman.Alert{
		Kind: kind, DeploymentID: d.DeploymentID, Version: d.Version, Service: roman.ServiceOrDefault(d.Service),
		Environment: d.Environment, Detail: description,
	}}
}
