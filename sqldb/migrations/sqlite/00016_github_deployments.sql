-- GitHub deployments: each roman deployment mirrored to GitHub has one row
-- here naming the GitHub deployment (repository and id) its statuses go to.
-- The mirror's jobs ride in alert_outbox on the channel "github"; one event
-- may queue jobs for two deployments there (a release that passes its watch
-- and the release it replaced), so the outbox's uniqueness becomes per
-- event, channel and order key. The mirror asks, for each decision about a
-- release, whether the release's GitHub jobs were queued: an index on
-- (channel, order_key, kind) answers that without a scan.

-- +goose Up
CREATE TABLE github_deployments (
  deployment_id TEXT PRIMARY KEY,
  repository TEXT NOT NULL,
  github_id INTEGER NOT NULL,
  created_at TEXT NOT NULL
) STRICT;
DROP INDEX alert_outbox_event_channel_idx;
CREATE UNIQUE INDEX alert_outbox_event_channel_key_idx ON alert_outbox (event_id, channel, order_key);
CREATE INDEX alert_outbox_channel_key_kind_idx ON alert_outbox (channel, order_key, kind);

-- +goose Down
DROP INDEX alert_outbox_channel_key_kind_idx;
DROP INDEX alert_outbox_event_channel_key_idx;
CREATE UNIQUE INDEX alert_outbox_event_channel_idx ON alert_outbox (event_id, channel);
DROP TABLE github_deployments;
