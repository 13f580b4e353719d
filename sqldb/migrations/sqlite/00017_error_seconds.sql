-- Error counts per deployment and second, kept in the transaction of every
-- insert into error_events: roman's ingest adds a batch's counts itself, one
-- row per second of the batch (and marks its rows counted = 1), a trigger
-- counts the rows anyone else inserts straight into the table; the
-- retention pruner removes the counters of what it deletes (a row trigger
-- per insert or delete would halve batched ingest). The health windows,
-- /auto-rollback/check and the dashboard's chart read these counts for
-- whole seconds and count raw rows only in the partial seconds at a
-- window's edges, so a read costs the same with a thousand errors a minute
-- or a hundred thousand.
-- Per second rather than per minute: the windows end at any microsecond
-- and the chart's steps are whole seconds, so per-minute counts would
-- leave up to a minute of raw rows at each edge to count.
-- second is substr(occurred_at, 1, 19), 'YYYY-MM-DDTHH:MM:SS' (UTC).

-- +goose Up
ALTER TABLE error_events ADD COLUMN counted INTEGER NOT NULL DEFAULT 0;

CREATE TABLE error_seconds (
  deployment_id TEXT NOT NULL,
  second TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (deployment_id, second)
) STRICT, WITHOUT ROWID;
-- The pruner drops the counters of whole pruned seconds by time.
CREATE INDEX error_seconds_second_idx ON error_seconds (second);

INSERT INTO error_seconds (deployment_id, second, n)
  SELECT deployment_id, substr(occurred_at, 1, 19), count(*) FROM error_events GROUP BY 1, 2;

-- +goose StatementBegin
CREATE TRIGGER error_events_count_insert AFTER INSERT ON error_events WHEN NEW.counted = 0 BEGIN
  INSERT INTO error_seconds (deployment_id, second, n) VALUES (NEW.deployment_id, substr(NEW.occurred_at, 1, 19), 1)
    ON CONFLICT (deployment_id, second) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER error_events_count_update AFTER UPDATE OF deployment_id, occurred_at ON error_events BEGIN
  UPDATE error_seconds SET n = n - 1 WHERE deployment_id = OLD.deployment_id AND second = substr(OLD.occurred_at, 1, 19);
  DELETE FROM error_seconds WHERE deployment_id = OLD.deployment_id AND second = substr(OLD.occurred_at, 1, 19) AND n <= 0;
  INSERT INTO error_seconds (deployment_id, second, n) VALUES (NEW.deployment_id, substr(NEW.occurred_at, 1, 19), 1)
    ON CONFLICT (deployment_id, second) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER error_events_count_update;
DROP TRIGGER error_events_count_insert;
DROP TABLE error_seconds;
ALTER TABLE error_events DROP COLUMN counted;
