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
--                 (kind roman_event); only kind and origin after a
--                 statement of more than 100 rows.
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

-- A statement's rows notify one by one; a statement of more than 100 rows
-- (a bulk load) notifies once without ids, which means "re-read
-- everything", so that a million-row insert does not queue a million
-- notifications. Transition tables need one trigger per event.
-- +goose StatementBegin
CREATE FUNCTION ops.roman_notify_change() RETURNS trigger
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

CREATE TRIGGER deployments_notify_insert AFTER INSERT ON ops.deployments
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.roman_notify_change();
CREATE TRIGGER deployments_notify_update AFTER UPDATE ON ops.deployments
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.roman_notify_change();
CREATE TRIGGER rollback_events_notify_insert AFTER INSERT ON ops.rollback_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.roman_notify_change();
CREATE TRIGGER rollback_events_notify_update AFTER UPDATE ON ops.rollback_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.roman_notify_change();
CREATE TRIGGER roman_events_notify_insert AFTER INSERT ON ops.roman_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.roman_notify_change();

-- +goose Down
DROP TRIGGER roman_events_notify_insert ON ops.roman_events;
DROP TRIGGER rollback_events_notify_update ON ops.rollback_events;
DROP TRIGGER rollback_events_notify_insert ON ops.rollback_events;
DROP TRIGGER deployments_notify_update ON ops.deployments;
DROP TRIGGER deployments_notify_insert ON ops.deployments;
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
