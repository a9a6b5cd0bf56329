-- +goose Up
-- Activation mail is capped per recipient address across every binding
-- and organization, and per organization and hour (member.Policy).
--
-- mail_recipients has one row per address ever mailed, keyed like
-- email_claims: the row every mail to the address locks first, so that the
-- count of its recent mails (recipient_mails, read with a locking read)
-- cannot change under the decision. Like email_claims it is global, a
-- lookup table under Vitess.
CREATE TABLE mail_recipients (
  email_key VARCHAR(254) NOT NULL,
  last_mail_at DATETIME(6) NOT NULL,
  PRIMARY KEY (email_key)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per activation mail queued to an address within the last hour;
-- older rows of an address are deleted when it is next mailed.
CREATE TABLE recipient_mails (
  id BIGINT NOT NULL AUTO_INCREMENT,
  email_key VARCHAR(254) NOT NULL,
  org_id BIGINT NOT NULL,
  link_id BIGINT NOT NULL,
  queued_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  KEY recipient_mails_key (email_key, queued_at)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- An organization's activation mails per clock hour (UTC): incremented by
-- the last statement of each mail's transaction and read back, so the hot
-- row is held only from there to the commit.
CREATE TABLE org_mail_hours (
  org_id BIGINT NOT NULL,
  hour_start DATETIME(6) NOT NULL,
  mails INT NOT NULL,
  PRIMARY KEY (org_id, hour_start)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE org_mail_hours;
DROP TABLE recipient_mails;
DROP TABLE mail_recipients;
