-- Discord interactions answered, by interaction id, so that a replayed
-- interaction gets the first answer and runs nothing on every replica and
-- across restarts. A row lives until its signature expires (about ten
-- minutes); claims delete expired rows a few at a time.

-- +goose Up
CREATE TABLE ops.discord_interactions (
  id TEXT PRIMARY KEY,
  expires_at timestamptz NOT NULL,
  answer TEXT
);
CREATE INDEX discord_interactions_expires_at_idx ON ops.discord_interactions (expires_at);

-- +goose Down
DROP TABLE ops.discord_interactions;
