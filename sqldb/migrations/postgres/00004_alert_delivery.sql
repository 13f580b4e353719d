-- Alert delivery (SPEC §11): alert_outbox gets one row per alert and
-- channel. channel names the notifier; event_id is the roman_events row the
-- alert rode on (written in the same transaction); order_key groups the rows
-- a channel must deliver in order (the deployment id, or env:<name>);
-- claimed_until is a sender's lease on a row it is delivering; failed_at
-- marks a row the sender gave up on (a roman_events row says why).

-- +goose Up
ALTER TABLE ops.alert_outbox ADD COLUMN channel text NOT NULL DEFAULT '';
ALTER TABLE ops.alert_outbox ADD COLUMN event_id uuid;
ALTER TABLE ops.alert_outbox ADD COLUMN order_key text NOT NULL DEFAULT '';
ALTER TABLE ops.alert_outbox ADD COLUMN claimed_until timestamptz;
ALTER TABLE ops.alert_outbox ADD COLUMN failed_at timestamptz;
CREATE UNIQUE INDEX alert_outbox_event_channel_idx ON ops.alert_outbox (event_id, channel);
CREATE INDEX alert_outbox_order_idx ON ops.alert_outbox (channel, order_key, id)
  WHERE delivered_at IS NULL AND failed_at IS NULL;
-- The sender's claim walks pending rows in id order; delivered rows, which
-- pile up, are not in this index, so a claim costs the same after a million
-- deliveries as after ten.
CREATE INDEX alert_outbox_pending_id_idx ON ops.alert_outbox (id)
  WHERE delivered_at IS NULL AND failed_at IS NULL;

-- +goose Down
DROP INDEX ops.alert_outbox_pending_id_idx;
DROP INDEX ops.alert_outbox_order_idx;
DROP INDEX ops.alert_outbox_event_channel_idx;
ALTER TABLE ops.alert_outbox DROP COLUMN failed_at;
ALTER TABLE ops.alert_outbox DROP COLUMN claimed_until;
ALTER TABLE ops.alert_outbox DROP COLUMN order_key;
ALTER TABLE ops.alert_outbox DROP COLUMN event_id;
ALTER TABLE ops.alert_outbox DROP COLUMN channel;
