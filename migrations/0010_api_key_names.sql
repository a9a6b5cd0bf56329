-- +goose Up
-- An organization has several named API keys (DESIGN.md §9), and sees when
-- each was last used, to the minute: a key's use is written at most once a
-- minute, so that a busy key does not cost a write per request. Keys made
-- before names existed are called "default", as a new organization's first
-- key is.
ALTER TABLE api_keys ADD COLUMN name VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT 'default';
ALTER TABLE api_keys ADD COLUMN last_used_at DATETIME(6) NULL;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN last_used_at;
ALTER TABLE api_keys DROP COLUMN name;
