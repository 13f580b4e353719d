-- Alerts of other tools (Alertmanager): one row per alert, identified by its
-- fingerprint and startsAt, firing until a resolved message for it arrives.
-- A re-sent group finds its rows and writes nothing. deployment_id is the
-- release the alert was attributed to (NULL when it mapped to none);
-- attribution_rule says how (deployment_id, version or current).

-- +goose Up
CREATE TABLE integration_alerts (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  starts_at TEXT NOT NULL,
  ends_at TEXT,
  status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
  alertname TEXT NOT NULL DEFAULT '',
  summary TEXT NOT NULL DEFAULT '',
  labelled_trigger INTEGER NOT NULL DEFAULT 0,
  deployment_id TEXT,
  service TEXT NOT NULL DEFAULT '',
  environment TEXT NOT NULL DEFAULT '',
  attribution_rule TEXT NOT NULL DEFAULT '',
  group_key TEXT NOT NULL DEFAULT '',
  labels TEXT,
  annotations TEXT,
  received_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX integration_alerts_identity_idx ON integration_alerts (source, fingerprint, starts_at);
-- The firing alerts of a release, oldest first; by name (alert_triggers);
-- the labelled triggers. Each evaluation reads a bounded range of each.
CREATE INDEX integration_alerts_firing_idx ON integration_alerts (deployment_id, starts_at) WHERE status = 'firing';
CREATE INDEX integration_alerts_firing_name_idx ON integration_alerts (deployment_id, alertname, starts_at) WHERE status = 'firing';
CREATE INDEX integration_alerts_firing_labelled_idx ON integration_alerts (deployment_id, starts_at)
  WHERE status = 'firing' AND labelled_trigger;

-- +goose Down
DROP TABLE integration_alerts;
