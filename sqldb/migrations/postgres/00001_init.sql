-- roman's schema on PostgreSQL. The four seed tables are column for column
-- the seed's CREATE TABLE statements (docs: ROLLBACK_PROCEDURES.md, "Database
-- Schema"), except that deployed_by and initiated_by are plain nullable uuids
-- (auth.users exists only on Supabase) and rollback_events has an added
-- environment column for the exactly-once index.

-- +goose Up
-- Schema ops itself is created by sqldb before goose runs: goose keeps its
-- version table in it.

CREATE TABLE ops.deployments (
  id bigserial PRIMARY KEY,
  deployment_id uuid UNIQUE NOT NULL,
  environment text NOT NULL,
  version text NOT NULL,
  git_commit text NOT NULL,
  git_branch text NOT NULL,
  deployed_by uuid,
  deployed_at timestamptz DEFAULT now(),
  status text NOT NULL,
  rollback_from uuid REFERENCES ops.deployments(deployment_id),
  health_check_passed boolean DEFAULT false,
  health_check_details jsonb,
  constitutional_validation jsonb,
  metadata jsonb,
  completed_at timestamptz,
  rolled_back_at timestamptz
);
CREATE INDEX deployments_environment_deployed_at_idx
  ON ops.deployments (environment, deployed_at DESC, id DESC);
CREATE INDEX deployments_deployed_at_idx ON ops.deployments (deployed_at DESC, id DESC);

CREATE TABLE ops.rollback_events (
  id bigserial PRIMARY KEY,
  event_id uuid UNIQUE NOT NULL,
  deployment_id uuid REFERENCES ops.deployments(deployment_id),
  trigger_type text NOT NULL,
  trigger_reason text NOT NULL,
  initiated_by uuid,
  initiated_at timestamptz DEFAULT now(),
  status text NOT NULL,
  rollback_plan jsonb,
  rollback_steps jsonb[],
  constitutional_validation jsonb,
  completed_at timestamptz,
  metadata jsonb,
  environment text NOT NULL
);
-- SPEC §7 exactly once: at most one unfinished rollback per environment.
CREATE UNIQUE INDEX rollback_events_one_unfinished_idx
  ON ops.rollback_events (environment) WHERE status IN ('pending', 'in_progress');
CREATE INDEX rollback_events_initiated_at_idx ON ops.rollback_events (initiated_at DESC, id DESC);
CREATE INDEX rollback_events_environment_idx
  ON ops.rollback_events (environment, initiated_at DESC, id DESC);
CREATE INDEX rollback_events_deployment_idx ON ops.rollback_events (deployment_id);

CREATE TABLE ops.system_snapshots (
  id bigserial PRIMARY KEY,
  snapshot_id uuid UNIQUE NOT NULL,
  deployment_id uuid REFERENCES ops.deployments(deployment_id),
  snapshot_type text NOT NULL,
  database_schema_hash text,
  table_counts jsonb,
  key_metrics jsonb,
  environment_config jsonb,
  created_at timestamptz DEFAULT now()
);
CREATE INDEX system_snapshots_deployment_idx ON ops.system_snapshots (deployment_id, created_at DESC);

CREATE TABLE ops.migration_history (
  id bigserial PRIMARY KEY,
  deployment_id uuid REFERENCES ops.deployments(deployment_id),
  migration_name text UNIQUE NOT NULL,
  migration_hash text NOT NULL,
  applied_at timestamptz DEFAULT now(),
  rolled_back_at timestamptz,
  rollback_successful boolean,
  execution_time_ms integer,
  error_message text,
  rollback_script text,
  metadata jsonb
);
CREATE INDEX migration_history_deployment_idx ON ops.migration_history (deployment_id, applied_at);

-- The decision and audit log (SPEC §2).
CREATE TABLE ops.roman_events (
  id bigserial PRIMARY KEY,
  event_id uuid UNIQUE NOT NULL,
  event_type text NOT NULL,
  severity text NOT NULL,
  message text NOT NULL,
  metadata jsonb,
  "timestamp" timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX roman_events_timestamp_idx ON ops.roman_events ("timestamp" DESC, id DESC);
CREATE INDEX roman_events_type_idx ON ops.roman_events (event_type, "timestamp" DESC);
CREATE INDEX roman_events_deployment_idx ON ops.roman_events ((metadata->>'deployment_id'));

-- Ingested application errors and metric samples (SPEC §4). deployment_id has
-- no FOREIGN KEY: a per-row check halves the throughput of batched ingest,
-- so the store checks each distinct deployment of a batch once instead. The
-- defaults let an application insert errors straight into the table.
CREATE TABLE ops.error_events (
  id bigserial PRIMARY KEY,
  deployment_id uuid NOT NULL,
  environment text NOT NULL DEFAULT '',
  occurred_at timestamptz NOT NULL DEFAULT now(),
  message text NOT NULL,
  severity text NOT NULL DEFAULT 'error',
  fingerprint text NOT NULL DEFAULT ''
);
CREATE INDEX error_events_deployment_occurred_idx ON ops.error_events (deployment_id, occurred_at);

CREATE TABLE ops.metric_samples (
  id bigserial PRIMARY KEY,
  deployment_id uuid NOT NULL,
  environment text NOT NULL DEFAULT '',
  name text NOT NULL,
  value double precision NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX metric_samples_deployment_name_at_idx ON ops.metric_samples (deployment_id, name, at);

-- API keys: only the SHA-256 of each key is stored (SPEC §10).
CREATE TABLE ops.api_keys (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL,
  key_hash text UNIQUE NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The durable alert outbox (SPEC §11).
CREATE TABLE ops.alert_outbox (
  id bigserial PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  kind text NOT NULL,
  environment text,
  deployment_id uuid,
  payload jsonb NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  last_error text
);
CREATE INDEX alert_outbox_pending_idx ON ops.alert_outbox (next_attempt_at, id) WHERE delivered_at IS NULL;

-- +goose Down
DROP TABLE ops.alert_outbox;
DROP TABLE ops.api_keys;
DROP TABLE ops.metric_samples;
DROP TABLE ops.error_events;
DROP TABLE ops.roman_events;
DROP TABLE ops.migration_history;
DROP TABLE ops.system_snapshots;
DROP TABLE ops.rollback_events;
DROP TABLE ops.deployments;
