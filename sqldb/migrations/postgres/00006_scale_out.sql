-- Scale-out (SPEC §15): several roman replicas share this database and learn
-- of each other's changes through LISTEN/NOTIFY.
--
-- Every roman session sets the custom setting roman.replica to its
-- process's replica id (see sqldb.Open), so a notification says which
-- replica made the change and that replica, which told its own listeners
-- already, can skip it. Rows written by anyone else (an application
-- inserting into ops.error_events, a DBA) carry an empty origin and reach
-- every replica.
--
-- Channels:
--   roman_ingest  "<table>:<deployment_id>,…@<origin>" after inserts into
--                 error_events or metric_samples (the ids are empty after
--                 the first 100 deployments: "re-read everything").
--   roman_change  a JSON object {kind, environment, deployment_id,
--                 event_id, origin} after a deployment is recorded or
--                 changed (kind deployment), a rollback event is created or
--                 stepped (kind rollback), or a roman_events row is written
--                 (kind roman_event).
-- There is no SQLite counterpart: SQLite is one process.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION ops.roman_origin() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('roman.replica', true), '')
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ops.roman_notify_ingest() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ids text;
BEGIN
  SELECT CASE WHEN count(*) > 100 THEN '' ELSE string_agg(d::text, ',') END INTO ids
    FROM (SELECT DISTINCT deployment_id AS d FROM new_rows) t;
  IF ids IS NOT NULL THEN
    PERFORM pg_notify('roman_ingest', TG_TABLE_NAME || ':' || ids || '@' || ops.roman_origin());
  END IF;
  RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION ops.roman_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  payload jsonb;
BEGIN
  IF TG_TABLE_NAME = 'deployments' THEN
    payload := jsonb_build_object('kind', 'deployment', 'environment', NEW.environment,
      'deployment_id', NEW.deployment_id);
  ELSIF TG_TABLE_NAME = 'rollback_events' THEN
    payload := jsonb_build_object('kind', 'rollback', 'environment', NEW.environment,
      'deployment_id', NEW.deployment_id, 'event_id', NEW.event_id);
  ELSE
    payload := jsonb_build_object('kind', 'roman_event', 'environment', NEW.metadata->>'environment',
      'deployment_id', NEW.metadata->>'deployment_id', 'event_id', NEW.event_id);
  END IF;
  PERFORM pg_notify('roman_change', (payload || jsonb_build_object('origin', ops.roman_origin()))::text);
  RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER deployments_notify AFTER INSERT OR UPDATE ON ops.deployments
  FOR EACH ROW EXECUTE FUNCTION ops.roman_notify_change();
CREATE TRIGGER rollback_events_notify AFTER INSERT OR UPDATE ON ops.rollback_events
  FOR EACH ROW EXECUTE FUNCTION ops.roman_notify_change();
CREATE TRIGGER roman_events_notify AFTER INSERT ON ops.roman_events
  FOR EACH ROW EXECUTE FUNCTION ops.roman_notify_change();

-- +goose Down
DROP TRIGGER roman_events_notify ON ops.roman_events;
DROP TRIGGER rollback_events_notify ON ops.rollback_events;
DROP TRIGGER deployments_notify ON ops.deployments;
DROP FUNCTION ops.roman_notify_change();
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ops.roman_notify_ingest() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ids text;
BEGIN
  SELECT CASE WHEN count(*) > 100 THEN '' ELSE string_agg(d::text, ',') END INTO ids
    FROM (SELECT DISTINCT deployment_id AS d FROM new_rows) t;
  IF ids IS NOT NULL THEN
    PERFORM pg_notify('roman_ingest', TG_TABLE_NAME || ':' || ids);
  END IF;
  RETURN NULL;
END
$$;
-- +goose StatementEnd
DROP FUNCTION ops.roman_origin();
