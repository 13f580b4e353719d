// Package rollback runs rollbacks: the step machine (validate, snapshot,
// execute, verify, complete), its resumption after a crash and its alerts.
// Deployments, snapshots and migrations are the deploy package's services.
package rollback

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/odyssey-1/roman"
)

// DefaultExecutorTimeout bounds an executor run when none is configured.
const DefaultExecutorTimeout = 10 * time.Minute

// HealthChecker computes a deployment's health.
type HealthChecker interface {
	Check(ctx context.Context, d *roman.Deployment) (roman.Health, error)
}

// Store is what the rollback service reads and writes: the bad deployment,
// its target and the redeploy it records (DeploymentStore), the rollback
// event and its steps (RollbackStore), the migrations a with_migrations
// rollback undoes (MigrationStore) and the audit trail, which also queues
// alerts (EventStore). *sqldb.DB implements it.
type Store interface {
	roman.DeploymentStore
	roman.RollbackStore
	roman.MigrationStore
	roman.EventStore
}

// Service implements roman.RollbackService: validate → pre_rollback snapshot
// → identify target → mark the bad deployment rolled_back → record the new
// deployment → execute → verify → complete, each step appended to the
// event's rollback_steps as it happens.
type Service struct {
	Store     Store
	Validator roman.Validator
	Snapshots roman.SnapshotService
	Health    HealthChecker
	// Thresholds returns the trigger limits of an environment.
	Thresholds func(env string) roman.Thresholds
	// Executor returns the executor of an environment.
	Executor func(env string) roman.Executor
	// ExecutorTimeout bounds one executor run (default 10 minutes).
	ExecutorTimeout time.Duration
	Clock           roman.Clock
	Logger          *slog.Logger
	// Hub, when set, is told of every change to a rollback event and to the
	// deployments a rollback touches.
	Hub *roman.Hub
	// ObserveDetection, when set, receives the detection latency of each
	// automatic rollback: from RollbackRequest.DetectedAt to the moment its
	// rollback event is recorded.
	ObserveDetection func(time.Duration)

	// VerifyWindow returns how long the rolled-back system of an
	// environment is watched after the executor (config
	// verify_window). Nil or 0 is one immediate check.
	VerifyWindow func(env string) time.Duration
	// VerifyInterval is how often health is checked during the verify
	// window (default DefaultVerifyInterval).
	VerifyInterval time.Duration
	// Sleep waits for d on the service's clock or until ctx is done (default
	// a real timer): between the verify window's checks and before a retry
	// of a failed final status write. Tests pass one that advances a fake
	// clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// ResponseWait bounds how long Execute waits for the executor before it
	// answers with status in_progress (default DefaultResponseWait). It
	// never waits for a verify window: a rollback in verification is
	// answered in_progress at once.
	ResponseWait time.Duration
	// Migrations runs migration rollback scripts against the application
	// database (with_migrations). Nil aborts such a rollback with a message
	// naming ROMAN_APP_DATABASE.
	Migrations ScriptRunner
	// MigrationTimeout bounds one rollback's migration scripts (default
	// DefaultMigrationTimeout); when it passes, the transaction is rolled
	// back and the rollback aborted.
	MigrationTimeout time.Duration
	// Replica, when set, is recorded in each new event's metadata
	// (metadata.replica): the replica sharing the database that runs it,
	// so that only a rollback whose replica died is resumed by another.
	Replica string
	// Claim, when set, decides which unfinished events Resume picks up:
	// with several replicas, only those this replica claimed from a dead
	// one (it may rewrite ev.Metadata to name the new owner). Nil resumes
	// every unfinished event (one process).
	Claim func(ctx context.Context, ev *roman.RollbackEvent) bool
	// Fingerprints, when set, lists the bad deployment's new errors (up to
	// three fingerprints no earlier release had) on the alert that a
	// rollback starts.
	Fingerprints roman.FingerprintStore

	bg background
}

var _ roman.RollbackService = (*Service)(nil)

// Check computes a deployment's health and whether a trigger fires. With a
// store that reads a check at once (roman.CheckReader) and a health
// checker that computes health from such a read, the store is read once
// (checkOneRead); otherwise each part is read on its own. Both give the
// same answer.
func (s *Service) Check(ctx context.Context, deploymentID string) (*roman.CheckResult, error) {
	if !roman.ValidUUID(deploymentID) {
		return nil, roman.Errorf(roman.EINVALID, "invalid deployment_id %q: not a uuid", deploymentID)
	}
	if rd, ok := s.Store.(roman.CheckReader); ok {
		if hc, ok := s.Health.(OneReadChecker); ok {
			return s.checkOneRead(ctx, rd, hc, deploymentID)
		}
	}
	d, err := s.Store.GetDeployment(ctx, deploymentID)
	if err != nil {
		return nil, err
	}
	h, err := s.Health.Check(ctx, d)
	if err != nil {
		return nil, err
	}
	res := &roman.CheckResult{DeploymentID: deploymentID, ShouldRollback: h.Reason != "", Reason: h.Reason, Health: h}
	if err := s.suppression(ctx, d, res); err != nil {
		return nil, err
	}
	if res.Judgement, err = s.latestJudgement(ctx, d.DeploymentID); err != nil {
		return nil, err
	}
	judgementDecides(res)
	return res, nil
}

// OneReadChecker is a HealthChecker that computes a deployment's health
// from one read of a roman.CheckReader and returns that read with it
// (*health.Checker).
type OneReadChecker interface {
	CheckOneRead(ctx context.Context, rd roman.CheckReader, deploymentID string) (*roman.CheckRead, roman.Health, error)
}

// checkOneRead is Check from one read of the store: the suppression rows
// and the judgement rows come with the health's readings.
func (s *Service) checkOneRead(ctx context.Context, rd roman.CheckReader, hc OneReadChecker, deploymentID string) (*roman.CheckResult, error) {
	r, h, err := hc.CheckOneRead(ctx, rd, deploymentID)
	if err != nil {
		return nil, err
	}
	d := r.Deployment
	res := &roman.CheckResult{DeploymentID: deploymentID, ShouldRollback: h.Reason != "", Reason: h.Reason, Health: h}
	if d.Status != roman.StatusRolledBack {
		s.suppressionFrom(newestOf(r.Suppressed, r.Intervention), res)
	}
	var found bool
	if res.Judgement, found = actingJudgement(r.Judgements); !found && r.JudgementsCut {
		// The store left rows out after one it took for an acting verdict
		// that does not decode as one: look at all of them.
		if res.Judgement, err = s.latestJudgement(ctx, d.DeploymentID); err != nil {
			return nil, err
		}
	}
	judgementDecides(res)
	return res, nil
}

// judgementDecides lets the baseline judge's verdict, when there is one,
// decide the check: a regression (or the absolute DB-connection trigger)
// is the reason, the absolute error triggers alone are not.
func judgementDecides(res *roman.CheckResult) {
	if j := res.Judgement; j != nil && j.Judge == roman.JudgeBaseline && !j.Fallback {
		res.ShouldRollback, res.Reason = j.Verdict == roman.VerdictFail, j.Reason
	}
}

// latestJudgement returns the newest acting (not shadow) health_judgement
// among the newest roman.CheckJudgementRows of a deployment, or nil.
func (s *Service) latestJudgement(ctx context.Context, deploymentID string) (*roman.Judgement, error) {
	evs, err := s.Store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventHealthJudgement, DeploymentID: deploymentID, Limit: roman.CheckJudgementRows})
	if err != nil {
		return nil, err
	}
	mds := make([]json.RawMessage, len(evs))
	for i, e := range evs {
		mds[i] = e.Metadata
	}
	j, _ := actingJudgement(mds)
	return j, nil
}

// actingJudgement returns the judgement of the first of the rows'
// metadata (newest first) that holds one not marked shadow, and whether
// there was one.
func actingJudgement(metadata []json.RawMessage) (*roman.Judgement, bool) {
	for _, m := range metadata {
		var md struct {
			Judgement *roman.Judgement `json:"judgement"`
		}
		if json.Unmarshal(m, &md) == nil && md.Judgement != nil && !md.Judgement.Shadow {
			return md.Judgement, true
		}
	}
	return nil, false
}

// suppression fills the check result's suppressed fields from the newest
// monitor row saying an automatic rollback of d did not happen (storm
// protection, a constitutional rejection, a rollback that could not run).
// A deployment rolled back since, or a cooldown that is over, is not
// suppressed.
func (s *Service) suppression(ctx context.Context, d *roman.Deployment, res *roman.CheckResult) error {
	if d.Status == roman.StatusRolledBack {
		return nil
	}
	var rows [2]*roman.RomanEvent
	for i, typ := range []string{roman.EventAutoRollbackSuppressed, roman.EventManualIntervention} {
		evs, err := s.Store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: typ, DeploymentID: d.DeploymentID, Limit: 1})
		if err != nil {
			return err
		}
		if len(evs) > 0 {
			rows[i] = evs[0]
		}
	}
	s.suppressionFrom(newestOf(rows[0], rows[1]), res)
	return nil
}

// newestOf returns the newer of the newest auto_rollback_suppressed row
// and the newest manual_intervention_required row (the first on a tie),
// or nil when there is neither.
func newestOf(suppressed, intervention *roman.RomanEvent) *roman.RomanEvent {
	if suppressed == nil || intervention != nil && intervention.Timestamp.After(suppressed.Timestamp) {
		return intervention
	}
	return suppressed
}

// suppressionFrom fills the check result's suppressed fields from the
// newest suppression row, unless there is none or its cooldown is over.
func (s *Service) suppressionFrom(newest *roman.RomanEvent, res *roman.CheckResult) {
	if newest == nil {
		return
	}
	var md struct {
		By      string     `json:"suppressed_by"`
		Reason  string     `json:"suppressed_reason"`
		Until   *time.Time `json:"suppressed_until"`
		Command string     `json:"command"`
	}
	_ = json.Unmarshal(newest.Metadata, &md) // a row without the fields still says "suppressed"
	if md.Until != nil && !s.Clock().Before(*md.Until) {
		return
	}
	res.Suppressed, res.SuppressedBy, res.SuppressedUntil, res.Command = true, md.By, md.Until, md.Command
	res.SuppressedReason = md.Reason
	if res.SuppressedReason == "" {
		res.SuppressedReason = newest.Message
	}
}

// History returns rollback events newest first.
func (s *Service) History(ctx context.Context, f roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
	return s.Store.ListRollbackEvents(ctx, f)
}

// Validate answers the constitution's verdict for a would-be rollback
// without changing anything.
func (s *Service) Validate(ctx context.Context, req roman.RollbackRequest) (roman.Validation, error) {
	if err := checkRequest(&req); err != nil {
		return roman.Validation{}, err
	}
	d, err := s.Store.GetDeployment(ctx, req.DeploymentID)
	if err != nil {
		return roman.Validation{}, err
	}
	in, err := s.validationInput(ctx, req, d, nil)
	if err != nil {
		return roman.Validation{}, err
	}
	return s.Validator.Validate(ctx, in)
}

func checkRequest(req *roman.RollbackRequest) error {
	switch {
	case req.DeploymentID == "":
		return roman.Errorf(roman.EINVALID, "missing required field \"deployment_id\"")
	case !roman.ValidUUID(req.DeploymentID):
		return roman.Errorf(roman.EINVALID, "invalid deployment_id %q: not a uuid", req.DeploymentID)
	case req.TriggerReason == "":
		return roman.Errorf(roman.EINVALID, "missing required field \"trigger_reason\"")
	case req.InitiatedBy != "" && !roman.ValidUUID(req.InitiatedBy):
		return roman.Errorf(roman.EINVALID, "invalid initiated_by %q: not a uuid", req.InitiatedBy)
	case req.Override && !req.Admin:
		return roman.Errorf(roman.EFORBIDDEN, "override requires the admin role")
	}
	switch req.TriggerType {
	case "":
		req.TriggerType = roman.TriggerManual
	case roman.TriggerManual, roman.TriggerAutomatic, roman.TriggerConstitutionalViolation:
	default:
		return roman.Errorf(roman.EINVALID, "invalid trigger_type %q", req.TriggerType)
	}
	if req.Override && req.TriggerType == roman.TriggerAutomatic {
		return roman.Errorf(roman.EINVALID, "override is only for manual rollbacks")
	}
	if req.WithMigrations && req.TriggerType == roman.TriggerAutomatic {
		return roman.Errorf(roman.EINVALID, "with_migrations is only for manual rollbacks: automatic rollbacks never touch the schema")
	}
	return nil
}

// validationInput gathers everything the constitution looks at. pre, when
// not nil, is the deployment's health and judgement as Execute read them
// just before (reread); they are not read again.
func (s *Service) validationInput(ctx context.Context, req roman.RollbackRequest, d *roman.Deployment, pre *preRead) (roman.ValidationInput, error) {
	var h roman.Health
	var err error
	if pre != nil {
		h = pre.health
	} else if h, err = s.Health.Check(ctx, d); err != nil {
		return roman.ValidationInput{}, err
	}
	target, err := s.Store.FindRollbackTarget(ctx, d)
	if err != nil {
		return roman.ValidationInput{}, err
	}
	db, err := s.databaseState(ctx, d.DeploymentID)
	if err != nil {
		return roman.ValidationInput{}, err
	}
	t := s.Thresholds(d.Environment)
	j := req.Judgement
	if j == nil && pre != nil && pre.judged {
		j = pre.judgement
	} else if j == nil {
		if j, err = s.latestJudgement(ctx, d.DeploymentID); err != nil {
			return roman.ValidationInput{}, err
		}
	}
	return roman.ValidationInput{
		Judgement:   j,
		Action:      roman.RollbackProfile(req.TriggerReason),
		Trigger:     req.TriggerType,
		Deployment:  d,
		Target:      target,
		Environment: d.Environment,
		Health:      h,
		Thresholds:  t,
		Entropy:     h.Entropy(t),
		Database:    db,
		InitiatedBy: req.InitiatedBy,
		Override:    req.Override,
		Now:         roman.UTC(s.Clock()),
	}, nil
}

// databaseState is inconsistent when a migration of the deployment failed or
// its rollback script failed (constitution rule 7).
func (s *Service) databaseState(ctx context.Context, deploymentID string) (roman.DatabaseState, error) {
	ms, err := s.Store.ListMigrations(ctx, deploymentID)
	if err != nil {
		return roman.DatabaseState{}, err
	}
	for _, m := range ms {
		if m.ErrorMessage != nil && *m.ErrorMessage != "" {
			return roman.DatabaseState{Reason: "migration " + m.MigrationName + " failed: " + *m.ErrorMessage}, nil
		}
		if m.RollbackSuccessful != nil && !*m.RollbackSuccessful {
			return roman.DatabaseState{Reason: "rollback of migration " + m.MigrationName + " failed"}, nil
		}
	}
	return roman.DatabaseState{Consistent: true}, nil
}

// Execute validates and runs a rollback.
func (s *Service) Execute(ctx context.Context, req roman.RollbackRequest) (*roman.RollbackResult, error) {
	if err := checkRequest(&req); err != nil {
		return nil, err
	}
	// The rollback must finish even if the caller hangs up.
	ctx = context.WithoutCancel(ctx)
	start := s.Clock()
	d, err := s.Store.GetDeployment(ctx, req.DeploymentID)
	if err != nil {
		return nil, err
	}
	if d.Status == roman.StatusRolledBack {
		return nil, s.alreadyRolledBack(ctx, d)
	}
	if !roman.CanTransition(d.Status, roman.StatusRolledBack) {
		return nil, roman.Errorf(roman.ECONFLICT, "deployment %s is %q and cannot be rolled back", d.DeploymentID, d.Status)
	}

	// The exactly-once guard comes before validation: a second request for
	// the environment gets 409 with the unfinished event, never a 422.
	meta := map[string]any{"caller": req.Caller, "override": req.Override, "with_migrations": req.WithMigrations}
	if s.Replica != "" {
		meta["replica"] = s.Replica
	}
	ev := &roman.RollbackEvent{
		EventID:       roman.NewUUID(),
		DeploymentID:  d.DeploymentID,
		Service:       d.Service,
		Environment:   d.Environment,
		TriggerType:   req.TriggerType,
		TriggerReason: req.TriggerReason,
		InitiatedAt:   roman.UTC(start),
		Status:        roman.RollbackPending,
		Metadata:      mustJSON(meta),
	}
	if req.InitiatedBy != "" {
		ev.InitiatedBy = &req.InitiatedBy
	}
	if err := s.Store.CreateRollbackEvent(ctx, ev); err != nil {
		return nil, err
	}
	if s.ObserveDetection != nil && !req.DetectedAt.IsZero() {
		// Latency is real elapsed time, not a decision input, so it is
		// measured on the wall clock even when the service's clock is fake.
		s.ObserveDetection(time.Since(req.DetectedAt))
	}
	// Another rollback of the deployment may have finished between the read
	// above and the insert: it marked the deployment rolled_back while its
	// event was still unfinished, so a fresh read tells.
	cur, pre := s.reread(ctx, d.DeploymentID)
	if cur != nil && cur.Status == roman.StatusRolledBack {
		conflict := s.alreadyRolledBack(ctx, cur)
		st, now := roman.RollbackAborted, roman.UTC(s.Clock())
		if uerr := s.Store.UpdateRollbackEvent(ctx, ev.EventID, roman.RollbackEventUpdate{Status: &st, CompletedAt: &now,
			Metadata: mustJSON(map[string]any{"caller": req.Caller, "failure": roman.ErrorMessage(conflict)})}); uerr != nil {
			s.Logger.Error("aborting a duplicate rollback event failed", "event_id", ev.EventID, "err", uerr)
		}
		return nil, conflict
	}
	r := newRun(s, ev, d, req)
	r.pre = pre
	return r.run(ctx)
}

// preRead is the bad deployment's health and acting judgement as reread
// found them, for the validation that follows at once.
type preRead struct {
	health roman.Health
	// judgement is the acting judgement when judged is set; otherwise the
	// validation reads it (the one read left rows out).
	judgement *roman.Judgement
	judged    bool
}

// reread reads the deployment again after its rollback event was recorded
// (nil when the read failed). With a store that reads a check at once
// (roman.CheckReader) and a health checker that computes health from such
// a read, the same read also gives the deployment's health and judgement
// rows, which the validation needs next: one round trip instead of the
// six separate reads (the deployment, four for the health, the judgement
// rows). The answer is the same either way.
func (s *Service) reread(ctx context.Context, deploymentID string) (*roman.Deployment, *preRead) {
	if rd, ok := s.Store.(roman.CheckReader); ok {
		if hc, ok := s.Health.(OneReadChecker); ok {
			if r, h, err := hc.CheckOneRead(ctx, rd, deploymentID); err == nil {
				pre := &preRead{health: h}
				var found bool
				pre.judgement, found = actingJudgement(r.Judgements)
				pre.judged = found || !r.JudgementsCut
				return r.Deployment, pre
			}
		}
	}
	cur, err := s.Store.GetDeployment(ctx, deploymentID)
	if err != nil {
		return nil, nil
	}
	return cur, nil
}

// alreadyRolledBack is the 409 for a deployment that is already rolled back,
// naming the event that did it.
func (s *Service) alreadyRolledBack(ctx context.Context, d *roman.Deployment) error {
	e := roman.Errorf(roman.ECONFLICT, "deployment %s is already rolled_back", d.DeploymentID)
	// The event that did it is the newest one that got past validation: it
	// may still be running (in_progress), or have failed after marking.
	evs, err := s.Store.ListRollbackEvents(ctx, roman.RollbackFilter{DeploymentID: d.DeploymentID, Limit: 100})
	for _, ev := range evs {
		if err == nil && ev.Status != roman.RollbackAborted {
			e.EventID = ev.EventID
			e.Message += " by rollback event " + ev.EventID
			break
		}
	}
	return e
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with marshalable values
	}
	return b
}

func ptrTime(t time.Time) *time.Time { return &t }
