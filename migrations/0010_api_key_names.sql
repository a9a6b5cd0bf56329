-- +goose Up
-- An organization has several named API keys (DESIGN.md §9), and sees when
-- each was last used, to the minute: a key's use is written at most once a
-- minute, so that a busy key does not cost a write per request. Keys made
-- before names existed are called "default", as a new organization's first
-- key is. The name is utf8mb4, in the server's default collation, as
-- 0004 made every other text column.
ALTER TABLE api_keys ADD COLUMN name VARCHAR(200) CHARACTER SET utf8mb4 NOT NULL DEFAULT 'default';
ALTER TABLE api_keys ADD COLUMN last_used_at DATETIME(6) NULL;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN last_used_at;
ALTER TABLE api_keys DROP COLUMN name;
