-- Alerts of other tools (Alertmanager): one row per alert, identified by its
-- fingerprint and startsAt, firing until a resolved message for it arrives.
-- A re-sent group finds its rows and writes nothing. deployment_id is the
-- release the alert was attributed to (NULL when it mapped to none);
-- attribution_rule says how (deployment_id, version or current).
--
-- Inserts and updates notify roman_ingest like error events do
-- ("integration_alerts:<deployment_id>,…@<origin>"), so the replica that
-- leads the monitor re-evaluates the release at once whichever replica
-- received the webhook.

-- +goose Up
CREATE TABLE ops.integration_alerts (
  id bigserial PRIMARY KEY,
  source text NOT NULL,
  fingerprint text NOT NULL,
  starts_at timestamptz NOT NULL,
  ends_at timestamptz,
  status text NOT NULL CHECK (status IN ('firing', 'resolved')),
  alertname text NOT NULL DEFAULT '',
  summary text NOT NULL DEFAULT '',
  labelled_trigger boolean NOT NULL DEFAULT false,
  deployment_id uuid,
  service text NOT NULL DEFAULT '',
  environment text NOT NULL DEFAULT '',
  attribution_rule text NOT NULL DEFAULT '',
  group_key text NOT NULL DEFAULT '',
  labels jsonb,
  annotations jsonb,
  received_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX integration_alerts_identity_idx ON ops.integration_alerts (source, fingerprint, starts_at);
-- The firing alerts of a release, oldest first; by name (alert_triggers);
-- the labelled triggers. Each evaluation reads a bounded range of each.
CREATE INDEX integration_alerts_firing_idx ON ops.integration_alerts (deployment_id, starts_at) WHERE status = 'firing';
CREATE INDEX integration_alerts_firing_name_idx ON ops.integration_alerts (deployment_id, alertname, starts_at) WHERE status = 'firing';
CREATE INDEX integration_alerts_firing_labelled_idx ON ops.integration_alerts (deployment_id, starts_at)
  WHERE status = 'firing' AND labelled_trigger;
CREATE TRIGGER integration_alerts_notify_insert AFTER INSERT ON ops.integration_alerts
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.roman_notify_ingest();
CREATE TRIGGER integration_alerts_notify_update AFTER UPDATE ON ops.integration_alerts
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.roman_notify_ingest();

-- +goose Down
DROP TABLE ops.integration_alerts;
