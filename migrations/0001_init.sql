-- +goose Up
-- Every table is keyed by organization so the schema can be sharded by
-- org_id; email_claims is the one global table (a lookup table under Vitess).

CREATE TABLE organizations (
  id BIGINT NOT NULL AUTO_INCREMENT,
  name VARCHAR(200) NOT NULL,
  lang VARCHAR(16) NOT NULL DEFAULT 'en',
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id)
);

CREATE TABLE api_keys (
  id BIGINT NOT NULL AUTO_INCREMENT,
  org_id BIGINT NOT NULL,
  key_hash BINARY(32) NOT NULL,
  prefix VARCHAR(16) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  revoked_at DATETIME(6) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY api_keys_hash (key_hash),
  KEY api_keys_org (org_id)
);

CREATE TABLE members (
  id BIGINT NOT NULL AUTO_INCREMENT,
  org_id BIGINT NOT NULL,
  name VARCHAR(200) NOT NULL,
  member_type VARCHAR(16) NOT NULL,
  remark VARCHAR(1000) NULL,
  created_at DATETIME(6) NOT NULL,
  removed_at DATETIME(6) NULL,
  login_email VARCHAR(254) NULL,
  binding_id BIGINT NULL,
  PRIMARY KEY (id),
  KEY members_org (org_id, removed_at, id)
);

CREATE TABLE bindings (
  id BIGINT NOT NULL AUTO_INCREMENT,
  org_id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  email VARCHAR(254) NOT NULL,
  email_key VARCHAR(254) NOT NULL,
  country_code VARCHAR(4) NOT NULL,
  phone VARCHAR(20) NOT NULL,
  state VARCHAR(16) NOT NULL,
  modifications INT NOT NULL DEFAULT 0,
  submitted_at DATETIME(6) NOT NULL,
  activated_at DATETIME(6) NULL,
  link_sent_at DATETIME(6) NULL,
  link_expires_at DATETIME(6) NULL,
  unsent_links INT NOT NULL DEFAULT 0,
  newest_link_id BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  KEY bindings_member (member_id),
  KEY bindings_org_email (org_id, email_key)
);

-- An email is held by at most one binding in the whole service while that
-- binding is pending or activated, and for ever once it failed (R3, R7).
CREATE TABLE email_claims (
  email_key VARCHAR(254) NOT NULL,
  binding_id BIGINT NOT NULL,
  org_id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  claimed_at DATETIME(6) NOT NULL,
  PRIMARY KEY (email_key)
);

CREATE TABLE activation_links (
  id BIGINT NOT NULL AUTO_INCREMENT,
  org_id BIGINT NOT NULL,
  binding_id BIGINT NOT NULL,
  token_hash BINARY(32) NOT NULL,
  kind VARCHAR(16) NOT NULL,
  email VARCHAR(254) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  sent_at DATETIME(6) NULL,
  expires_at DATETIME(6) NULL,
  killed_at DATETIME(6) NULL,
  spent_at DATETIME(6) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY activation_links_token (token_hash),
  KEY activation_links_binding (binding_id, created_at)
);

CREATE TABLE outbox (
  id BIGINT NOT NULL AUTO_INCREMENT,
  org_id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  binding_id BIGINT NOT NULL,
  link_id BIGINT NOT NULL,
  recipient VARCHAR(254) NOT NULL,
  token VARCHAR(64) NULL,
  message_id VARCHAR(128) NOT NULL,
  status VARCHAR(16) NOT NULL,
  attempts INT NOT NULL DEFAULT 0,
  last_error VARCHAR(1000) NULL,
  next_attempt_at DATETIME(6) NOT NULL,
  leased_by VARCHAR(64) NULL,
  lease_until DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL,
  sent_at DATETIME(6) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY outbox_link (link_id),
  KEY outbox_due (status, next_attempt_at)
);

CREATE TABLE member_events (
  id BIGINT NOT NULL AUTO_INCREMENT,
  org_id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  binding_id BIGINT NULL,
  kind VARCHAR(32) NOT NULL,
  actor VARCHAR(100) NOT NULL,
  email VARCHAR(254) NULL,
  detail VARCHAR(1000) NULL,
  occurred_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  KEY member_events_member (member_id, id)
);

-- +goose Down
DROP TABLE member_events;
DROP TABLE outbox;
DROP TABLE activation_links;
DROP TABLE email_claims;
DROP TABLE bindings;
DROP TABLE members;
DROP TABLE api_keys;
DROP TABLE organizations;
