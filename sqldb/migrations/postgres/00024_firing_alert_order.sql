-- The firing alerts of a release are read oldest first, ties broken by id
-- (starts_at, id), at most a few dozen at a time. The indexes of 00014 end
-- at starts_at, so alerts that share a startsAt (a group Alertmanager
-- evaluated at once, or thousands of alerts of one rule) were all fetched
-- and sorted before the limit applied: each evaluation of a release cost
-- as much as its firing alerts. With id as the last key the order is the
-- index's own and the read stops at the limit. SQLite needs no change: its
-- indexes end with the rowid, which is the id.

-- +goose Up
CREATE INDEX integration_alerts_firing_order_idx ON ops.integration_alerts (deployment_id, starts_at, id)
  WHERE status = 'firing';
CREATE INDEX integration_alerts_firing_name_order_idx ON ops.integration_alerts (deployment_id, alertname, starts_at, id)
  WHERE status = 'firing';
CREATE INDEX integration_alerts_firing_labelled_order_idx ON ops.integration_alerts (deployment_id, starts_at, id)
  WHERE status = 'firing' AND labelled_trigger;
DROP INDEX ops.integration_alerts_firing_idx;
DROP INDEX ops.integration_alerts_firing_name_idx;
DROP INDEX ops.integration_alerts_firing_labelled_idx;

-- +goose Down
CREATE INDEX integration_alerts_firing_idx ON ops.integration_alerts (deployment_id, starts_at) WHERE status = 'firing';
CREATE INDEX integration_alerts_firing_name_idx ON ops.integration_alerts (deployment_id, alertname, starts_at) WHERE status = 'firing';
CREATE INDEX integration_alerts_firing_labelled_idx ON ops.integration_alerts (deployment_id, starts_at)
  WHERE status = 'firing' AND labelled_trigger;
DROP INDEX ops.integration_alerts_firing_order_idx;
DROP INDEX ops.integration_alerts_firing_name_order_idx;
DROP INDEX ops.integration_alerts_firing_labelled_order_idx;
