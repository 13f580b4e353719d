-- Discord interactions answered, by interaction id, so that a replayed
-- interaction gets the first answer and runs nothing on every replica and
-- across restarts. A row lives until its signature expires (about ten
-- minutes); claims delete expired rows a few at a time.

-- +goose Up
CREATE TABLE discord_interactions (
  id TEXT PRIMARY KEY,
  expires_at TEXT NOT NULL,
  answer TEXT
);
CREATE INDEX discord_interactions_expires_at_idx ON discord_interactions (expires_at);

-- +goose Down
DROP TABLE discord_interactions;
