package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// Events returns one page of a member's events, newest first.
func (s *Store) Events(ctx context.Context, orgID, memberID int64, q member.PageQuery) (*member.EventPage, error) {
	cond, args := "org_id = ? AND member_id = ?", []any{orgID, memberID}
	if q.After > 0 {
		cond += " AND id < ?"
		args = append(args, q.After)
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
	args = append(args, q.First+1)
	err := s.db.SelectContext(ctx, &rows, `
		SELECT id, member_id, kind, actor, email, detail, occurred_at FROM member_events
		WHERE `+cond+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list events of member %d: %w", memberID, err)
	}
	page := &member.EventPage{}
	if q.After == 0 && q.First > 0 {
		// A binding fails by the clock alone (R7): nothing wrote its
		// EXPIRED event, so it is shown from the binding until a rebind
		// records it.
		expired, err := s.unrecordedExpiry(ctx, orgID, memberID)
		if err != nil {
			return nil, err
		}
		if expired != nil {
			page.Events = append(page.Events, expired)
			q.First--
		}
	}
	if len(rows) > q.First {
		page.HasNext = true
		rows = rows[:q.First]
	}
	for _, r := range rows {
		page.Events = append(page.Events, &member.Event{
			ID: r.ID, MemberID: r.MemberID, Kind: member.EventKind(r.Kind), Actor: member.Actor(r.Actor),
			Email: r.Email.String, Detail: r.Detail.String, At: r.At.UTC(),
		})
	}
	return page, nil
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

// unrecordedExpiry returns the EXPIRED event of a member's current binding
// if it has failed, or nil.
func (s *Store) unrecordedExpiry(ctx context.Context, orgID, memberID int64) (*member.Event, error) {
	var row memberRow
	err := s.db.GetContext(ctx, &row, memberSelect+` WHERE m.id = ? AND m.org_id = ?`, memberID, orgID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read member %d: %w", memberID, err)
	}
	m := row.member(s.Now())
	if m.Status() != member.StatusFailed {
		return nil, nil
	}
	b := m.Binding
	return &member.Event{
		MemberID: m.ID, Kind: member.EventExpired, Actor: member.ActorSystem, Email: b.Email,
		Detail: expiredDetail, At: b.FailedAt(m.AsOf),
	}, nil
}

// expiredDetail explains an EXPIRED event.
const expiredDetail = "every activation link expired unused"
