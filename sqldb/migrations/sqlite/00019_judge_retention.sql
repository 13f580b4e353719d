-- Retention of the judge's tables. The pruner deletes a release's error
-- groups by the time of their newest event, forgets first sightings by
-- the time they were made once no group of their fingerprint is left in
-- the (service, environment), and walks these indexes to find both in
-- batches. (error_seconds already has its index on second, 00017.)

-- +goose Up
CREATE INDEX deployment_fingerprints_last_seen_idx ON deployment_fingerprints (last_seen_at);
CREATE INDEX deployment_fingerprints_fingerprint_idx ON deployment_fingerprints (fingerprint);
CREATE INDEX error_fingerprints_first_seen_idx ON error_fingerprints (first_seen_at);

-- +goose Down
DROP INDEX error_fingerprints_first_seen_idx;
DROP INDEX deployment_fingerprints_fingerprint_idx;
DROP INDEX deployment_fingerprints_last_seen_idx;
