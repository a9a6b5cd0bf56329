-- +goose Up
-- Webhooks (DESIGN.md §10). An organization's endpoints, each with the
-- event types it subscribes to (a comma-separated set, read with
-- FIND_IN_SET, which every engine has) and its signing secret sealed with
-- AES-GCM under MEMBERBIND_WEBHOOK_SECRET_KEY: Standard Webhooks signs with
-- HMAC, so the secret must be recoverable, and a copy of the database alone
-- must not be enough to forge deliveries.
CREATE TABLE webhook_endpoints (
  id BIGINT NOT NULL AUTO_INCREMENT,
  org_id BIGINT NOT NULL,
  url VARCHAR(2000) NOT NULL,
  events VARCHAR(255) NOT NULL,
  secret_sealed VARBINARY(255) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  failing_since DATETIME(6) NULL,
  disabled_at DATETIME(6) NULL,
  PRIMARY KEY (id),
  KEY webhook_endpoints_org (org_id, id)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per event and subscribed endpoint, written in the transaction of
-- the change that causes the event, and leased by delivery workers as the
-- outbox's rows are (a conditional UPDATE, read back by lease_token).
-- message_id is the webhook-id, the same on every attempt. member_id keeps
-- one member's events in order per endpoint.
CREATE TABLE webhook_deliveries (
  id BIGINT NOT NULL AUTO_INCREMENT,
  org_id BIGINT NOT NULL,
  endpoint_id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  message_id VARCHAR(40) NOT NULL,
  type VARCHAR(32) NOT NULL,
  payload TEXT NOT NULL,
  status VARCHAR(16) NOT NULL,
  attempts INT NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL,
  next_attempt_at DATETIME(6) NOT NULL,
  delivered_at DATETIME(6) NULL,
  leased_by VARCHAR(100) NULL,
  lease_until DATETIME(6) NULL,
  lease_token VARCHAR(32) NULL,
  last_error VARCHAR(1000) NULL,
  response_code INT NULL,
  response_excerpt TEXT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY webhook_deliveries_message (message_id),
  KEY webhook_deliveries_due (status, next_attempt_at),
  KEY webhook_deliveries_lease (lease_token),
  KEY webhook_deliveries_endpoint (endpoint_id, id),
  KEY webhook_deliveries_order (endpoint_id, member_id, id)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A binding fails by the clock alone (R7), so no transaction causes its
-- binding.failed event: a sweeper emits it after the expiry instant, and
-- the primary key lets exactly one instance do so, in the transaction that
-- writes the deliveries. The index on link_expires_at bounds the sweep to
-- the bindings that failed recently.
CREATE TABLE webhook_binding_failures (
  binding_id BIGINT NOT NULL,
  org_id BIGINT NOT NULL,
  emitted_at DATETIME(6) NOT NULL,
  PRIMARY KEY (binding_id)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX bindings_link_expiry ON bindings (link_expires_at);

-- +goose Down
DROP INDEX bindings_link_expiry ON bindings;
DROP TABLE webhook_binding_failures;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
