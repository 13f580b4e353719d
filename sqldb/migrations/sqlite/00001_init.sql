-- roman's schema on SQLite: the same tables and columns as on PostgreSQL
-- (see ../postgres), without a schema prefix. STRICT tables hold uuids, JSON
-- and timestamps as TEXT; timestamps are fixed-width UTC text with
-- microseconds ("2006-01-02T15:04:05.000000Z") so text order is time order.

-- +goose Up
CREATE TABLE deployments (
  id INTEGER PRIMARY KEY,
  deployment_id TEXT UNIQUE NOT NULL,
  environment TEXT NOT NULL,
  version TEXT NOT NULL,
  git_commit TEXT NOT NULL,
  git_branch TEXT NOT NULL,
  deployed_by TEXT,
  deployed_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
  status TEXT NOT NULL,
  rollback_from TEXT REFERENCES deployments(deployment_id),
  health_check_passed INTEGER DEFAULT 0,
  health_check_details TEXT,
  constitutional_validation TEXT,
  metadata TEXT,
  completed_at TEXT,
  rolled_back_at TEXT
) STRICT;
CREATE INDEX deployments_environment_deployed_at_idx
  ON deployments (environment, deployed_at DESC, id DESC);
CREATE INDEX deployments_deployed_at_idx ON deployments (deployed_at DESC, id DESC);

CREATE TABLE rollback_events (
  id INTEGER PRIMARY KEY,
  event_id TEXT UNIQUE NOT NULL,
  deployment_id TEXT REFERENCES deployments(deployment_id),
  trigger_type TEXT NOT NULL,
  trigger_reason TEXT NOT NULL,
  initiated_by TEXT,
  initiated_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
  status TEXT NOT NULL,
  rollback_plan TEXT,
  rollback_steps TEXT,
  constitutional_validation TEXT,
  completed_at TEXT,
  metadata TEXT,
  environment TEXT NOT NULL
) STRICT;
-- SPEC §7 exactly once: at most one unfinished rollback per environment.
CREATE UNIQUE INDEX rollback_events_one_unfinished_idx
  ON rollback_events (environment) WHERE status IN ('pending', 'in_progress');
CREATE INDEX rollback_events_initiated_at_idx ON rollback_events (initiated_at DESC, id DESC);
CREATE INDEX rollback_events_environment_idx
  ON rollback_events (environment, initiated_at DESC, id DESC);
CREATE INDEX rollback_events_deployment_idx ON rollback_events (deployment_id);

CREATE TABLE system_snapshots (
  id INTEGER PRIMARY KEY,
  snapshot_id TEXT UNIQUE NOT NULL,
  deployment_id TEXT REFERENCES deployments(deployment_id),
  snapshot_type TEXT NOT NULL,
  database_schema_hash TEXT,
  table_counts TEXT,
  key_metrics TEXT,
  environment_config TEXT,
  created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
) STRICT;
CREATE INDEX system_snapshots_deployment_idx ON system_snapshots (deployment_id, created_at DESC);

CREATE TABLE migration_history (
  id INTEGER PRIMARY KEY,
  deployment_id TEXT REFERENCES deployments(deployment_id),
  migration_name TEXT UNIQUE NOT NULL,
  migration_hash TEXT NOT NULL,
  applied_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
  rolled_back_at TEXT,
  rollback_successful INTEGER,
  execution_time_ms INTEGER,
  error_message TEXT,
  rollback_script TEXT,
  metadata TEXT
) STRICT;
CREATE INDEX migration_history_deployment_idx ON migration_history (deployment_id, applied_at);

CREATE TABLE roman_events (
  id INTEGER PRIMARY KEY,
  event_id TEXT UNIQUE NOT NULL,
  event_type TEXT NOT NULL,
  severity TEXT NOT NULL,
  message TEXT NOT NULL,
  metadata TEXT,
  "timestamp" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
) STRICT;
CREATE INDEX roman_events_timestamp_idx ON roman_events ("timestamp" DESC, id DESC);
CREATE INDEX roman_events_type_idx ON roman_events (event_type, "timestamp" DESC);
CREATE INDEX roman_events_deployment_idx ON roman_events (metadata->>'deployment_id');

-- Ingested application errors and metric samples (SPEC §4). deployment_id has
-- no FOREIGN KEY: a per-row check halves the throughput of batched ingest,
-- so the store checks each distinct deployment of a batch once instead. The
-- defaults let an application insert errors straight into the table.
CREATE TABLE error_events (
  id INTEGER PRIMARY KEY,
  deployment_id TEXT NOT NULL,
  environment TEXT NOT NULL DEFAULT '',
  occurred_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
  message TEXT NOT NULL,
  severity TEXT NOT NULL DEFAULT 'error',
  fingerprint TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX error_events_deployment_occurred_idx ON error_events (deployment_id, occurred_at);

CREATE TABLE metric_samples (
  id INTEGER PRIMARY KEY,
  deployment_id TEXT NOT NULL,
  environment TEXT NOT NULL DEFAULT '',
  name TEXT NOT NULL,
  value REAL NOT NULL,
  at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
) STRICT;
CREATE INDEX metric_samples_deployment_name_at_idx ON metric_samples (deployment_id, name, at);

CREATE TABLE api_keys (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  key_hash TEXT UNIQUE NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
) STRICT;

CREATE TABLE alert_outbox (
  id INTEGER PRIMARY KEY,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
  kind TEXT NOT NULL,
  environment TEXT,
  deployment_id TEXT,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
  delivered_at TEXT,
  last_error TEXT
) STRICT;
CREATE INDEX alert_outbox_pending_idx ON alert_outbox (next_attempt_at, id) WHERE delivered_at IS NULL;

-- +goose Down
DROP TABLE alert_outbox;
DROP TABLE api_keys;
DROP TABLE metric_samples;
DROP TABLE error_events;
DROP TABLE roman_events;
DROP TABLE migration_history;
DROP TABLE system_snapshots;
DROP TABLE rollback_events;
DROP TABLE deployments;
