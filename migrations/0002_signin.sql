-- +goose Up
-- Members sign in with their login email: a sign-in link is mailed through
-- the outbox, and confirming it starts a session. Tokens and session ids
-- are stored only as their SHA-256.

CREATE TABLE signin_links (
  id BIGINT NOT NULL AUTO_INCREMENT,
  org_id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  binding_id BIGINT NOT NULL,
  token_hash BINARY(32) NOT NULL,
  email VARCHAR(254) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  used_at DATETIME(6) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY signin_links_token (token_hash),
  KEY signin_links_member (member_id, expires_at)
);

-- A session is started by exactly one sign-in link: the unique key holds
-- it even if two confirmations of one link raced past the link's row lock.
CREATE TABLE member_sessions (
  id BIGINT NOT NULL AUTO_INCREMENT,
  org_id BIGINT NOT NULL,
  member_id BIGINT NOT NULL,
  token_hash BINARY(32) NOT NULL,
  signin_link_id BIGINT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  last_seen_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  ended_at DATETIME(6) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY member_sessions_token (token_hash),
  UNIQUE KEY member_sessions_link (signin_link_id),
  KEY member_sessions_member (member_id, id)
);

-- The outbox carries sign-in mail too. An activation row has link_id (an
-- activation link); a sign-in row has signin_link_id instead, and its
-- binding_id is the member's activated binding.
ALTER TABLE outbox ADD COLUMN kind VARCHAR(16) NOT NULL DEFAULT 'activation';
ALTER TABLE outbox MODIFY link_id BIGINT NULL;
ALTER TABLE outbox ADD COLUMN signin_link_id BIGINT NULL;
CREATE UNIQUE INDEX outbox_signin_link ON outbox (signin_link_id);

-- +goose Down
DELETE FROM outbox WHERE kind = 'signin';
DROP INDEX outbox_signin_link ON outbox;
ALTER TABLE outbox DROP COLUMN signin_link_id;
ALTER TABLE outbox MODIFY link_id BIGINT NOT NULL;
ALTER TABLE outbox DROP COLUMN kind;
DROP TABLE member_sessions;
DROP TABLE signin_links;
