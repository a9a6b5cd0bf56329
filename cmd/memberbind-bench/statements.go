package main

import (
	"database/sql"
	"time"
)

// The floors replay the SQL memberbind issues, statement for statement,
// copied from internal/mysql (the file and function of each is named).
// The "queries" figure counts the statements of both sides on the server,
// so a floor that drifts from the store shows there as a mismatch.

// memberSelect is internal/mysql/member.go memberSelect.
const memberSelect = `
	SELECT m.id, m.org_id, m.name, m.member_type, m.remark, m.created_at, m.removed_at, m.login_email,
		b.id AS b_id, b.member_id AS b_member_id, b.email AS b_email, b.country_code AS b_country_code,
		b.phone AS b_phone, b.state AS b_state, b.modifications AS b_modifications,
		b.submitted_at AS b_submitted_at, b.activated_at AS b_activated_at,
		b.link_sent_at AS b_link_sent_at, b.link_expires_at AS b_link_expires_at,
		b.unsent_links AS b_unsent_links, b.newest_link_id AS b_newest_link_id,
		o.status AS o_status, o.attempts AS o_attempts, o.last_error AS o_last_error, o.sent_at AS o_sent_at
	FROM members m LEFT JOIN bindings b ON b.id = m.binding_id AND b.org_id = m.org_id
		LEFT JOIN outbox o ON o.link_id = b.newest_link_id AND o.org_id = b.org_id`

// memberRow is what memberSelect scans into (internal/mysql memberRow).
type memberRow struct {
	ID         int64          `db:"id"`
	OrgID      int64          `db:"org_id"`
	Name       string         `db:"name"`
	Type       string         `db:"member_type"`
	Remark     sql.NullString `db:"remark"`
	CreatedAt  sql.NullTime   `db:"created_at"`
	RemovedAt  sql.NullTime   `db:"removed_at"`
	LoginEmail sql.NullString `db:"login_email"`

	BID            sql.NullInt64  `db:"b_id"`
	BMemberID      sql.NullInt64  `db:"b_member_id"`
	BEmail         sql.NullString `db:"b_email"`
	BCountryCode   sql.NullString `db:"b_country_code"`
	BPhone         sql.NullString `db:"b_phone"`
	BState         sql.NullString `db:"b_state"`
	BModifications sql.NullInt64  `db:"b_modifications"`
	BSubmittedAt   sql.NullTime   `db:"b_submitted_at"`
	BActivatedAt   sql.NullTime   `db:"b_activated_at"`
	BLinkSentAt    sql.NullTime   `db:"b_link_sent_at"`
	BLinkExpiresAt sql.NullTime   `db:"b_link_expires_at"`
	BUnsentLinks   sql.NullInt64  `db:"b_unsent_links"`
	BNewestLinkID  sql.NullInt64  `db:"b_newest_link_id"`

	OStatus    sql.NullString `db:"o_status"`
	OAttempts  sql.NullInt64  `db:"o_attempts"`
	OLastError sql.NullString `db:"o_last_error"`
	OSentAt    sql.NullTime   `db:"o_sent_at"`
}

// Reading a page of members (figure 1).
const (
	// sqlAuthenticate is internal/mysql/apikey.go Authenticate (which
	// also records the key's use, at most once a minute).
	sqlAuthenticate = `
		SELECT o.id, o.name, o.lang, o.created_at, k.id AS key_id, k.prefix, k.last_used_at
		FROM api_keys k JOIN organizations o ON o.id = k.org_id
		WHERE k.key_hash = ? AND k.revoked_at IS NULL`
	// sqlCountMembers is internal/mysql/count.go membersCount, the
	// total of Members without a filter: the organization's counters
	// (migration 0009). Its arguments are the org id and 0 (not removed).
	sqlCountMembers = `SELECT CAST(COALESCE(SUM(n), 0) AS SIGNED) FROM member_counts WHERE org_id = ? AND removed = ?`
	// sqlPageMembers is internal/mysql/member.go Members, the page.
	sqlPageMembers = memberSelect + ` WHERE m.org_id = ? AND m.removed_at IS NULL ORDER BY m.id DESC LIMIT ?`
	// sqlSends is internal/mysql/outbox.go Sends (loaded for the whole
	// page by graph/convert.go show), before sqlx.In.
	sqlSends = `SELECT binding_id, created_at FROM activation_links WHERE binding_id IN (?) AND org_id = ?`
	// sqlEventsOf is one member's part of internal/mysql/event.go Events
	// (loaded for the whole page by graph/loader.go), which joins one per
	// member with UNION ALL into one statement.
	sqlEventsOf = `(SELECT id, member_id, kind, actor, email, detail, occurred_at FROM member_events WHERE member_id = ? AND org_id = ? ORDER BY id DESC LIMIT ?)`
)

// authRow is what sqlAuthenticate scans into.
type authRow struct {
	ID        int64        `db:"id"`
	Name      string       `db:"name"`
	Lang      string       `db:"lang"`
	CreatedAt sql.NullTime `db:"created_at"`
	KeyID     int64        `db:"key_id"`
	Prefix    string       `db:"prefix"`
	LastUsed  sql.NullTime `db:"last_used_at"`
}

// eventRow is what sqlEventsOf scans into.
type eventRow struct {
	ID       int64          `db:"id"`
	MemberID int64          `db:"member_id"`
	Kind     string         `db:"kind"`
	Actor    string         `db:"actor"`
	Email    sql.NullString `db:"email"`
	Detail   sql.NullString `db:"detail"`
	At       time.Time      `db:"occurred_at"`
}

// sendRow is what sqlSends scans into.
type sendRow struct {
	BindingID int64     `db:"binding_id"`
	CreatedAt time.Time `db:"created_at"`
}

// Binding security information (figure 3): internal/mysql/binding.go
// BindSecurityInfo -> mutate -> lockMember, newBinding, claimEmail,
// record, newLink.
const (
	sqlLockMember    = memberSelect + ` WHERE m.id = ? AND m.org_id = ? AND m.removed_at IS NULL FOR UPDATE`
	sqlInsertBinding = `
		INSERT INTO bindings (org_id, member_id, email, email_key, country_code, phone, state, submitted_at)
		VALUES (?, ?, ?, ?, ?, ?, 'PENDING', ?)`
	sqlClaimEmail    = `INSERT INTO email_claims (email_key, binding_id, org_id, member_id, claimed_at) VALUES (?, ?, ?, ?, ?)`
	sqlAttachBinding = `UPDATE members SET binding_id = ? WHERE id = ? AND org_id = ?`
	sqlRecordEvent   = `
		INSERT INTO member_events (org_id, member_id, binding_id, kind, actor, email, detail, occurred_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	sqlInsertLink = `
		INSERT INTO activation_links (org_id, binding_id, token_hash, kind, email, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`
	sqlQueueMail = `
		INSERT INTO outbox (org_id, member_id, binding_id, link_id, recipient, token, message_id, status, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 'QUEUED', ?, ?)`
	sqlCountLink = `UPDATE bindings SET unsent_links = unsent_links + 1, newest_link_id = ? WHERE id = ? AND org_id = ?`
	// sqlRecount is internal/mysql/count.go addCount, which recount
	// runs twice at the end of a bind (UNBOUND to PENDING) and of an
	// activation (PENDING to ACTIVATED), in memberClass order. Its rows
	// exist once one member of the class is in the slot; the first one
	// makes it by sqlRecountFirst.
	sqlRecount = `
		UPDATE member_counts SET n = n + ?
		WHERE org_id = ? AND removed = ? AND member_type = ? AND bind_state = ? AND slot = ?`
	sqlRecountFirst = `
		INSERT INTO member_counts (org_id, removed, member_type, bind_state, slot, n) VALUES (?, ?, ?, ?, ?, ?)
		ON DUPLICATE KEY UPDATE n = n + ?`
	// claimEmail and countRecipientMail -> lockRecipientRow,
	// lockMailRecipient, setMailRecipient.
	sqlLockRecipient = `
		INSERT INTO mail_recipients (email_key, recent_mails, recent_signins) VALUES (?, '', '')
		ON DUPLICATE KEY UPDATE email_key = email_key`
	sqlReadRecipient = `SELECT recent_mails FROM mail_recipients WHERE email_key = ? FOR UPDATE`
	sqlSetRecipient  = `UPDATE mail_recipients SET recent_mails = ? WHERE email_key = ?`
)

// Confirming an activation link (figure 5): internal/mysql/activation.go
// Activate -> binding, view.
const (
	linkSelect = `
	SELECT l.id, l.org_id, l.binding_id, l.email, l.created_at, l.sent_at, l.expires_at, l.killed_at, l.spent_at, b.member_id
	FROM activation_links l JOIN bindings b ON b.id = l.binding_id AND b.org_id = l.org_id
	WHERE l.token_hash = ?`
	sqlLockLinkMember = memberSelect + ` WHERE m.id = ? AND m.org_id = ? FOR UPDATE`
	sqlLockBinding    = `
		SELECT id, member_id, email, country_code, phone, state, modifications, submitted_at, activated_at,
			link_sent_at, link_expires_at, unsent_links, newest_link_id
		FROM bindings WHERE id = ? AND org_id = ? FOR UPDATE`
	sqlLockLink        = linkSelect + ` FOR UPDATE`
	sqlOrganization    = `SELECT id, name, lang, created_at FROM organizations WHERE id = ?`
	sqlActivateBinding = `UPDATE bindings SET state = 'ACTIVATED', activated_at = ?, unsent_links = 0 WHERE id = ? AND org_id = ?`
	sqlSetLoginEmail   = `UPDATE members SET login_email = ? WHERE id = ? AND org_id = ?`
	sqlSpendLinks      = `UPDATE activation_links SET spent_at = ? WHERE binding_id = ? AND org_id = ? AND spent_at IS NULL`
	sqlCancelMail      = `
			UPDATE outbox SET status = 'CANCELLED', token = NULL, leased_by = NULL, lease_until = NULL
			WHERE binding_id = ? AND org_id = ? AND status IN ('QUEUED', 'RETRYING')`
)

// linkRow is what linkSelect scans into (internal/mysql linkRow).
type linkRow struct {
	ID        int64        `db:"id"`
	OrgID     int64        `db:"org_id"`
	BindingID int64        `db:"binding_id"`
	Email     string       `db:"email"`
	CreatedAt sql.NullTime `db:"created_at"`
	SentAt    sql.NullTime `db:"sent_at"`
	ExpiresAt sql.NullTime `db:"expires_at"`
	KilledAt  sql.NullTime `db:"killed_at"`
	SpentAt   sql.NullTime `db:"spent_at"`
	MemberID  int64        `db:"member_id"`
}

// bindingRow is what sqlLockBinding scans into.
type bindingRow struct {
	ID            int64        `db:"id"`
	MemberID      int64        `db:"member_id"`
	Email         string       `db:"email"`
	CountryCode   string       `db:"country_code"`
	Phone         string       `db:"phone"`
	State         string       `db:"state"`
	Modifications int          `db:"modifications"`
	SubmittedAt   sql.NullTime `db:"submitted_at"`
	ActivatedAt   sql.NullTime `db:"activated_at"`
	LinkSentAt    sql.NullTime `db:"link_sent_at"`
	LinkExpiresAt sql.NullTime `db:"link_expires_at"`
	UnsentLinks   int          `db:"unsent_links"`
	NewestLinkID  int64        `db:"newest_link_id"`
}

// orgRow is what sqlOrganization scans into.
type orgRow struct {
	ID        int64        `db:"id"`
	Name      string       `db:"name"`
	Lang      string       `db:"lang"`
	CreatedAt sql.NullTime `db:"created_at"`
}
