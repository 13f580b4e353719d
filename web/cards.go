package web

import (
	"context"
	"time"

	"github.com/odyssey-1/roman"
)

// cardReads is how a summary build reads what its cards show: card by card
// (perCardReads), or for every card at once before the cards are put
// together (batchedReads). The cards are put together from the answers by
// the same code either way, so both give the same summary.
type cardReads interface {
	// deployment returns a deployment, nil when it cannot be read.
	deployment(ctx context.Context, id string) *roman.Deployment
	// version returns a deployment's version, "" when it cannot be read.
	version(ctx context.Context, id string) string
	health(ctx context.Context, dep *roman.Deployment) (roman.Health, error)
	// newErrors lists up to maxCardNewErrors of dep's new errors.
	newErrors(ctx context.Context, dep *roman.Deployment) ([]roman.ErrorGroup, error)
	// decisionRows are dep's newest maxDecisionRows rows of the decision
	// types, judgementRows its newest health_judgement rows.
	decisionRows(ctx context.Context, dep *roman.Deployment) ([]*roman.RomanEvent, error)
	judgementRows(ctx context.Context, dep *roman.Deployment) ([]*roman.RomanEvent, error)
	// latestRollback is the newest rollback event of a deployment,
	// latestScopeRollback that of cur's service and environment (nil:
	// none).
	latestRollback(ctx context.Context, deploymentID string) (*roman.RollbackEvent, error)
	latestScopeRollback(ctx context.Context, cur *roman.Deployment) (*roman.RollbackEvent, error)
	buckets(ctx context.Context, reqs []roman.BucketsRequest) ([][]int64, error)
}

// judgementRows bounds the health_judgement rows read per card.
const judgementRows = 10

// perCard reads each card on its own, a few statements per card.
type perCard struct {
	d    *Dashboard
	deps map[string]*roman.Deployment // read once per build; nil: unreadable
}

func (d *Dashboard) perCardReads() cardReads {
	return &perCard{d: d, deps: map[string]*roman.Deployment{}}
}

func (p *perCard) deployment(ctx context.Context, id string) *roman.Deployment {
	if dep, ok := p.deps[id]; ok {
		return dep
	}
	dep, err := p.d.cfg.Store.GetDeployment(ctx, id)
	if err != nil {
		dep = nil
	}
	p.deps[id] = dep
	return dep
}

func (p *perCard) version(ctx context.Context, id string) string {
	if dep := p.deployment(ctx, id); dep != nil {
		return dep.Version
	}
	return ""
}

func (p *perCard) health(ctx context.Context, dep *roman.Deployment) (roman.Health, error) {
	return p.d.cfg.Health.Check(ctx, dep)
}

func (p *perCard) newErrors(ctx context.Context, dep *roman.Deployment) ([]roman.ErrorGroup, error) {
	return p.d.cfg.Fingerprints.DeploymentErrors(ctx, dep.DeploymentID, roman.ErrorGroupFilter{NewOnly: true, Limit: maxCardNewErrors})
}

func (p *perCard) decisionRows(ctx context.Context, dep *roman.Deployment) ([]*roman.RomanEvent, error) {
	return p.d.cfg.Store.ListRomanEvents(ctx, roman.RomanEventFilter{DeploymentID: dep.DeploymentID, EventTypes: decisionTypes, Limit: maxDecisionRows})
}

func (p *perCard) judgementRows(ctx context.Context, dep *roman.Deployment) ([]*roman.RomanEvent, error) {
	return p.d.cfg.Store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventHealthJudgement, DeploymentID: dep.DeploymentID, Limit: judgementRows})
}

func (p *perCard) latestRollback(ctx context.Context, deploymentID string) (*roman.RollbackEvent, error) {
	return first(p.d.cfg.Store.ListRollbackEvents(ctx, roman.RollbackFilter{DeploymentID: deploymentID, Limit: 1}))
}

func (p *perCard) latestScopeRollback(ctx context.Context, cur *roman.Deployment) (*roman.RollbackEvent, error) {
	return first(p.d.cfg.Store.ListRollbackEvents(ctx, roman.RollbackFilter{Service: roman.ServiceOrDefault(cur.Service), Environment: cur.Environment, Limit: 1}))
}

func (p *perCard) buckets(ctx context.Context, reqs []roman.BucketsRequest) ([][]int64, error) {
	out := make([][]int64, len(reqs))
	for i, r := range reqs {
		b, err := p.d.cfg.Store.ErrorBuckets(ctx, r.DeploymentID, r.From, r.Step, r.N)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// first returns the first event of a list, nil when it is empty.
func first(evs []*roman.RollbackEvent, err error) (*roman.RollbackEvent, error) {
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	return evs[0], nil
}

// batched holds every card's reads, made for all cards at once.
type batched struct {
	cs             roman.DashboardStore
	deps           map[string]*roman.Deployment
	healths        map[string]healthResult
	newErrs        map[string][]roman.ErrorGroup
	decisions      map[string][]*roman.RomanEvent
	judgements     map[string][]*roman.RomanEvent
	fromRollbacks  map[string]*roman.RollbackEvent
	scopeRollbacks map[roman.ServiceEnvironment]*roman.RollbackEvent
	charts         map[bucketsKey][]int64
}

type healthResult struct {
	h   roman.Health
	err error
}

// bucketsKey identifies one request for error buckets.
type bucketsKey struct {
	id   string
	from int64 // Unix nanoseconds
	step time.Duration
	n    int
}

func keyOf(r roman.BucketsRequest) bucketsKey {
	return bucketsKey{id: r.DeploymentID, from: r.From.UnixNano(), step: r.Step, n: r.N}
}

// manyChecker is a health checker that checks many deployments at once
// (health.Checker's CheckMany).
type manyChecker interface {
	CheckMany(ctx context.Context, ds []*roman.Deployment, now time.Time) ([]roman.Health, []error)
}

// batchFingerprints lists the error groups of many deployments at once.
type batchFingerprints interface {
	DeploymentErrorsBatch(ctx context.Context, deploymentIDs []string, f roman.ErrorGroupFilter) (map[string][]roman.ErrorGroup, error)
}

// batchedReads reads what the cards of the active deployments and the
// rollback list show with a fixed number of statements: the newest
// rollbacks of the cards' services and of the deployments they replaced,
// every deployment named anywhere, the health of all (health.Checker's
// CheckMany when the checker has it), their new errors, decision and
// judgement rows, and every chart's counts.
func (d *Dashboard) batchedReads(ctx context.Context, cs roman.DashboardStore, events []*roman.RollbackEvent, active []*roman.Deployment, now time.Time) (cardReads, error) {
	b := &batched{cs: cs, charts: map[bucketsKey][]int64{}}
	scopes := make([]roman.ServiceEnvironment, 0, len(active))
	ids := make([]string, 0, len(active))
	var froms []string
	for _, dep := range active {
		scopes = append(scopes, roman.ServiceEnvironment{Service: roman.ServiceOrDefault(dep.Service), Environment: dep.Environment})
		ids = append(ids, dep.DeploymentID)
		if dep.RollbackFrom != nil {
			froms = append(froms, *dep.RollbackFrom)
		}
	}
	var err error
	if b.scopeRollbacks, err = cs.LatestScopeRollbackEvents(ctx, scopes); err != nil {
		return nil, err
	}
	if b.fromRollbacks, err = cs.LatestRollbackEvents(ctx, froms); err != nil {
		return nil, err
	}
	named := append([]string{}, froms...)
	for _, e := range events {
		named = append(named, e.DeploymentID)
	}
	for _, e := range b.scopeRollbacks {
		named = append(named, e.DeploymentID)
	}
	if b.deps, err = cs.GetDeployments(ctx, named); err != nil {
		return nil, err
	}
	if d.cfg.Health != nil {
		b.healths = make(map[string]healthResult, len(active))
		if mc, ok := d.cfg.Health.(manyChecker); ok {
			hs, errs := mc.CheckMany(ctx, active, now)
			for i, dep := range active {
				b.healths[dep.DeploymentID] = healthResult{hs[i], errs[i]}
			}
		} else {
			for _, dep := range active {
				h, err := d.cfg.Health.Check(ctx, dep)
				b.healths[dep.DeploymentID] = healthResult{h, err}
			}
		}
	}
	if d.cfg.Fingerprints != nil {
		var fresh []string
		for _, dep := range active {
			if r, ok := b.healths[dep.DeploymentID]; ok && r.err == nil && r.h.NewErrors != nil {
				fresh = append(fresh, dep.DeploymentID)
			}
		}
		f := roman.ErrorGroupFilter{NewOnly: true, Limit: maxCardNewErrors}
		if fb, ok := d.cfg.Fingerprints.(batchFingerprints); ok {
			if b.newErrs, err = fb.DeploymentErrorsBatch(ctx, fresh, f); err != nil {
				return nil, err
			}
		} else {
			b.newErrs = map[string][]roman.ErrorGroup{}
			for _, id := range fresh {
				if b.newErrs[id], err = d.cfg.Fingerprints.DeploymentErrors(ctx, id, f); err != nil {
					return nil, err
				}
			}
		}
	}
	if b.decisions, err = cs.DeploymentEventsBatch(ctx, ids, decisionTypes, maxDecisionRows); err != nil {
		return nil, err
	}
	if b.judgements, err = cs.DeploymentEventsBatch(ctx, ids, []string{roman.EventHealthJudgement}, judgementRows); err != nil {
		return nil, err
	}
	// Every chart's plan needs only what is read above; their counts are
	// read together.
	var reqs []roman.BucketsRequest
	for _, dep := range active {
		last, _ := b.latestScopeRollback(ctx, dep)
		reqs = append(reqs, d.planChart(ctx, dep, last, b.deployment, now).requests()...)
	}
	counts, err := cs.ErrorBucketsBatch(ctx, reqs)
	if err != nil {
		return nil, err
	}
	for i, r := range reqs {
		b.charts[keyOf(r)] = counts[i]
	}
	return b, nil
}

func (b *batched) deployment(_ context.Context, id string) *roman.Deployment { return b.deps[id] }

func (b *batched) version(_ context.Context, id string) string {
	if dep := b.deps[id]; dep != nil {
		return dep.Version
	}
	return ""
}

func (b *batched) health(_ context.Context, dep *roman.Deployment) (roman.Health, error) {
	r := b.healths[dep.DeploymentID]
	return r.h, r.err
}

func (b *batched) newErrors(_ context.Context, dep *roman.Deployment) ([]roman.ErrorGroup, error) {
	if gs := b.newErrs[dep.DeploymentID]; gs != nil {
		return gs, nil
	}
	return []roman.ErrorGroup{}, nil
}

func (b *batched) decisionRows(_ context.Context, dep *roman.Deployment) ([]*roman.RomanEvent, error) {
	return b.decisions[dep.DeploymentID], nil
}

func (b *batched) judgementRows(_ context.Context, dep *roman.Deployment) ([]*roman.RomanEvent, error) {
	return b.judgements[dep.DeploymentID], nil
}

func (b *batched) latestRollback(_ context.Context, deploymentID string) (*roman.RollbackEvent, error) {
	return b.fromRollbacks[deploymentID], nil
}

func (b *batched) latestScopeRollback(_ context.Context, cur *roman.Deployment) (*roman.RollbackEvent, error) {
	return b.scopeRollbacks[roman.ServiceEnvironment{Service: roman.ServiceOrDefault(cur.Service), Environment: cur.Environment}], nil
}

// buckets answers from the counts read for every chart; a request that was
// not foreseen (none is) is read on its own.
func (b *batched) buckets(ctx context.Context, reqs []roman.BucketsRequest) ([][]int64, error) {
	out := make([][]int64, len(reqs))
	var missing []roman.BucketsRequest
	for i, r := range reqs {
		if c, ok := b.charts[keyOf(r)]; ok {
			out[i] = c
		} else {
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	counts, err := b.cs.ErrorBucketsBatch(ctx, missing)
	if err != nil {
		return nil, err
	}
	j := 0
	for i := range out {
		if out[i] == nil {
			out[i] = counts[j]
			j++
		}
	}
	return out, nil
}
