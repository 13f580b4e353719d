-- New errors. error_fingerprints remembers, per (service, environment),
-- the release where each error fingerprint was first seen: the earliest
-- release (by deployed_at, then the deployments row id) that had it.
-- deployment_fingerprints groups a release's errors by fingerprint (count,
-- first and last occurred_at, a sample message and error type), so that
-- the new_errors signal and GET /deployments/{id}/errors read a few
-- pre-aggregated rows instead of the events. Both are maintained in the
-- transaction that stores the events. Retention prunes neither: a
-- fingerprint stays known after its events are gone.

-- +goose Up
CREATE TABLE error_fingerprints (
  service TEXT NOT NULL,
  environment TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  first_deployment_id TEXT NOT NULL,
  first_deployed_at TEXT NOT NULL,
  first_deployment_seq INTEGER NOT NULL,
  first_seen_at TEXT NOT NULL,
  PRIMARY KEY (service, environment, fingerprint)
) STRICT, WITHOUT ROWID;

CREATE TABLE deployment_fingerprints (
  deployment_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  events INTEGER NOT NULL,
  first_seen_at TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  message TEXT NOT NULL,
  error_type TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (deployment_id, fingerprint)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE deployment_fingerprints;
DROP TABLE error_fingerprints;
