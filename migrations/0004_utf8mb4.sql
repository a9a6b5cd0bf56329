-- +goose Up
-- Every table is utf8mb4, whatever the server's default character set.
-- Migrations 0001 to 0003 named none, so on a server whose default is
-- latin1 (or utf8mb3) their tables could not hold "张伟" or an emoji, and
-- a member with such a name failed with an internal error. The database's
-- default becomes utf8mb4 too, for the tables of later migrations.
--
-- No collation is named: each column gets the server's default collation
-- for utf8mb4 (utf8mb4_general_ci on MariaDB 10.11, utf8mb4_0900_ai_ci on
-- MySQL 8), so on a server that was utf8mb4 already nothing compares
-- differently. The store relies on no property of a collation: email keys
-- are ASCII, lowered and trimmed in Go (member.EmailKey,
-- contact.ParseEmail), searches lower both sides, and states are
-- upper-case constants.
--
-- Each text column is restated with its character set, instead of
-- ALTER TABLE ... CONVERT TO CHARACTER SET: the embedded engine
-- (go-mysql-server) converts only the table's default by that, and leaves
-- the columns as they were. One ALTER per table, so that MySQL and MariaDB
-- rebuild each table once; on a big deployment, run `memberbind migrate`
-- before starting new instances (the README says how long it may take).
ALTER DATABASE CHARACTER SET utf8mb4;

ALTER TABLE organizations DEFAULT CHARACTER SET utf8mb4,
  MODIFY name VARCHAR(200) CHARACTER SET utf8mb4 NOT NULL,
  MODIFY lang VARCHAR(16) CHARACTER SET utf8mb4 NOT NULL DEFAULT 'en';

ALTER TABLE api_keys DEFAULT CHARACTER SET utf8mb4,
  MODIFY prefix VARCHAR(16) CHARACTER SET utf8mb4 NOT NULL;

ALTER TABLE members DEFAULT CHARACTER SET utf8mb4,
  MODIFY name VARCHAR(200) CHARACTER SET utf8mb4 NOT NULL,
  MODIFY member_type VARCHAR(16) CHARACTER SET utf8mb4 NOT NULL,
  MODIFY remark VARCHAR(1000) CHARACTER SET utf8mb4 NULL,
  MODIFY login_email VARCHAR(254) CHARACTER SET utf8mb4 NULL;

ALTER TABLE bindings DEFAULT CHARACTER SET utf8mb4,
  MODIFY email VARCHAR(254) CHARACTER SET utf8mb4 NOT NULL,
  MODIFY email_key VARCHAR(254) CHARACTER SET utf8mb4 NOT NULL,
  MODIFY country_code VARCHAR(4) CHARACTER SET utf8mb4 NOT NULL,
  MODIFY phone VARCHAR(20) CHARACTER SET utf8mb4 NOT NULL,
  MODIFY state VARCHAR(16) CHARACTER SET utf8mb4 NOT NULL;

ALTER TABLE email_claims DEFAULT CHARACTER SET utf8mb4,
  MODIFY email_key VARCHAR(254) CHARACTER SET utf8mb4 NOT NULL;

ALTER TABLE activation_links DEFAULT CHARACTER SET utf8mb4,
  MODIFY kind VARCHAR(16) CHARACTER SET utf8mb4 NOT NULL,
  MODIFY email VARCHAR(254) CHARACTER SET utf8mb4 NOT NULL;

ALTER TABLE outbox DEFAULT CHARACTER SET utf8mb4,
  MODIFY recipient VARCHAR(254) CHARACTER SET utf8mb4 NOT NULL,
  MODIFY token VARCHAR(64) CHARACTER SET utf8mb4 NULL,
  MODIFY message_id VARCHAR(128) CHARACTER SET utf8mb4 NOT NULL,
  MODIFY status VARCHAR(16) CHARACTER SET utf8mb4 NOT NULL,
  MODIFY last_error VARCHAR(1000) CHARACTER SET utf8mb4 NULL,
  MODIFY leased_by VARCHAR(64) CHARACTER SET utf8mb4 NULL,
  MODIFY kind VARCHAR(16) CHARACTER SET utf8mb4 NOT NULL DEFAULT 'activation';

ALTER TABLE member_events DEFAULT CHARACTER SET utf8mb4,
  MODIFY kind VARCHAR(32) CHARACTER SET utf8mb4 NOT NULL,
  MODIFY actor VARCHAR(100) CHARACTER SET utf8mb4 NOT NULL,
  MODIFY email VARCHAR(254) CHARACTER SET utf8mb4 NULL,
  MODIFY detail VARCHAR(1000) CHARACTER SET utf8mb4 NULL;

ALTER TABLE signin_links DEFAULT CHARACTER SET utf8mb4,
  MODIFY email VARCHAR(254) CHARACTER SET utf8mb4 NOT NULL;

-- member_sessions holds no text.
ALTER TABLE member_sessions DEFAULT CHARACTER SET utf8mb4;

-- +goose Down
-- Nothing to undo: utf8mb4 holds everything the earlier character set
-- did, and which one that was is not recorded.
