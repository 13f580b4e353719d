-- New errors. error_fingerprints remembers, per (service, environment),
-- the release where each error fingerprint was first seen: the earliest
-- release (by deployed_at, then the deployments row id) that had it.
-- deployment_fingerprints groups a release's errors by fingerprint (count,
-- first and last occurred_at, a sample message and error type), so that
-- the new_errors signal and GET /deployments/{id}/errors read a few
-- pre-aggregated rows instead of the events. Both are maintained by roman
-- in the transaction that stores the events (rows inserted straight into
-- ops.error_events are not grouped). Retention prunes neither: a
-- fingerprint stays known after its events are gone.

-- +goose Up
CREATE TABLE ops.error_fingerprints (
  service text NOT NULL,
  environment text NOT NULL,
  fingerprint text NOT NULL,
  first_deployment_id uuid NOT NULL,
  first_deployed_at timestamptz NOT NULL,
  first_deployment_seq bigint NOT NULL,
  first_seen_at timestamptz NOT NULL,
  PRIMARY KEY (service, environment, fingerprint)
);

CREATE TABLE ops.deployment_fingerprints (
  deployment_id uuid NOT NULL,
  fingerprint text NOT NULL,
  events bigint NOT NULL,
  first_seen_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  message text NOT NULL,
  error_type text NOT NULL DEFAULT '',
  PRIMARY KEY (deployment_id, fingerprint)
);

-- +goose Down
DROP TABLE ops.deployment_fingerprints;
DROP TABLE ops.error_fingerprints;
