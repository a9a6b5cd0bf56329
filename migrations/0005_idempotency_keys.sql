-- +goose Up
-- A mutation sent with an Idempotency-Key header is executed once per
-- (API key, idempotency key) for 24 hours; a retry gets the first answer
-- again (DESIGN.md §8). The row is claimed by an INSERT before the
-- mutation executes, so that of concurrent requests with one key exactly
-- one executes; its answer is written back when it is done. Keys are
-- stored as their SHA-256, so any header value fits the key.
CREATE TABLE idempotency_keys (
  org_id BIGINT NOT NULL,
  api_key_id BIGINT NOT NULL,
  key_hash BINARY(32) NOT NULL,
  -- SHA-256 of the request (query, operation name, variables), which
  -- tells a retry from another request under the same key.
  request_hash BINARY(32) NOT NULL,
  -- 0 while the first request executes; then its HTTP status.
  status INT NOT NULL DEFAULT 0,
  content_type VARCHAR(100) NOT NULL DEFAULT '',
  body MEDIUMBLOB NULL,
  created_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  -- Until when the executing request holds the key; past it, a request
  -- left unfinished by an instance that died may be taken over.
  lease_until DATETIME(6) NOT NULL,
  PRIMARY KEY (org_id, api_key_id, key_hash),
  KEY idempotency_keys_expiry (org_id, expires_at)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE idempotency_keys;
