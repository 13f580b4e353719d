-- ops.get_deployment_health(uuid, timestamptz) as in 00008, with the
-- release's firing alerts of other tools (Alertmanager, table
-- integration_alerts) read as the server's health check reads them: a
-- firing trigger alert that started after the release is a trigger (reason
-- "Alert firing: <alertname>: <summary>"), any other firing alert a warning,
-- and the alerts are listed under "alerts". Which alert names are triggers
-- is each environment's alert_triggers, which roman now writes to
-- health_settings with the thresholds.

-- +goose Up
ALTER TABLE ops.health_settings ADD COLUMN alert_triggers jsonb NOT NULL DEFAULT '[]'::jsonb;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ops.get_deployment_health(p_deployment_id uuid, p_now timestamptz)
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
  deployed timestamptz;
  trigger_names text[];
  a record;
  alerts jsonb := '[]'::jsonb;
  alert_text text;
BEGIN
  SELECT environment, coalesce(deployed_at, '-infinity') INTO env, deployed FROM ops.deployments WHERE deployment_id = p_deployment_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT * INTO s FROM ops.health_settings
    WHERE environment IN (env, '*') ORDER BY environment = '*' LIMIT 1;
  IF NOT FOUND THEN
    s.error_rate := 5; s.recent_errors := 50; s.db_connections := 90;
    s.warn_error_rate := 1; s.warn_p95_ms := 5000; s.warn_memory_percent := 95;
    s.consecutive_breaches := 1; s.alert_triggers := '[]'::jsonb;
  END IF;
  trigger_names := ARRAY(SELECT jsonb_array_elements_text(coalesce(s.alert_triggers, '[]'::jsonb)));

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

  -- Triggers in the documented order; the first that fires is the reason.
  IF rate_t > s.error_rate THEN
    reason := 'High error rate: ' || ops.roman_format_error_rate(rate);
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
    warnings := warnings || to_jsonb('Elevated error rate: ' || ops.roman_format_error_rate(rate));
  END IF;

  -- The release's firing alerts of other tools (Alertmanager), as the
  -- server reads them: at most 50, those that may be triggers (labelled
  -- roman_trigger="true" or named in alert_triggers, and started at or after
  -- the deployment) first, oldest first within each kind. The first trigger
  -- that started after the release is the reason when nothing else fired; a
  -- trigger that started before it is a warning (it never rolls the release
  -- back), and so is every other firing alert.
  FOR a IN
    SELECT i.alertname, i.summary, i.fingerprint, i.starts_at, i.attribution_rule,
      i.labelled_trigger OR i.alertname = ANY (trigger_names) AS is_trigger,
      i.starts_at < deployed AS pre_existing
    FROM ops.integration_alerts i
    WHERE i.deployment_id = p_deployment_id AND i.status = 'firing'
    ORDER BY (i.labelled_trigger OR i.alertname = ANY (trigger_names)) AND i.starts_at >= deployed DESC, i.starts_at, i.id
    LIMIT 50
  LOOP
    alerts := alerts || jsonb_strip_nulls(jsonb_build_object(
      'alertname', a.alertname,
      'summary', nullif(a.summary, ''),
      'fingerprint', a.fingerprint,
      'starts_at', regexp_replace(to_char(a.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '\.?0+$', '') || 'Z',
      'attribution_rule', a.attribution_rule,
      'trigger', a.is_trigger,
      'pre_existing', CASE WHEN a.pre_existing THEN true END));
    alert_text := a.alertname || CASE WHEN a.summary <> '' THEN ': ' || a.summary ELSE '' END;
    IF a.is_trigger AND NOT a.pre_existing THEN
      IF reason IS NULL THEN
        reason := 'Alert firing: ' || alert_text;
      END IF;
    ELSIF a.is_trigger THEN
      warnings := warnings || to_jsonb('Alert firing since before this release: ' || alert_text);
    ELSE
      warnings := warnings || to_jsonb('Alert firing: ' || alert_text);
    END IF;
  END LOOP;

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
  IF jsonb_array_length(alerts) > 0 THEN
    out := out || jsonb_build_object('alerts', alerts);
  END IF;
  RETURN out;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ops.get_deployment_health(p_deployment_id uuid, p_now timestamptz)
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

  -- Triggers in the documented order; the first that fires is the reason.
  IF rate_t > s.error_rate THEN
    reason := 'High error rate: ' || ops.roman_format_error_rate(rate);
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
    warnings := warnings || to_jsonb('Elevated error rate: ' || ops.roman_format_error_rate(rate));
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
ALTER TABLE ops.health_settings DROP COLUMN alert_triggers;
