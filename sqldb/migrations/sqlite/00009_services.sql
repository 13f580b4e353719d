-- Services: a deployment belongs to a service (default 'default') in an
-- environment, and every per-environment rule applies per (service,
-- environment), so two services deploying to the same environment never
-- block or roll back each other. Rows written without a service (the
-- seed's SQL) belong to 'default'. A rollback event carries the service of
-- the deployment it rolls back: the database allows one unfinished
-- rollback per (service, environment). The lookups of "the current
-- deployment" and "the rollback target" of a (service, environment) walk
-- deployments_service_environment_deployed_at_idx; lists by environment
-- alone keep deployments_environment_deployed_at_idx.

-- +goose Up
ALTER TABLE deployments ADD COLUMN service TEXT NOT NULL DEFAULT 'default';
CREATE INDEX deployments_service_environment_deployed_at_idx
  ON deployments (service, environment, deployed_at DESC, id DESC);
ALTER TABLE rollback_events ADD COLUMN service TEXT NOT NULL DEFAULT 'default';
DROP INDEX rollback_events_one_unfinished_idx;
CREATE UNIQUE INDEX rollback_events_one_unfinished_idx
  ON rollback_events (service, environment) WHERE status IN ('pending', 'in_progress');
CREATE INDEX rollback_events_service_environment_idx
  ON rollback_events (service, environment, initiated_at DESC, id DESC);

-- +goose Down
DROP INDEX rollback_events_service_environment_idx;
DROP INDEX rollback_events_one_unfinished_idx;
CREATE UNIQUE INDEX rollback_events_one_unfinished_idx
  ON rollback_events (environment) WHERE status IN ('pending', 'in_progress');
ALTER TABLE rollback_events DROP COLUMN service;
DROP INDEX deployments_service_environment_deployed_at_idx;
ALTER TABLE deployments DROP COLUMN service;
