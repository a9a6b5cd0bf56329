package mysql

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

// maxDetail is the width of member_events.detail and outbox.last_error.
const maxDetail = 1000

// record writes a member event in tx (R12).
func (s *Store) record(ctx context.Context, tx *sqlx.Tx, m *member.Member, bindingID int64, kind member.EventKind, actor member.Actor, email, detail string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO member_events (org_id, member_id, binding_id, kind, actor, email, detail, occurred_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		m.OrgID, m.ID, sql.NullInt64{Int64: bindingID, Valid: bindingID != 0}, string(kind), string(actor),
		nullString(email), nullString(truncate(detail, maxDetail)), at)
	if err != nil {
		return fmt.Errorf("record %s event of member %d: %w", kind, m.ID, err)
	}
	if t := member.WebhookEventOf(kind); t != "" {
		if _, err := s.enqueueWebhook(ctx, tx, m.OrgID, m.ID, t, at, webhookData(kind, email, detail)); err != nil {
			return err
		}
	}
	return nil
}

// Events returns the same page of each member's events, newest first, in
// one statement: a UNION ALL of one keyset query per member, each of which
// reads at most q.Size+1 rows of the (member_id, id) index, however long
// the member's history, and, for a page that starts at a cursor, one more
// per member, the nearest event on the cursor's other side (as
// membersStatements does). (A window function would number every event of
// every member to keep the first few.)
func (s *Store) Events(ctx context.Context, members []*member.Member, q member.PageQuery) (map[int64]*member.EventPage, error) {
	pages := make(map[int64]*member.EventPage, len(members))
	var parts []string
	var args []any
	var unique []*member.Member
	order, probe, probeOrder, cursor := "DESC", `id >= ?`, "ASC", q.After
	if q.Backward {
		order, probe, probeOrder, cursor = "ASC", `id <= ?`, "DESC", q.Before
	}
	const selectFrom = `SELECT id, member_id, kind, actor, email, detail, occurred_at FROM member_events WHERE member_id = ? AND org_id = ?`
	for _, m := range members {
		if _, dup := pages[m.ID]; dup {
			continue
		}
		pages[m.ID] = &member.EventPage{}
		unique = append(unique, m)
		part := selectFrom
		args = append(args, m.ID, m.OrgID)
		if q.After > 0 {
			part += ` AND id < ?`
			args = append(args, q.After)
		}
		if q.Before > 0 {
			part += ` AND id > ?`
			args = append(args, q.Before)
		}
		parts = append(parts, part+` ORDER BY id `+order+` LIMIT ?`)
		args = append(args, q.Size+1)
		if cursor > 0 {
			parts = append(parts, selectFrom+` AND `+probe+` ORDER BY id `+probeOrder+` LIMIT 1`)
			args = append(args, m.ID, m.OrgID, cursor)
		}
	}
	if len(parts) == 0 {
		return pages, nil
	}
	var rows []eventRow
	query := parts[0]
	if len(parts) > 1 {
		// Each part's ORDER BY and LIMIT hold within its parentheses.
		// (go-mysql-server refuses a lone SELECT in parentheses.)
		query = "(" + strings.Join(parts, ") UNION ALL (") + ")"
	}
	if err := s.db.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("list events of %d members: %w", len(pages), err)
	}
	stored := make(map[int64][]*member.Event, len(pages))
	beyond := make(map[int64]bool, len(pages))
	for i := range rows {
		r := &rows[i]
		if !q.Contains(r.ID) {
			beyond[r.MemberID] = true
			continue
		}
		stored[r.MemberID] = append(stored[r.MemberID], r.event())
	}
	for _, m := range unique {
		page := pages[m.ID]
		// A union has no order of its own, and a backward page is read
		// oldest first.
		events := stored[m.ID]
		slices.SortFunc(events, func(a, b *member.Event) int { return cmp.Compare(b.ID, a.ID) })
		// An expiry, derived rather than stored, stands before every
		// stored event, as if its id were member.ExpiryPosition.
		expiry := m.Expiry()
		if expiry != nil && q.Contains(member.ExpiryPosition) {
			events = append([]*member.Event{expiry}, events...)
		}
		// A forward page after a cursor has the expiry before it.
		isBeyond := beyond[m.ID] || (expiry != nil && !q.Backward && q.After > 0)
		var more bool
		page.Events, more = member.Cut(q, events)
		if q.Backward {
			page.HasPrevious, page.HasNext = more, isBeyond
		} else {
			page.HasNext, page.HasPrevious = more, isBeyond
		}
	}
	return pages, nil
}

// EventsByID returns the stored events of the organization's members with
// these ids, by id.
func (s *Store) EventsByID(ctx context.Context, orgID int64, ids []int64) (map[int64]*member.Event, error) {
	out := make(map[int64]*member.Event, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	query, args, err := sqlx.In(`SELECT id, member_id, kind, actor, email, detail, occurred_at FROM member_events WHERE org_id = ? AND id IN (?)`, orgID, ids)
	if err != nil {
		return nil, err
	}
	var rows []eventRow
	if err := s.db.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("read %d events by id: %w", len(ids), err)
	}
	for _, r := range rows {
		out[r.ID] = r.event()
	}
	return out, nil
}

// eventRow is a member_events row.
type eventRow struct {
	ID       int64          `db:"id"`
	MemberID int64          `db:"member_id"`
	Kind     string         `db:"kind"`
	Actor    string         `db:"actor"`
	Email    sql.NullString `db:"email"`
	Detail   sql.NullString `db:"detail"`
	At       time.Time      `db:"occurred_at"`
}

func (r *eventRow) event() *member.Event {
	return &member.Event{
		ID: r.ID, MemberID: r.MemberID, Kind: member.EventKind(r.Kind), Actor: member.Actor(r.Actor),
		Email: r.Email.String, Detail: r.Detail.String, At: r.At.UTC(),
	}
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
