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
	return nil
}

// Events returns the same page of each member's events, newest first, in
// one statement: a UNION ALL of one keyset query per member, each of which
// reads at most q.First+1 rows of the (member_id, id) index, however long
// the member's history. (A window function would number every event of
// every member to keep the first few.)
func (s *Store) Events(ctx context.Context, members []*member.Member, q member.PageQuery) (map[int64]*member.EventPage, error) {
	pages := make(map[int64]*member.EventPage, len(members))
	var parts []string
	var args []any
	var unique []*member.Member
	for _, m := range members {
		if _, dup := pages[m.ID]; dup {
			continue
		}
		pages[m.ID] = &member.EventPage{}
		unique = append(unique, m)
		part := `SELECT id, member_id, kind, actor, email, detail, occurred_at FROM member_events WHERE member_id = ? AND org_id = ?`
		args = append(args, m.ID, m.OrgID)
		if q.After > 0 {
			part += ` AND id < ?`
			args = append(args, q.After)
		}
		parts = append(parts, part+` ORDER BY id DESC LIMIT ?`)
		args = append(args, q.First+1)
	}
	if len(parts) == 0 {
		return pages, nil
	}
	var rows []struct {
		ID       int64          `db:"id"`
		MemberID int64          `db:"member_id"`
		Kind     string         `db:"kind"`
		Actor    string         `db:"actor"`
		Email    sql.NullString `db:"email"`
		Detail   sql.NullString `db:"detail"`
		At       time.Time      `db:"occurred_at"`
	}
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
	for _, r := range rows {
		stored[r.MemberID] = append(stored[r.MemberID], &member.Event{
			ID: r.ID, MemberID: r.MemberID, Kind: member.EventKind(r.Kind), Actor: member.Actor(r.Actor),
			Email: r.Email.String, Detail: r.Detail.String, At: r.At.UTC(),
		})
	}
	for _, m := range unique {
		page := pages[m.ID]
		// A union has no order of its own.
		events := stored[m.ID]
		slices.SortFunc(events, func(a, b *member.Event) int { return cmp.Compare(b.ID, a.ID) })
		first := q.First
		if q.After == 0 && first > 0 {
			if e := m.Expiry(); e != nil {
				page.Events = append(page.Events, e)
				first--
			}
		}
		if len(events) > first {
			page.HasNext = true
			events = events[:first]
		}
		page.Events = append(page.Events, events...)
	}
	return pages, nil
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
