package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

// BindSecurityInfo binds security information to a member with none
// (R2-R4); on a FAILED member it does what RebindSecurityInfo does (R8).
func (s *Store) BindSecurityInfo(ctx context.Context, orgID int64, actor member.Actor, memberID int64, info member.SecurityInfo) (*member.Member, error) {
	return s.mutate(ctx, orgID, memberID, info.Email, func(tx *sqlx.Tx, m *member.Member) error {
		kind, derr := member.DecideBind(m)
		if derr != nil {
			return derr
		}
		return s.newBinding(ctx, tx, m, actor, info, kind)
	})
}

// RebindSecurityInfo replaces a FAILED binding with a fresh pending one
// (R8): a new email, a fresh modification count.
func (s *Store) RebindSecurityInfo(ctx context.Context, orgID int64, actor member.Actor, memberID int64, info member.SecurityInfo) (*member.Member, error) {
	return s.mutate(ctx, orgID, memberID, info.Email, func(tx *sqlx.Tx, m *member.Member) error {
		if derr := member.DecideRebind(m); derr != nil {
			return derr
		}
		return s.newBinding(ctx, tx, m, actor, info, member.LinkRebound)
	})
}

// UpdateSecurityInfo modifies pending security information (R5): a new
// link to the (new) email, every earlier link killed, the given-up email
// free again.
func (s *Store) UpdateSecurityInfo(ctx context.Context, orgID int64, actor member.Actor, memberID int64, info member.SecurityInfo) (*member.Member, error) {
	return s.mutate(ctx, orgID, memberID, info.Email, func(tx *sqlx.Tx, m *member.Member) error {
		if derr := member.DecideModify(m, info, s.policy); derr != nil {
			return derr
		}
		b, now := m.Binding, s.Now()
		if newKey := member.EmailKey(info.Email); newKey != member.EmailKey(b.Email) {
			if _, err := tx.ExecContext(ctx, `DELETE FROM email_claims WHERE email_key = ? AND binding_id = ?`, member.EmailKey(b.Email), b.ID); err != nil {
				return fmt.Errorf("release email: %w", err)
			}
			if err := s.claimEmail(ctx, tx, m, b.ID, info.Email, now); err != nil {
				return err
			}
		}
		if err := s.killLinks(ctx, tx, m.OrgID, b.ID, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			UPDATE bindings SET email = ?, email_key = ?, country_code = ?, phone = ?, modifications = modifications + 1,
				link_sent_at = NULL, link_expires_at = NULL, unsent_links = 0
			WHERE id = ? AND org_id = ?`,
			info.Email, member.EmailKey(info.Email), info.CountryCode, info.Phone, b.ID, m.OrgID)
		if err != nil {
			return fmt.Errorf("modify binding %d: %w", b.ID, err)
		}
		b.Email, b.CountryCode, b.Phone = info.Email, info.CountryCode, info.Phone
		b.Modifications++
		b.LinkSentAt, b.LinkExpiresAt, b.UnsentLinks = nil, nil, 0
		if err := s.record(ctx, tx, m, b.ID, member.EventModified, actor, info.Email, fmt.Sprintf("modification %d of %d", b.Modifications, s.policy.MaxModifications), now); err != nil {
			return err
		}
		return s.newLink(ctx, tx, m, member.LinkModified, now)
	})
}

// ResendActivationLink sends a new link to the pending binding's email
// (R6). Earlier links to that email stay valid until their own expiry.
func (s *Store) ResendActivationLink(ctx context.Context, orgID int64, actor member.Actor, memberID int64) (*member.Member, error) {
	return s.mutate(ctx, orgID, memberID, "", func(tx *sqlx.Tx, m *member.Member) error {
		if m.Binding == nil {
			return member.DecideResend(m, nil, s.policy)
		}
		// A locking read: it sees every send committed before the
		// binding's lock was granted. A plain read sees the transaction's
		// snapshot, which on TiDB is taken at its start, before the lock
		// wait, so concurrent resends all passed the cap there.
		var sends []time.Time
		if err := tx.SelectContext(ctx, &sends, `SELECT created_at FROM activation_links WHERE binding_id = ? AND org_id = ? FOR UPDATE`, m.Binding.ID, m.OrgID); err != nil {
			return fmt.Errorf("read link sends: %w", err)
		}
		if derr := member.DecideResend(m, sends, s.policy); derr != nil {
			return derr
		}
		now := s.Now()
		if err := s.record(ctx, tx, m, m.Binding.ID, member.EventLinkResent, actor, m.Binding.Email, "", now); err != nil {
			return err
		}
		return s.newLink(ctx, tx, m, member.LinkResent, now)
	})
}

// mutate runs change on a member locked in a transaction. email, when set,
// is the email the change claims: a duplicate-key failure on it becomes the
// right conflict code.
//
// Every change made through mutate queues exactly one activation mail when
// it succeeds, and each takes that mail from the organization's hourly
// budget (see orgBudget): from this instance's reserved block when it has
// one, or else by rolling back, reserving a block in a transaction of its
// own, and running the change again.
func (s *Store) mutate(ctx context.Context, orgID, memberID int64, email string, change func(tx *sqlx.Tx, m *member.Member) error) (*member.Member, error) {
	var m *member.Member
	var ticket mailTicket // a mail of the budget this call holds
	var err error
	for attempt := 0; ; attempt++ {
		err = s.inTx(ctx, func(tx *sqlx.Tx) error {
			var err error
			if m, err = s.lockMember(ctx, tx, orgID, memberID); err != nil {
				return err
			}
			if err := change(tx, m); err != nil {
				return err
			}
			if !ticket.valid(s.Now()) && !s.budget.take(orgID, s.Now(), &ticket) {
				return errNoReservedMail
			}
			return nil
		})
		if !errors.Is(err, errNoReservedMail) || attempt == 2 {
			break
		}
		if err = s.reserveOrgMail(ctx, orgID, &ticket); err != nil {
			break
		}
	}
	if err == nil {
		ticket = mailTicket{} // spent on the mail just committed
		s.notifyOutbox()
		return m, nil
	}
	s.budget.giveBack(ticket)
	if errors.Is(err, errNoReservedMail) {
		err = fmt.Errorf("mutate member %d: %w", memberID, err)
	}
	if mysqlErrorNumber(err) == errDuplicateKey && email != "" {
		err = s.emailConflict(ctx, email)
	}
	return nil, err
}

// newBinding starts a fresh pending binding for m: a bind, or a rebind
// that replaces a failed one.
func (s *Store) newBinding(ctx context.Context, tx *sqlx.Tx, m *member.Member, actor member.Actor, info member.SecurityInfo, kind member.LinkKind) error {
	now := s.Now()
	from := classOf(m)
	if old := m.Binding; old != nil {
		// The failed binding keeps its email claim: a failed email is
		// burned for good (R7).
		if _, err := tx.ExecContext(ctx, `UPDATE bindings SET state = 'FAILED' WHERE id = ? AND org_id = ?`, old.ID, m.OrgID); err != nil {
			return fmt.Errorf("close failed binding %d: %w", old.ID, err)
		}
		if e := m.Expiry(); e != nil {
			if err := s.record(ctx, tx, m, old.ID, e.Kind, e.Actor, e.Email, e.Detail, e.At); err != nil {
				return err
			}
		}
	}
	res, err := tx.ExecContext(ctx, `
		INSERT INTO bindings (org_id, member_id, email, email_key, country_code, phone, state, submitted_at)
		VALUES (?, ?, ?, ?, ?, ?, 'PENDING', ?)`,
		m.OrgID, m.ID, info.Email, member.EmailKey(info.Email), info.CountryCode, info.Phone, now)
	if err != nil {
		return fmt.Errorf("insert binding: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return err
	}
	if err := s.claimEmail(ctx, tx, m, id, info.Email, now); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE members SET binding_id = ? WHERE id = ? AND org_id = ?`, id, m.ID, m.OrgID); err != nil {
		return fmt.Errorf("attach binding: %w", err)
	}
	m.Binding = &member.Binding{
		ID: id, MemberID: m.ID, Email: info.Email, CountryCode: info.CountryCode, Phone: info.Phone,
		State: member.StatePending, SubmittedAt: now,
	}
	event := member.EventSubmitted
	if kind == member.LinkRebound {
		event = member.EventRebound
	}
	if err := s.record(ctx, tx, m, id, event, actor, info.Email, "", now); err != nil {
		return err
	}
	if err := s.newLink(ctx, tx, m, kind, now); err != nil {
		return err
	}
	return recount(ctx, tx, m, from, classOf(m))
}

// claimEmail takes email for a binding in the service-wide claim table.
// The primary key holds R3: of concurrent claims of one email exactly one
// commits; the others fail with a duplicate key.
//
// The claim is taken under the address's mail_recipients row, which the
// activation mail locks anyway (countRecipientMail): claims of one email
// then wait for one another there, and at most one at a time waits on
// the claim row itself. Several inserts waiting on a claim row that its
// holder is deleting (a modification away from the email) deadlock each
// other, which a crowd of members cycling through one address made
// common.
func (s *Store) claimEmail(ctx context.Context, tx *sqlx.Tx, m *member.Member, bindingID int64, email string, now time.Time) error {
	if err := lockRecipientRow(ctx, tx, member.EmailKey(email)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO email_claims (email_key, binding_id, org_id, member_id, claimed_at) VALUES (?, ?, ?, ?, ?)`,
		member.EmailKey(email), bindingID, m.OrgID, m.ID, now)
	if err != nil {
		return fmt.Errorf("claim email: %w", err)
	}
	return nil
}

// emailConflict explains why email could not be claimed: it is held by a
// live binding, or it was burned by a failed one.
func (s *Store) emailConflict(ctx context.Context, email string) error {
	b, err := s.bindingOfClaim(ctx, email)
	if err != nil {
		return err
	}
	if b != nil && b.Status(s.Now()) == member.StatusFailed {
		return member.FieldErrorf(member.CodeEmailPreviouslyFailed, "email",
			"email %s was bound before and its activation failed: an email whose activation failed cannot be bound again; use another email", email)
	}
	return member.FieldErrorf(member.CodeEmailAlreadyUsed, "email", "email %s is already bound to another member account", email)
}

func (s *Store) bindingOfClaim(ctx context.Context, email string) (*member.Binding, error) {
	var r struct {
		State         string       `db:"state"`
		LinkExpiresAt sql.NullTime `db:"link_expires_at"`
		UnsentLinks   int          `db:"unsent_links"`
	}
	err := s.db.GetContext(ctx, &r, `
		SELECT b.state, b.link_expires_at, b.unsent_links
		FROM email_claims c JOIN bindings b ON b.id = c.binding_id AND b.org_id = c.org_id WHERE c.email_key = ?`, member.EmailKey(email))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read claimed binding: %w", err)
	}
	return &member.Binding{State: member.BindingState(r.State), LinkExpiresAt: timePtr(r.LinkExpiresAt), UnsentLinks: r.UnsentLinks}, nil
}

// killLinks supersedes every live link of a binding, and cancels the mail
// of those not sent yet: a superseded link must not go out.
func (s *Store) killLinks(ctx context.Context, tx *sqlx.Tx, orgID, bindingID int64, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE activation_links SET killed_at = ? WHERE binding_id = ? AND org_id = ? AND killed_at IS NULL AND spent_at IS NULL`, now, bindingID, orgID); err != nil {
		return fmt.Errorf("kill links of binding %d: %w", bindingID, err)
	}
	_, err := tx.ExecContext(ctx, `
		UPDATE outbox SET status = 'CANCELLED', token = NULL, leased_by = NULL, lease_until = NULL
		WHERE binding_id = ? AND org_id = ? AND status IN ('QUEUED', 'RETRYING')`, bindingID, orgID)
	if err != nil {
		return fmt.Errorf("cancel mail of binding %d: %w", bindingID, err)
	}
	return nil
}

// newLink mints an activation link for m's binding and queues its mail in
// the same transaction: no link without its mail, no mail without its
// change (DESIGN.md §4). The raw token lives only in the outbox row.
func (s *Store) newLink(ctx context.Context, tx *sqlx.Tx, m *member.Member, kind member.LinkKind, now time.Time) error {
	b := m.Binding
	if err := s.countRecipientMail(ctx, tx, b.Email, now); err != nil {
		return err
	}
	token, err := s.secret()
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `
		INSERT INTO activation_links (org_id, binding_id, token_hash, kind, email, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, m.OrgID, b.ID, Hash(token), string(kind), b.Email, now)
	if err != nil {
		return fmt.Errorf("insert activation link: %w", err)
	}
	linkID, err := res.LastInsertId()
	if err != nil {
		return err
	}
	nonce, err := s.randomHex(8)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO outbox (org_id, member_id, binding_id, link_id, recipient, token, message_id, status, next_attempt_at, created_at, traceparent)
		VALUES (?, ?, ?, ?, ?, ?, ?, 'QUEUED', ?, ?, ?)`,
		m.OrgID, m.ID, b.ID, linkID, b.Email, token, fmt.Sprintf("activation.%d.%s@memberbind", linkID, nonce), now, now, traceParent(ctx))
	if err != nil {
		return fmt.Errorf("queue activation mail: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE bindings SET unsent_links = unsent_links + 1, newest_link_id = ? WHERE id = ? AND org_id = ?`, linkID, b.ID, m.OrgID); err != nil {
		return fmt.Errorf("count link of binding %d: %w", b.ID, err)
	}
	b.UnsentLinks++
	b.NewestLinkID = linkID
	b.Delivery = &member.Delivery{LinkID: linkID, Status: member.DeliveryQueued}
	return nil
}

// countRecipientMail decides whether an activation mail may go to email
// at now under the per-recipient cap (member.DecideRecipientMail), and
// counts it. It locks the address's mail_recipients row (creating it on
// the address's first mail), so that concurrent mails to one address, from
// any binding or organization, decide one after the other, and it reads
// the times of the address's recent mails from that locked row: a locking
// read sees what the transactions before it committed on every engine (a
// plain SELECT on TiDB would read the transaction's start snapshot).
//
// Lock order: a mutation holds its member (and binding, and email claim)
// before it gets here; nothing locks a member while holding a recipient
// row. (The organization's budget row is locked only in a transaction of
// its own, see orgBudget.)
func (s *Store) countRecipientMail(ctx context.Context, tx *sqlx.Tx, email string, now time.Time) error {
	key := member.EmailKey(email)
	sends, err := lockMailRecipient(ctx, tx, key, "recent_mails")
	if err != nil {
		return err
	}
	if derr := member.DecideRecipientMail(email, sends, now, s.policy); derr != nil {
		return derr
	}
	return setMailRecipient(ctx, tx, key, "recent_mails", append(member.RecentMails(sends, now, s.policy), now))
}

// lockMailRecipient locks the mail_recipients row of an email key,
// creating it on the address's first mail, and returns the mail times of
// one of its columns (recent_mails or recent_signins).
func lockMailRecipient(ctx context.Context, tx *sqlx.Tx, key, column string) ([]time.Time, error) {
	if err := lockRecipientRow(ctx, tx, key); err != nil {
		return nil, err
	}
	var recent string
	if err := tx.GetContext(ctx, &recent, `SELECT `+column+` FROM mail_recipients WHERE email_key = ? FOR UPDATE`, key); err != nil {
		return nil, fmt.Errorf("read mails to recipient: %w", err)
	}
	return parseMailTimes(recent), nil
}

// lockRecipientRow makes the mail_recipients row of an email key exist,
// waiting for a concurrent first mail's insert to commit, and locks it (an
// upsert that finds the row takes its exclusive lock); the locking read of
// lockMailRecipient then holds and reads it.
func lockRecipientRow(ctx context.Context, tx *sqlx.Tx, key string) error {
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO mail_recipients (email_key, recent_mails, recent_signins) VALUES (?, '', '')
		ON DUPLICATE KEY UPDATE email_key = email_key`, key); err != nil {
		return fmt.Errorf("lock mail recipient: %w", err)
	}
	return nil
}

// setMailRecipient stores the mail times kept of a column of a locked
// mail_recipients row.
func setMailRecipient(ctx context.Context, tx *sqlx.Tx, key, column string, kept []time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE mail_recipients SET `+column+` = ? WHERE email_key = ?`, formatMailTimes(kept), key); err != nil {
		return fmt.Errorf("count mail to recipient: %w", err)
	}
	return nil
}

// parseMailTimes reads mail_recipients.recent_mails: Unix microseconds
// separated by spaces. A malformed entry is skipped: it could only make
// the cap looser by one mail, never stop mail for good.
func parseMailTimes(s string) []time.Time {
	var out []time.Time
	for _, f := range strings.Fields(s) {
		us, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, time.UnixMicro(us).UTC())
	}
	return out
}

func formatMailTimes(ts []time.Time) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = strconv.FormatInt(t.UnixMicro(), 10)
	}
	return strings.Join(parts, " ")
}
