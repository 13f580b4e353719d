-- Services: a deployment belongs to a service (default 'default') in an
-- environment, and every per-environment rule applies per (service,
-- environment), so two services deploying to the same environment never
-- block or roll back each other. Rows written without a service (the
-- seed's SQL) belong to 'default'. A rollback event carries the service of
-- the deployment it rolls back: the database allows one unfinished
-- rollback per (service, environment). The lookups of "the current
-- deployment" and "the rollback target" of a (service, environment) walk
-- deployments_service_environment_deployed_at_idx; lists by environment
-- alone keep deployments_environment_deployed_at_idx. Change notifications
-- (roman_change) name the service too, so that another replica's monitor
-- re-reads the right (service, environment).

-- +goose Up
ALTER TABLE ops.deployments ADD COLUMN service text NOT NULL DEFAULT 'default';
CREATE INDEX deployments_service_environment_deployed_at_idx
  ON ops.deployments (service, environment, deployed_at DESC, id DESC);
ALTER TABLE ops.rollback_events ADD COLUMN service text NOT NULL DEFAULT 'default';
DROP INDEX ops.rollback_events_one_unfinished_idx;
CREATE UNIQUE INDEX rollback_events_one_unfinished_idx
  ON ops.rollback_events (service, environment) WHERE status IN ('pending', 'in_progress');
CREATE INDEX rollback_events_service_environment_idx
  ON ops.rollback_events (service, environment, initiated_at DESC, id DESC);

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ops.roman_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  origin text := ops.roman_origin();
  kind text := CASE TG_TABLE_NAME WHEN 'deployments' THEN 'deployment'
    WHEN 'rollback_events' THEN 'rollback' ELSE 'roman_event' END;
BEGIN
  SELECT count(*) INTO n FROM (SELECT 1 FROM new_rows LIMIT 101) t;
  IF n = 0 THEN
    RETURN NULL;
  ELSIF n > 100 THEN
    PERFORM pg_notify('roman_change', jsonb_build_object('kind', kind, 'origin', origin)::text);
  ELSIF TG_TABLE_NAME = 'deployments' THEN
    PERFORM pg_notify('roman_change', jsonb_build_object('kind', kind, 'service', service, 'environment', environment,
      'deployment_id', deployment_id, 'origin', origin)::text) FROM new_rows;
  ELSIF TG_TABLE_NAME = 'rollback_events' THEN
    PERFORM pg_notify('roman_change', jsonb_build_object('kind', kind, 'service', service, 'environment', environment,
      'deployment_id', deployment_id, 'event_id', event_id, 'origin', origin)::text) FROM new_rows;
  ELSE
    PERFORM pg_notify('roman_change', jsonb_build_object('kind', kind, 'service', metadata->>'service',
      'environment', metadata->>'environment',
      'deployment_id', metadata->>'deployment_id', 'event_id', event_id, 'origin', origin)::text) FROM new_rows;
  END IF;
  RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ops.roman_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  origin text := ops.roman_origin();
  kind text := CASE TG_TABLE_NAME WHEN 'deployments' THEN 'deployment'
    WHEN 'rollback_events' THEN 'rollback' ELSE 'roman_event' END;
BEGIN
  SELECT count(*) INTO n FROM (SELECT 1 FROM new_rows LIMIT 101) t;
  IF n = 0 THEN
    RETURN NULL;
  ELSIF n > 100 THEN
    PERFORM pg_notify('roman_change', jsonb_build_object('kind', kind, 'origin', origin)::text);
  ELSIF TG_TABLE_NAME = 'deployments' THEN
    PERFORM pg_notify('roman_change', jsonb_build_object('kind', kind, 'environment', environment,
      'deployment_id', deployment_id, 'origin', origin)::text) FROM new_rows;
  ELSIF TG_TABLE_NAME = 'rollback_events' THEN
    PERFORM pg_notify('roman_change', jsonb_build_object('kind', kind, 'environment', environment,
      'deployment_id', deployment_id, 'event_id', event_id, 'origin', origin)::text) FROM new_rows;
  ELSE
    PERFORM pg_notify('roman_change', jsonb_build_object('kind', kind, 'environment', metadata->>'environment',
      'deployment_id', metadata->>'deployment_id', 'event_id', event_id, 'origin', origin)::text) FROM new_rows;
  END IF;
  RETURN NULL;
END
$$;
-- +goose StatementEnd
DROP INDEX ops.rollback_events_service_environment_idx;
DROP INDEX ops.rollback_events_one_unfinished_idx;
CREATE UNIQUE INDEX rollback_events_one_unfinished_idx
  ON ops.rollback_events (environment) WHERE status IN ('pending', 'in_progress');
ALTER TABLE ops.rollback_events DROP COLUMN service;
DROP INDEX ops.deployments_service_environment_deployed_at_idx;
ALTER TABLE ops.deployments DROP COLUMN service;
