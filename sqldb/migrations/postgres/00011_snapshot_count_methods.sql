-- How each table count of a snapshot was obtained: a JSON object of table
-- to "exact", "estimate" or "at_least". Counts of large tables come from
-- statistics or stop at a bound, so that a pre_rollback snapshot costs the
-- same with ten rows or ten million; NULL on older snapshots, whose counts
-- are exact.

-- +goose Up
ALTER TABLE ops.system_snapshots ADD COLUMN table_count_methods jsonb;

-- +goose Down
ALTER TABLE ops.system_snapshots DROP COLUMN table_count_methods;
