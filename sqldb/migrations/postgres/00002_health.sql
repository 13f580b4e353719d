-- Health in SQL (SPEC §2, §4): the thresholds roman runs with, the seed's
-- ops.get_deployment_health(uuid) as a real function returning the same JSON
-- as the server's health computation (roman.EvaluateHealth over the built-in
-- source), and a notification so that rows an application inserts straight
-- into ops.error_events wake the monitor at once.

-- +goose Up

-- The thresholds of each environment, written by roman at every start from
-- its configuration (environment '*' holds the defaults every environment
-- shares). The row below is the seed's numbers, so the function answers
-- before roman first starts.
CREATE TABLE ops.health_settings (
  environment text PRIMARY KEY,
  error_rate double precision NOT NULL,
  recent_errors bigint NOT NULL,
  db_connections double precision NOT NULL,
  warn_error_rate double precision NOT NULL,
  warn_p95_ms double precision NOT NULL,
  warn_memory_percent double precision NOT NULL,
  consecutive_breaches integer NOT NULL DEFAULT 1,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ops.health_settings (environment, error_rate, recent_errors, db_connections,
  warn_error_rate, warn_p95_ms, warn_memory_percent, consecutive_breaches)
VALUES ('*', 5, 50, 90, 1, 5000, 95, 1);

-- An application inserting straight into ops.error_events needs to give
-- only deployment_id and message.
ALTER TABLE ops.error_events ALTER COLUMN occurred_at SET DEFAULT now();
ALTER TABLE ops.error_events ALTER COLUMN severity SET DEFAULT 'error';
ALTER TABLE ops.error_events ALTER COLUMN fingerprint SET DEFAULT '';
ALTER TABLE ops.error_events ALTER COLUMN environment SET DEFAULT '';
ALTER TABLE ops.metric_samples ALTER COLUMN at SET DEFAULT now();
ALTER TABLE ops.metric_samples ALTER COLUMN environment SET DEFAULT '';

-- ops.roman_format_rate prints a number as roman.FormatRate does: at most one
-- decimal, rounded half away from zero, none when whole (9, 8.5).
-- +goose StatementBegin
CREATE FUNCTION ops.roman_format_rate(v double precision) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT ((trunc(v * 10 + CASE WHEN v < 0 THEN -0.5 ELSE 0.5 END) / 10)::numeric)::text
$$;
-- +goose StatementEnd

-- ops.roman_sustained returns the smallest of the newest n samples of a
-- signal taken in (p_now - 5 minutes, p_now], or NULL when there are fewer
-- than n: a sampled signal fires a trigger only when its last n readings all
-- breach (consecutive_breaches).
-- +goose StatementBegin
CREATE FUNCTION ops.roman_sustained(p_deployment_id uuid, p_name text, p_now timestamptz, n integer)
RETURNS double precision LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN count(*) = n THEN min(value) END FROM (
    SELECT value FROM ops.metric_samples
    WHERE deployment_id = p_deployment_id AND name = p_name
      AND at > p_now - interval '5 minutes' AND at <= p_now
    ORDER BY at DESC, id DESC LIMIT n) latest
$$;
-- +goose StatementEnd

-- ops.get_deployment_health(uuid, timestamptz) is the health object of SPEC
-- §4 at a given time; NULL for an unknown deployment. It mirrors
-- roman.EvaluateHealth line by line: keep the two in step (a test compares
-- them on the same data).
-- +goose StatementBegin
CREATE FUNCTION ops.get_deployment_health(p_deployment_id uuid, p_now timestamptz)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
  env text;
  s ops.health_settings%ROWTYPE;
  n1 bigint;
  n5 bigint;
  m jsonb;
  rate double precision;
  recent bigint;
  rate_t double precision;
  recent_t bigint;
  util double precision;
  util_t double precision;
  p95 double precision;
  mem double precision;
  reason text;
  warnings jsonb := '[]'::jsonb;
  status text;
  out jsonb;
BEGIN
  SELECT environment INTO env FROM ops.deployments WHERE deployment_id = p_deployment_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT * INTO s FROM ops.health_settings
    WHERE environment IN (env, '*') ORDER BY environment = '*' LIMIT 1;
  IF NOT FOUND THEN
    s.error_rate := 5; s.recent_errors := 50; s.db_connections := 90;
    s.warn_error_rate := 1; s.warn_p95_ms := 5000; s.warn_memory_percent := 95;
    s.consecutive_breaches := 1;
  END IF;

  -- Errors count for their deployment by occurred_at alone.
  SELECT count(*) FILTER (WHERE occurred_at > p_now - interval '1 minute'), count(*)
    INTO n1, n5
    FROM ops.error_events
    WHERE deployment_id = p_deployment_id
      AND occurred_at > p_now - interval '5 minutes' AND occurred_at <= p_now;

  -- The newest sample of each signal in the last five minutes.
  SELECT coalesce(jsonb_object_agg(name, value), '{}'::jsonb) INTO m FROM (
    SELECT DISTINCT ON (name) name, value FROM ops.metric_samples
    WHERE deployment_id = p_deployment_id
      AND at > p_now - interval '5 minutes' AND at <= p_now
    ORDER BY name, at DESC, id DESC) latest;

  -- A sampled error rate or count (e.g. pushed by the application) counts
  -- when it is worse than the counted events.
  rate := greatest(n1::double precision, (m->>'error_rate_per_minute')::double precision);
  recent := greatest(n5, floor((m->>'recent_errors')::double precision + 0.5)::bigint);
  rate_t := greatest(n1::double precision,
    ops.roman_sustained(p_deployment_id, 'error_rate_per_minute', p_now, s.consecutive_breaches));
  recent_t := greatest(n5, floor(ops.roman_sustained(p_deployment_id, 'recent_errors', p_now, s.consecutive_breaches) + 0.5)::bigint);
  util := (m->>'database_connection_utilization')::double precision;
  util_t := ops.roman_sustained(p_deployment_id, 'database_connection_utilization', p_now, s.consecutive_breaches);
  p95 := (m->>'p95_response_time_ms')::double precision;
  mem := (m->>'memory_usage_percent')::double precision;

  -- Triggers in SPEC order; the first that fires is the reason.
  IF rate_t > s.error_rate THEN
    reason := 'High error rate: ' || ops.roman_format_rate(rate) || ' errors/minute';
  ELSIF recent_t > s.recent_errors THEN
    reason := 'Too many recent errors: ' || recent || ' in 5 minutes';
  ELSIF util_t IS NOT NULL AND util_t > s.db_connections THEN
    reason := 'Database connection utilization at ' || ops.roman_format_rate(util) || '%';
  END IF;

  -- Warnings never roll back.
  IF p95 IS NOT NULL AND p95 > s.warn_p95_ms THEN
    warnings := warnings || to_jsonb('Slow responses: p95 ' || ops.roman_format_rate(p95) || ' ms');
  END IF;
  IF mem IS NOT NULL AND mem > s.warn_memory_percent THEN
    warnings := warnings || to_jsonb('Memory usage at ' || ops.roman_format_rate(mem) || '%');
  END IF;
  IF reason IS NULL AND rate >= s.warn_error_rate THEN
    warnings := warnings || to_jsonb('Elevated error rate: ' || ops.roman_format_rate(rate) || ' errors/minute');
  END IF;

  IF reason IS NOT NULL THEN
    status := 'unhealthy';
  ELSIF jsonb_array_length(warnings) > 0 THEN
    status := 'degraded';
  ELSE
    status := 'healthy';
  END IF;

  out := jsonb_build_object(
    'healthy', reason IS NULL,
    'status', status,
    'error_rate_per_minute', rate,
    'recent_errors', recent,
    'database_connections', m->'database_connections',
    'database_connection_utilization', m->'database_connection_utilization',
    'active_queries', m->'active_queries',
    'p95_response_time_ms', m->'p95_response_time_ms',
    'memory_usage_percent', m->'memory_usage_percent',
    'warnings', warnings,
    -- RFC 3339 in UTC with the fraction's trailing zeros trimmed, as Go
    -- prints a time.
    'timestamp', regexp_replace(to_char(p_now AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '\.?0+$', '') || 'Z');
  IF reason IS NOT NULL THEN
    out := out || jsonb_build_object('reason', reason);
  END IF;
  RETURN out;
END
$$;
-- +goose StatementEnd

-- The seed's form: health now.
-- +goose StatementBegin
CREATE FUNCTION ops.get_deployment_health(p_deployment_id uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT ops.get_deployment_health(p_deployment_id, now())
$$;
-- +goose StatementEnd

-- Rows inserted into error_events or metric_samples by anyone (roman's own
-- ingest included) notify channel roman_ingest with "<table>:<id>,<id>…",
-- the deployments the statement touched (empty after the first 100, which
-- means "re-read everything"), so the monitor re-evaluates them at once.
-- +goose StatementBegin
CREATE FUNCTION ops.roman_notify_ingest() RETURNS trigger
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
CREATE TRIGGER error_events_notify AFTER INSERT ON ops.error_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.roman_notify_ingest();
CREATE TRIGGER metric_samples_notify AFTER INSERT ON ops.metric_samples
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.roman_notify_ingest();

-- +goose Down
DROP TRIGGER metric_samples_notify ON ops.metric_samples;
DROP TRIGGER error_events_notify ON ops.error_events;
DROP FUNCTION ops.roman_notify_ingest();
DROP FUNCTION ops.get_deployment_health(uuid);
DROP FUNCTION ops.get_deployment_health(uuid, timestamptz);
DROP FUNCTION ops.roman_sustained(uuid, text, timestamptz, integer);
DROP FUNCTION ops.roman_format_rate(double precision);
ALTER TABLE ops.metric_samples ALTER COLUMN environment DROP DEFAULT;
ALTER TABLE ops.metric_samples ALTER COLUMN at DROP DEFAULT;
ALTER TABLE ops.error_events ALTER COLUMN environment DROP DEFAULT;
ALTER TABLE ops.error_events ALTER COLUMN fingerprint DROP DEFAULT;
ALTER TABLE ops.error_events ALTER COLUMN severity DROP DEFAULT;
ALTER TABLE ops.error_events ALTER COLUMN occurred_at DROP DEFAULT;
DROP TABLE ops.health_settings;
