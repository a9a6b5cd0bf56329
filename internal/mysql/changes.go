package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

// LastChange implements member.Changes: the newest member event's id.
// (An aggregate would do, but the embedded engine answers MAX over an
// empty table with no row at all.)
func (s *Store) LastChange(ctx context.Context) (int64, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, `SELECT id FROM member_events ORDER BY id DESC LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the newest member event: %w", err)
	}
	return id, nil
}

// ChangesAfter implements member.Changes on member_events, whose id (its
// primary key) is the sequence number: one range read of the primary key
// per range asked for, and one from seq on.
func (s *Store) ChangesAfter(ctx context.Context, seq int64, ranges []member.SeqRange, limit int) ([]member.Change, error) {
	var where strings.Builder
	where.WriteString("id > ?")
	args := []any{seq}
	for _, r := range ranges {
		where.WriteString(" OR id BETWEEN ? AND ?")
		args = append(args, r.From, r.To)
	}
	args = append(args, limit)
	var rows []struct {
		ID       int64 `db:"id"`
		OrgID    int64 `db:"org_id"`
		MemberID int64 `db:"member_id"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT id, org_id, member_id FROM member_events WHERE `+where.String()+` ORDER BY id LIMIT ?`, args...); err != nil {
		return nil, fmt.Errorf("read member events after %d: %w", seq, err)
	}
	out := make([]member.Change, len(rows))
	for i, r := range rows {
		out[i] = member.Change{Seq: r.ID, OrgID: r.OrgID, MemberID: r.MemberID}
	}
	return out, nil
}

// ExpiredBetween implements member.Changes, on the bindings_link_expiry
// index (migration 0013).
// A binding that still waits for a mail to go out (unsent_links) has not
// failed: when that mail is sent or fails, an event says so.
func (s *Store) ExpiredBetween(ctx context.Context, from, to time.Time, limit int) ([]member.Change, time.Time, error) {
	var rows []struct {
		OrgID     int64     `db:"org_id"`
		MemberID  int64     `db:"member_id"`
		ExpiresAt time.Time `db:"link_expires_at"`
	}
	if err := s.db.SelectContext(ctx, &rows, `
		SELECT org_id, member_id, link_expires_at FROM bindings
		WHERE link_expires_at > ? AND link_expires_at <= ? AND state = ? AND unsent_links = 0
		ORDER BY link_expires_at LIMIT ?`, from.UTC(), to.UTC(), string(member.StatePending), limit); err != nil {
		return nil, time.Time{}, fmt.Errorf("read the bindings that failed after %s: %w", from.UTC().Format(time.RFC3339), err)
	}
	out := make([]member.Change, len(rows))
	for i, r := range rows {
		out[i] = member.Change{OrgID: r.OrgID, MemberID: r.MemberID}
	}
	if len(rows) == limit {
		return out, rows[len(rows)-1].ExpiresAt.UTC(), nil
	}
	return out, to, nil
}

// RevokedAPIKeys implements member.Changes.
func (s *Store) RevokedAPIKeys(ctx context.Context, orgIDs, keyIDs []int64) (map[int64]bool, error) {
	revoked := map[int64]bool{}
	if len(keyIDs) == 0 || len(orgIDs) == 0 {
		return revoked, nil
	}
	query, args, err := sqlx.In(`SELECT id FROM api_keys WHERE org_id IN (?) AND id IN (?) AND revoked_at IS NOT NULL`, orgIDs, keyIDs)
	if err != nil {
		return nil, err
	}
	var rows []int64
	if err := s.db.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("read the revocation of %d API keys: %w", len(keyIDs), err)
	}
	for _, id := range rows {
		revoked[id] = true
	}
	return revoked, nil
}

var _ member.Changes = (*Store)(nil)
