-- A deployment's newest roman_events rows of one type, newest first
-- ("timestamp" DESC, id DESC): what /auto-rollback/check reads (the newest
-- suppression rows and the newest health_judgement rows) and the monitor
-- and the audit trail list. The plain deployment index made every row of
-- the deployment be fetched and sorted, and a watched release under the
-- baseline judge collects a judgement row at every verdict change; this
-- one is an index range that stops at the limit. It also serves every
-- lookup by deployment alone, so that index goes.

-- +goose Up
CREATE INDEX roman_events_deployment_type_idx
  ON roman_events (metadata->>'deployment_id', event_type, "timestamp" DESC, id DESC);
DROP INDEX roman_events_deployment_idx;

-- +goose Down
CREATE INDEX roman_events_deployment_idx ON roman_events (metadata->>'deployment_id');
DROP INDEX roman_events_deployment_type_idx;
