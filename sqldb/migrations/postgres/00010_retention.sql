-- Retention: the leader deletes error events and metric samples older than
-- the retention setting, and alert outbox rows delivered or given up more
-- than seven days ago, in small batches. The existing indexes lead with
-- deployment_id, so a batch would scan the table for its oldest rows; these
-- give each batch an index range of its own.

-- +goose Up
CREATE INDEX error_events_occurred_at_idx ON ops.error_events (occurred_at);
CREATE INDEX metric_samples_at_idx ON ops.metric_samples (at);
CREATE INDEX alert_outbox_delivered_at_idx ON ops.alert_outbox (delivered_at) WHERE delivered_at IS NOT NULL;
CREATE INDEX alert_outbox_failed_at_idx ON ops.alert_outbox (failed_at) WHERE failed_at IS NOT NULL;

-- +goose Down
DROP INDEX ops.alert_outbox_failed_at_idx;
DROP INDEX ops.alert_outbox_delivered_at_idx;
DROP INDEX ops.metric_samples_at_idx;
DROP INDEX ops.error_events_occurred_at_idx;
