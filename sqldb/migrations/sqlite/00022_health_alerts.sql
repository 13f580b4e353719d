-- The alert_triggers of each environment (a JSON array of alert names),
-- written by roman with the thresholds: the same table as on PostgreSQL,
-- where ops.get_deployment_health reads it to tell trigger alerts from
-- warnings. SQLite has no stored functions; the server computes health.

-- +goose Up
ALTER TABLE health_settings ADD COLUMN alert_triggers TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE health_settings DROP COLUMN alert_triggers;
