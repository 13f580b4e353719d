package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/odyssey-1/roman"
)

// modelDeployment is a deployments row as the model's checks read it.
type modelDeployment struct {
	id, service, env, version, commit, status string
	passed                                    bool
	rollbackFrom                              string
	// detailsBreaches is how many breaches health_check_details lists.
	detailsBreaches int
}

// modelEvent is a rollback_events row as the model's checks read it.
type modelEvent struct {
	id, deploymentID, service, env, trigger, status string
	target, newID                                   string
}

// modelInvariants holds what the checks read from the database and what
// they remember between steps (the audit trail is append-only, so it is
// read incrementally).
type modelInvariants struct {
	deployments []modelDeployment
	byID        map[string]modelDeployment
	events      []modelEvent
	// breached holds the deployments whose watch window breached (a
	// watch_breach row, or breaches in health_check_details).
	breached map[string]bool
	// triggered holds the deployments with an auto_rollback_triggered row,
	// validated the rollback events with a rollback_validation row.
	triggered, validated map[string]bool
	lastRow              int64
	// targeted holds the rollback events whose target was checked.
	targeted map[string]bool
	// executed holds the rolled-back deployments whose redeploy was
	// checked.
	executed map[string]bool
	// restarted is set by a restart, for the next check.
	restarted bool
}

func (inv *modelInvariants) init() {
	inv.breached, inv.triggered, inv.validated = map[string]bool{}, map[string]bool{}, map[string]bool{}
	inv.targeted, inv.executed = map[string]bool{}, map[string]bool{}
}

// check reads the database through the server's store and checks the rules
// that hold whatever the operations were:
//
//  1. a release that breached in its window is never health_check_passed
//     and never the target of a rollback chosen after the breach;
//  2. at most one unfinished rollback event per (service, environment);
//  3. every automatic rollback event has its trigger and its validation in
//     the audit trail;
//  4. no live release (the current deployment of its scope) is rolled_back,
//     and a release marked rolled_back was really replaced: its rollback's
//     execute step succeeded;
//  5. once the server settled (after a restart too), no rollback event and
//     no rollback redeploy is left in progress.
func (r *modelRun) check() {
	r.t.Helper()
	inv := &r.inv
	db := r.srv.Store.SQL()
	ctx := context.Background()

	// The rollback events, checked against the breaches known before
	// this step's rows are read: a target chosen now must not have
	// breached before.
	r.loadEvents(db)
	r.loadDeployments(db)
	for _, e := range inv.events {
		if e.target == "" || inv.targeted[e.id] {
			continue
		}
		inv.targeted[e.id] = true
		if inv.breached[e.target] {
			r.fail("rule 1: rollback event %s (of %s) targets %s, whose watch window breached", e.id, e.deploymentID, e.target)
		}
		t, nd := inv.byID[e.target], inv.byID[e.newID]
		if e.newID != "" && nd.id != "" && (nd.version != t.version || nd.commit != t.commit) {
			r.fail("rollback event %s redeployed %s %s, but its target %s is %s %s", e.id, nd.version, nd.commit, t.id, t.version, t.commit)
		}
	}
	r.loadAudit(db)
	for _, d := range inv.deployments {
		if d.detailsBreaches > 0 {
			inv.breached[d.id] = true
		}
	}
	r.stats["breached"] = len(inv.breached)

	// Rule 1: breached means never health_check_passed.
	for _, d := range inv.deployments {
		if inv.breached[d.id] && d.passed {
			r.fail("rule 1: deployment %s (%s/%s %s) breached in its window but is health_check_passed", d.id, d.service, d.env, d.version)
		}
	}

	// Rules 2, 3 and 5.
	unfinished := map[scope][]string{}
	automatic := 0
	for _, e := range inv.events {
		if e.status == roman.RollbackPending || e.status == roman.RollbackInProgress {
			k := scope{service: e.service, env: e.env}
			unfinished[k] = append(unfinished[k], e.id)
		}
		if e.trigger == roman.TriggerAutomatic {
			automatic++
			if !inv.triggered[e.deploymentID] {
				r.fail("rule 3: automatic rollback event %s of %s has no auto_rollback_triggered row", e.id, e.deploymentID)
			}
			if !inv.validated[e.id] {
				r.fail("rule 3: automatic rollback event %s of %s has no rollback_validation row", e.id, e.deploymentID)
			}
		}
	}
	for k, ids := range unfinished {
		if len(ids) > 1 {
			r.fail("rule 2: %d unfinished rollback events in %s/%s: %v", len(ids), k.service, k.env, ids)
		}
	}
	r.stats["rollback_events"], r.stats["automatic"] = len(inv.events), automatic
	for _, e := range inv.events {
		if e.status == roman.RollbackPending || e.status == roman.RollbackInProgress {
			r.fail("rule 5: rollback event %s is %s after the server settled (restarted in this step: %v)", e.id, e.status, inv.restarted)
		}
	}
	for _, d := range inv.deployments {
		if d.rollbackFrom != "" && d.status == roman.StatusInProgress {
			r.fail("rule 5: the redeploy %s of a rollback of %s is still in_progress after the server settled (restarted in this step: %v)", d.id, d.rollbackFrom, inv.restarted)
		}
	}
	inv.restarted = false

	// Rule 4.
	for _, k := range modelScopes {
		cur, err := r.srv.Store.CurrentDeployment(ctx, k.service, k.env)
		if err != nil {
			r.fail("current deployment: %v", err)
		}
		if cur != nil && cur.Status == roman.StatusRolledBack {
			r.fail("rule 4: the current deployment %s of %s/%s is rolled_back", cur.DeploymentID, k.service, k.env)
		}
	}
	rolled := 0
	for _, d := range inv.deployments {
		if d.status != roman.StatusRolledBack {
			continue
		}
		rolled++
		if inv.executed[d.id] {
			continue
		}
		inv.executed[d.id] = true
		evs, err := r.srv.Store.ListRollbackEvents(ctx, roman.RollbackFilter{DeploymentID: d.id, Limit: 100})
		if err != nil {
			r.fail("rollback events of %s: %v", d.id, err)
		}
		ok := false
		for _, e := range evs {
			for _, s := range e.RollbackSteps {
				if s.Name == roman.StepExecute && s.Status == roman.StepStatusSuccess {
					ok = true
				}
			}
		}
		if !ok {
			r.fail("rule 4: deployment %s is rolled_back, but no rollback of it redeployed its target: it is still what runs", d.id)
		}
	}
	r.stats["rolled_back"] = rolled
}

// loadDeployments reads every deployments row, oldest first.
func (r *modelRun) loadDeployments(db *sql.DB) {
	inv := &r.inv
	rows, err := db.Query(`SELECT deployment_id, service, environment, version, git_commit, status, health_check_passed,
		rollback_from, health_check_details FROM deployments ORDER BY deployed_at, id`)
	if err != nil {
		r.fail("reading deployments: %v", err)
	}
	defer rows.Close()
	inv.deployments, inv.byID = inv.deployments[:0], map[string]modelDeployment{}
	for rows.Next() {
		var d modelDeployment
		var from, details sql.NullString
		if err := rows.Scan(&d.id, &d.service, &d.env, &d.version, &d.commit, &d.status, &d.passed, &from, &details); err != nil {
			r.fail("reading deployments: %v", err)
		}
		d.rollbackFrom = from.String
		if details.Valid && details.String != "" {
			var det struct {
				Breaches []json.RawMessage `json:"breaches"`
			}
			if err := json.Unmarshal([]byte(details.String), &det); err == nil {
				d.detailsBreaches = len(det.Breaches)
			}
		}
		inv.deployments = append(inv.deployments, d)
		inv.byID[d.id] = d
	}
	if err := rows.Err(); err != nil {
		r.fail("reading deployments: %v", err)
	}
}

// loadEvents reads every rollback_events row with its plan's target and
// redeploy.
func (r *modelRun) loadEvents(db *sql.DB) {
	inv := &r.inv
	rows, err := db.Query(`SELECT event_id, deployment_id, service, environment, trigger_type, status,
		COALESCE(rollback_plan->>'target_deployment_id', ''), COALESCE(rollback_plan->>'new_deployment_id', '')
		FROM rollback_events ORDER BY id`)
	if err != nil {
		r.fail("reading rollback events: %v", err)
	}
	defer rows.Close()
	inv.events = inv.events[:0]
	for rows.Next() {
		var e modelEvent
		var env sql.NullString
		if err := rows.Scan(&e.id, &e.deploymentID, &e.service, &env, &e.trigger, &e.status, &e.target, &e.newID); err != nil {
			r.fail("reading rollback events: %v", err)
		}
		e.env = env.String
		inv.events = append(inv.events, e)
	}
	if err := rows.Err(); err != nil {
		r.fail("reading rollback events: %v", err)
	}
}

// loadAudit reads the roman_events rows written since the last check that
// the rules are about: breaches, triggers and validations.
func (r *modelRun) loadAudit(db *sql.DB) {
	inv := &r.inv
	rows, err := db.Query(fmt.Sprintf(`SELECT id, event_type, COALESCE(metadata->>'deployment_id', ''), COALESCE(metadata->>'event_id', '')
		FROM roman_events WHERE id > %d AND event_type IN ('%s', '%s', '%s') ORDER BY id`,
		inv.lastRow, roman.EventWatchBreach, roman.EventAutoRollbackTriggered, roman.EventRollbackValidation))
	if err != nil {
		r.fail("reading roman_events: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var typ, deploymentID, eventID string
		if err := rows.Scan(&id, &typ, &deploymentID, &eventID); err != nil {
			r.fail("reading roman_events: %v", err)
		}
		inv.lastRow = max(inv.lastRow, id)
		switch typ {
		case roman.EventWatchBreach:
			inv.breached[deploymentID] = true
		case roman.EventAutoRollbackTriggered:
			inv.triggered[deploymentID] = true
		case roman.EventRollbackValidation:
			inv.validated[eventID] = true
		}
	}
	if err := rows.Err(); err != nil {
		r.fail("reading roman_events: %v", err)
	}
}
