package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

// MarkOutboxSent records that the SMTP server accepted the row's mail at
// sentAt: MarkOutboxSentBatch of one row. It returns ErrLeaseLost when
// owner no longer holds the row.
func (s *Store) MarkOutboxSent(ctx context.Context, orgID, id int64, owner string, sentAt time.Time) error {
	lost, err := s.MarkOutboxSentBatch(ctx, owner, map[int64]member.OutboxSent{id: {OrgID: orgID, At: sentAt}})
	if err != nil {
		return err
	}
	if len(lost) > 0 {
		return fmt.Errorf("outbox row %d: %w", id, ErrLeaseLost)
	}
	return nil
}

// MarkOutboxSentBatch records, in one transaction, that the SMTP server
// accepted the mail of each row in sent (row id -> the row's organization
// and the time it accepted it), and erases the rows' raw tokens. An activation link's days start at
// its mail's acceptance (R7): the link gets its sent_at and expires_at,
// its binding one unsent link fewer and its newest sent and expiry times,
// its member a LINK_SENT event. A link superseded while its mail was in
// flight is left as it is (its binding no longer counts it) though its row
// is marked; a sign-in mail's row is only marked, its link's minutes
// having started when it was asked for.
//
// A row owner no longer holds (cancelled by a modification or an
// activation while in flight, or taken over after its lease ran out) is
// skipped and returned in lost, in ascending order. On an error nothing is
// recorded. A deadlock or lock wait timeout retries the whole batch.
func (s *Store) MarkOutboxSentBatch(ctx context.Context, owner string, sent map[int64]member.OutboxSent) (lost []int64, err error) {
	if len(sent) == 0 {
		return nil, nil
	}
	ids := make([]int64, 0, len(sent))
	var orgs []int64
	at := make(map[int64]time.Time, len(sent))
	for id, t := range sent {
		ids = append(ids, id)
		at[id] = t.At.UTC().Truncate(time.Microsecond)
		if !slices.Contains(orgs, t.OrgID) {
			orgs = append(orgs, t.OrgID)
		}
	}
	slices.Sort(ids)
	slices.Sort(orgs)
	err = s.inTxAt(ctx, sql.LevelReadCommitted, func(tx *sqlx.Tx) error {
		rows, err := s.lockOutboxRows(ctx, tx, orgs, ids, owner)
		if err != nil {
			return err
		}
		lost = lost[:0]
		held := make(map[int64]bool, len(rows))
		for _, r := range rows {
			held[r.ID] = true
		}
		for _, id := range ids {
			if !held[id] {
				lost = append(lost, id)
			}
		}
		if len(rows) == 0 {
			return nil
		}
		return s.markSent(ctx, tx, orgs, rows, at)
	})
	if err != nil {
		return nil, fmt.Errorf("mark %d outbox rows sent: %w", len(ids), err)
	}
	return lost, nil
}

// markSent writes what MarkOutboxSentBatch records for rows, which tx
// holds locked, a few statements for the whole batch.
func (s *Store) markSent(ctx context.Context, tx *sqlx.Tx, orgs []int64, rows []outboxRow, at map[int64]time.Time) error {
	rowIDs := make([]int64, len(rows))
	sentAt := make(caseOf, len(rows))
	// Links superseded while their mail was in flight stay as they are.
	var live []outboxRow
	for i, r := range rows {
		rowIDs[i] = r.ID
		sentAt[r.ID] = at[r.ID]
		if r.Kind != member.OutboxSignIn && r.LinkUnsent {
			live = append(live, r)
		}
	}
	setSentAt, args := sentAt.sql()
	if err := execIn(ctx, tx, `
		UPDATE outbox SET status = 'SENT', sent_at = `+setSentAt+`, token = NULL, attempts = attempts + 1, last_error = NULL,
			leased_by = NULL, lease_until = NULL
		WHERE id IN (?) AND org_id IN (?)`, append(args, rowIDs, orgs)...); err != nil {
		return fmt.Errorf("mark outbox rows sent: %w", err)
	}
	if len(live) == 0 {
		return nil
	}
	ttl := s.policy.ActivationTTL
	linkSent, linkExpires := caseOf{}, caseOf{}
	// A binding may have several links in the batch (a resend): one
	// unsent link fewer for each, and the newest times of them all.
	unsent := map[int64]int{}
	bindingSent := caseOf{}
	linkIDs := make([]int64, len(live))
	eventArgs := make([]any, 0, 8*len(live))
	for i, r := range live {
		t := at[r.ID]
		linkIDs[i] = r.LinkID.Int64
		linkSent[r.LinkID.Int64], linkExpires[r.LinkID.Int64] = t, t.Add(ttl)
		unsent[r.BindingID]++
		if prev, ok := bindingSent[r.BindingID].(time.Time); !ok || prev.Before(t) {
			bindingSent[r.BindingID] = t
		}
		eventArgs = append(eventArgs, r.OrgID, r.MemberID, r.BindingID, string(member.EventLinkSent), string(member.ActorSystem),
			nullString(r.Recipient), nullString(linkSentDetail), t)
	}
	setSent, sentArgs := linkSent.sql()
	setExpires, expiresArgs := linkExpires.sql()
	if err := execIn(ctx, tx, `UPDATE activation_links SET sent_at = `+setSent+`, expires_at = `+setExpires+` WHERE id IN (?) AND org_id IN (?)`,
		slices.Concat(sentArgs, expiresArgs, []any{linkIDs, orgs})...); err != nil {
		return fmt.Errorf("start the days of sent links: %w", err)
	}

	bindingIDs := make([]int64, 0, len(unsent))
	bindingExpires, bindingUnsent := caseOf{}, caseOf{}
	for id, n := range unsent {
		bindingIDs = append(bindingIDs, id)
		bindingUnsent[id] = n
		bindingExpires[id] = bindingSent[id].(time.Time).Add(ttl)
	}
	slices.Sort(bindingIDs)
	n, nArgs := bindingUnsent.sql()
	sentSQL, sentArgs2 := bindingSent.sql()
	expSQL, expArgs := bindingExpires.sql()
	// The later of the binding's time and the batch's, spelled out: the
	// embedded engine's GREATEST does not compare times.
	if err := execIn(ctx, tx, `
		UPDATE bindings SET unsent_links = unsent_links - `+n+`,
			link_sent_at = CASE WHEN link_sent_at IS NULL OR link_sent_at < `+sentSQL+` THEN `+sentSQL+` ELSE link_sent_at END,
			link_expires_at = CASE WHEN link_expires_at IS NULL OR link_expires_at < `+expSQL+` THEN `+expSQL+` ELSE link_expires_at END
		WHERE id IN (?) AND org_id IN (?)`,
		slices.Concat(nArgs, sentArgs2, sentArgs2, expArgs, expArgs, []any{bindingIDs, orgs})...); err != nil {
		return fmt.Errorf("start the link days of bindings: %w", err)
	}

	// One LINK_SENT event per link, as record writes it (R12).
	values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?), ", len(live)), ", ")
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO member_events (org_id, member_id, binding_id, kind, actor, email, detail, occurred_at)
		VALUES `+values, eventArgs...); err != nil {
		return fmt.Errorf("record %s events: %w", member.EventLinkSent, err)
	}
	return nil
}

// linkSentDetail is the detail of a LINK_SENT event.
const linkSentDetail = "accepted by the mail server"

// caseOf is a value per row id, written into SQL as a CASE on id.
type caseOf map[int64]any

// sql returns `CASE id WHEN ? THEN ? … END` and its arguments, ids in
// ascending order.
func (c caseOf) sql() (string, []any) {
	ids := make([]int64, 0, len(c))
	for id := range c {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	args := make([]any, 0, 2*len(ids))
	b.WriteString("(CASE id")
	for _, id := range ids {
		b.WriteString(" WHEN ? THEN ?")
		args = append(args, id, c[id])
	}
	b.WriteString(" END)")
	return b.String(), args
}

// execIn runs a statement whose slice arguments sqlx.In expands.
func execIn(ctx context.Context, tx *sqlx.Tx, query string, args ...any) error {
	query, args, err := sqlx.In(query, args...)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, query, args...)
	return err
}

// lockOutboxRows locks the outbox rows of ids (of the organizations orgs)
// that owner still holds and returns them in ascending id order. The bindings of activation rows are
// locked first, in ascending id order: modifications lock binding, then
// links and outbox, and the same order here keeps the two from
// deadlocking; two batches that lock bindings in one order cannot
// deadlock each other either. A sign-in row changes nothing of its
// binding, which is not locked.
func (s *Store) lockOutboxRows(ctx context.Context, tx *sqlx.Tx, orgs, ids []int64, owner string) ([]outboxRow, error) {
	// outbox.binding_id never changes: a plain read finds the bindings.
	query, args, err := sqlx.In(`SELECT DISTINCT binding_id FROM outbox WHERE id IN (?) AND org_id IN (?) AND kind <> ?`, ids, orgs, string(member.OutboxSignIn))
	if err != nil {
		return nil, err
	}
	var bindings []int64
	if err := tx.SelectContext(ctx, &bindings, query, args...); err != nil {
		return nil, fmt.Errorf("read outbox rows: %w", err)
	}
	if len(bindings) > 0 {
		slices.Sort(bindings)
		query, args, err := sqlx.In(`SELECT id FROM bindings WHERE id IN (?) AND org_id IN (?) ORDER BY id FOR UPDATE`, bindings, orgs)
		if err != nil {
			return nil, err
		}
		var locked []int64
		if err := tx.SelectContext(ctx, &locked, query, args...); err != nil {
			return nil, fmt.Errorf("lock bindings: %w", err)
		}
	}
	// The activation link is locked with its row: under its binding's
	// lock, as every change of a link is.
	query, args, err = sqlx.In(`
		SELECT o.id, o.kind, o.org_id, o.member_id, o.binding_id, o.link_id, o.recipient, o.attempts,
			(l.id IS NOT NULL AND l.killed_at IS NULL AND l.sent_at IS NULL) AS link_unsent
		FROM outbox o LEFT JOIN activation_links l ON l.id = o.link_id AND l.org_id = o.org_id
		WHERE o.id IN (?) AND o.org_id IN (?) AND o.leased_by = ? AND o.status IN ('QUEUED', 'RETRYING') ORDER BY o.id FOR UPDATE`, ids, orgs, owner)
	if err != nil {
		return nil, err
	}
	var rows []outboxRow
	if err := tx.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("lock outbox rows: %w", err)
	}
	return rows, nil
}
