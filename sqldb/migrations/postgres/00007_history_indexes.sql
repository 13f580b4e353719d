-- Rollback history (SPEC §16: history with 1,000,000 events < 10 ms). The
-- history lists events newest first (initiated_at DESC, id DESC), optionally
-- of one environment, deployment or status. Unfiltered and by environment,
-- 00001's indexes give that order already; these give it by deployment (the
-- plain deployment_id index made every deployment's events be sorted) and
-- by status (a rare status walked the whole time index to find ten rows).
-- BenchmarkHistory1M checks each plan.

-- +goose Up
CREATE INDEX rollback_events_deployment_initiated_idx
  ON ops.rollback_events (deployment_id, initiated_at DESC, id DESC);
DROP INDEX ops.rollback_events_deployment_idx;
CREATE INDEX rollback_events_status_initiated_idx
  ON ops.rollback_events (status, initiated_at DESC, id DESC);

-- +goose Down
DROP INDEX ops.rollback_events_status_initiated_idx;
CREATE INDEX rollback_events_deployment_idx ON ops.rollback_events (deployment_id);
DROP INDEX ops.rollback_events_deployment_initiated_idx;
