-- The thresholds of each environment, written by roman at every start from
-- its configuration (environment '*' holds the defaults every environment
-- shares): the same table as on PostgreSQL, where ops.get_deployment_health
-- reads it. SQLite has no stored functions; the server computes health.

-- +goose Up
CREATE TABLE health_settings (
  environment TEXT PRIMARY KEY,
  error_rate REAL NOT NULL,
  recent_errors INTEGER NOT NULL,
  db_connections REAL NOT NULL,
  warn_error_rate REAL NOT NULL,
  warn_p95_ms REAL NOT NULL,
  warn_memory_percent REAL NOT NULL,
  consecutive_breaches INTEGER NOT NULL DEFAULT 1,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
) STRICT;
INSERT INTO health_settings (environment, error_rate, recent_errors, db_connections,
  warn_error_rate, warn_p95_ms, warn_memory_percent, consecutive_breaches)
VALUES ('*', 5, 50, 90, 1, 5000, 95, 1);

-- +goose Down
DROP TABLE health_settings;
