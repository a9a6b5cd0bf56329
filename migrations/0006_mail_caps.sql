-- +goose Up
-- Activation mail is capped per recipient address across every binding
-- and organization, and per organization and hour (member.Policy).
--
-- mail_recipients has one row per address ever mailed, keyed like
-- email_claims. Every activation mail to the address locks its row and
-- reads from it the times of the address's most recent activation mails
-- (at most the cap's number, as Unix microseconds separated by spaces),
-- and every sign-in mail those of its sign-in mails: the limit
-- counts what is in a row it has locked, on every engine, and needs no
-- range lock on a table of mails, whose gap locks made concurrent mails to
-- different addresses deadlock. Like email_claims it is global, a lookup
-- table under Vitess.
CREATE TABLE mail_recipients (
  email_key VARCHAR(254) NOT NULL,
  recent_mails TEXT NOT NULL,
  recent_signins TEXT NOT NULL,
  PRIMARY KEY (email_key)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The activation mails each organization reserved of its hourly budget,
-- per clock hour (UTC): an instance locks the row, reads it and adds a
-- block of mails in a short transaction of its own, then hands the block
-- out from memory (internal/mysql/budget.go), so that binds in one
-- organization do not all queue on this row.
CREATE TABLE org_mail_hours (
  org_id BIGINT NOT NULL,
  hour_start DATETIME(6) NOT NULL,
  mails INT NOT NULL,
  PRIMARY KEY (org_id, hour_start)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE org_mail_hours;
DROP TABLE mail_recipients;
