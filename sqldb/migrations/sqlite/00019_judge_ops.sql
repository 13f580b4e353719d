-- Retention of the judge's tables. The pruner deletes a release's error
-- groups by the time of their newest event, forgets first sightings by
-- the time they were made once no group of their fingerprint is left in
-- the (service, environment), and walks these indexes to find both in
-- batches. (error_seconds already has its index on second, 00017.)

-- Error events stored without a fingerprint (an application inserting
-- straight into error_events gives none; roman's ingest always sets one)
-- wait in a partial index until the monitor's leader gives them roman's
-- fingerprint and groups them (FingerprintUnmarked): the index holds only
-- those rows, so finding them costs nothing when there are none.

-- +goose Up
CREATE INDEX deployment_fingerprints_last_seen_idx ON deployment_fingerprints (last_seen_at);
CREATE INDEX deployment_fingerprints_fingerprint_idx ON deployment_fingerprints (fingerprint);
CREATE INDEX error_fingerprints_first_seen_idx ON error_fingerprints (first_seen_at);

CREATE INDEX error_events_unfingerprinted_idx ON error_events (id) WHERE fingerprint = '';

-- +goose Down
DROP INDEX error_events_unfingerprinted_idx;
DROP INDEX error_fingerprints_first_seen_idx;
DROP INDEX deployment_fingerprints_fingerprint_idx;
DROP INDEX deployment_fingerprints_last_seen_idx;
