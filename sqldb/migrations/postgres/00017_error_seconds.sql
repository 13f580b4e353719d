-- Error counts per deployment and second, kept by statement triggers in the
-- transaction of every insert into (COPY included) and delete from
-- ops.error_events, whoever writes (roman's ingest, the retention pruner,
-- an application inserting straight into the table). The health windows,
-- /auto-rollback/check and the dashboard's chart read these counts for
-- whole seconds and count raw rows only in the partial seconds at a
-- window's edges, so a read costs the same with a thousand errors a minute
-- or a hundred thousand. Per second rather than per minute: the windows end
-- at any microsecond and the chart's steps are whole seconds, so
-- per-minute counts would leave up to a minute of raw rows at each edge to
-- count. The upserts take their rows in key order, so concurrent batches
-- lock the same counters in the same order and cannot deadlock.

-- +goose Up
CREATE TABLE ops.error_seconds (
  deployment_id uuid NOT NULL,
  second timestamptz NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY (deployment_id, second)
);

INSERT INTO ops.error_seconds (deployment_id, second, n)
  SELECT deployment_id, date_trunc('second', occurred_at), count(*) FROM ops.error_events GROUP BY 1, 2;

-- +goose StatementBegin
CREATE FUNCTION ops.roman_count_errors() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    UPDATE ops.error_seconds s SET n = s.n - o.c
      FROM (SELECT deployment_id, date_trunc('second', occurred_at) AS sec, count(*) AS c
            FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2) o
      WHERE s.deployment_id = o.deployment_id AND s.second = o.sec;
    DELETE FROM ops.error_seconds s
      USING (SELECT DISTINCT deployment_id, date_trunc('second', occurred_at) AS sec FROM old_rows) o
      WHERE s.deployment_id = o.deployment_id AND s.second = o.sec AND s.n <= 0;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO ops.error_seconds (deployment_id, second, n)
      SELECT deployment_id, date_trunc('second', occurred_at), count(*) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (deployment_id, second) DO UPDATE SET n = ops.error_seconds.n + excluded.n;
  END IF;
  RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER error_events_count_insert AFTER INSERT ON ops.error_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.roman_count_errors();
CREATE TRIGGER error_events_count_delete AFTER DELETE ON ops.error_events
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.roman_count_errors();
CREATE TRIGGER error_events_count_update AFTER UPDATE ON ops.error_events
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.roman_count_errors();

-- +goose Down
DROP TRIGGER error_events_count_update ON ops.error_events;
DROP TRIGGER error_events_count_delete ON ops.error_events;
DROP TRIGGER error_events_count_insert ON ops.error_events;
DROP FUNCTION ops.roman_count_errors();
DROP TABLE ops.error_seconds;
