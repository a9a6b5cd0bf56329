package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

// Deliveries returns the delivery state of each link's mail of an
// organization, by link id.
func (s *Store) Deliveries(ctx context.Context, orgID int64, linkIDs []int64) (map[int64]*member.Delivery, error) {
	out := make(map[int64]*member.Delivery, len(linkIDs))
	if len(linkIDs) == 0 {
		return out, nil
	}
	query, args, err := sqlx.In(`SELECT link_id, status, attempts, last_error, sent_at FROM outbox WHERE link_id IN (?) AND org_id = ?`, linkIDs, orgID)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		LinkID    int64          `db:"link_id"`
		Status    string         `db:"status"`
		Attempts  int            `db:"attempts"`
		LastError sql.NullString `db:"last_error"`
		SentAt    sql.NullTime   `db:"sent_at"`
	}
	if err := s.db.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	for _, r := range rows {
		out[r.LinkID] = &member.Delivery{
			LinkID: r.LinkID, Status: member.DeliveryStatus(r.Status), Attempts: r.Attempts,
			LastError: r.LastError.String, SentAt: timePtr(r.SentAt),
		}
	}
	return out, nil
}

// Sends returns the creation time of every link of each binding of an
// organization.
func (s *Store) Sends(ctx context.Context, orgID int64, bindingIDs []int64) (map[int64][]time.Time, error) {
	out := make(map[int64][]time.Time, len(bindingIDs))
	if len(bindingIDs) == 0 {
		return out, nil
	}
	query, args, err := sqlx.In(`SELECT binding_id, created_at FROM activation_links WHERE binding_id IN (?) AND org_id = ?`, bindingIDs, orgID)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		BindingID int64     `db:"binding_id"`
		CreatedAt time.Time `db:"created_at"`
	}
	if err := s.db.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("read link sends: %w", err)
	}
	for _, r := range rows {
		out[r.BindingID] = append(out[r.BindingID], r.CreatedAt.UTC())
	}
	return out, nil
}

// ClaimOutbox leases up to limit due outbox rows to owner until now+lease
// and returns them; it returns rows only when their lease committed, and
// on an error none. A row is due when it is QUEUED or RETRYING, its
// next attempt has come and nobody holds a lease on it that has not run
// out (its worker died mid-send).
//
// The lease is taken by a conditional UPDATE, which every engine runs on
// the rows' latest committed versions, and the rows are read back by a
// token the UPDATE wrote (DESIGN.md §11): nothing depends on SKIP LOCKED,
// which TiDB and Galera do not honour. A plain read of the due index
// (with an equality on status it yields the rows oldest first and stops
// after limit of them) picks candidates without locking any row; the
// UPDATE then leases those of them that are still due, by primary key in
// ascending order. Two claims that picked the same rows lock them in the
// same order: one waits for the other and finds them taken, and picks
// again. A claim never locks a row another worker holds, so it does not
// wait on that worker's marks; an UPDATE that scanned the due index
// itself would lock each index entry in its way and deadlock with the
// mark that moves that entry. A deadlock with a change to a binding is
// retried (see retryTx). It runs at READ COMMITTED (see inTxAt), so that
// each pick sees the claims committed meanwhile.
func (s *Store) ClaimOutbox(ctx context.Context, owner string, limit int, lease time.Duration) ([]member.OutboxMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	now := s.Now()
	var claimed []member.OutboxMessage
	err := s.inTxAt(ctx, sql.LevelReadCommitted, func(tx *sqlx.Tx) error {
		claimed = nil // nothing of an attempt that rolled back
		token, err := s.randomHex(16)
		if err != nil {
			return fmt.Errorf("claim token: %w", err)
		}
		n := 0
		for _, status := range []string{"QUEUED", "RETRYING"} {
			leased, err := leaseDue(ctx, tx, status, owner, token, now, now.Add(lease), limit-n)
			if err != nil {
				return err
			}
			n += leased
		}
		if n == 0 {
			return nil
		}
		claimed, err = readLeased(ctx, tx, token)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	return claimed, nil
}

// claimRounds bounds how often one claim picks again after other claims
// took rows it had picked.
const claimRounds = 3

// leaseDue leases up to limit due rows of status to owner under token
// (see ClaimOutbox) and returns how many it leased.
func leaseDue(ctx context.Context, tx *sqlx.Tx, status, owner, token string, now, until time.Time, limit int) (int, error) {
	n := 0
	for round := 0; round < claimRounds && n < limit; round++ {
		var picks []struct {
			ID    int64 `db:"id"`
			OrgID int64 `db:"org_id"`
		}
		err := tx.SelectContext(ctx, &picks, `
			SELECT id, org_id FROM outbox
			WHERE status = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
			ORDER BY next_attempt_at, id LIMIT ?`, status, now, now, limit-n)
		if err != nil {
			return n, fmt.Errorf("pick %s outbox rows: %w", status, err)
		}
		if len(picks) == 0 {
			return n, nil
		}
		picked := make([]int64, len(picks))
		for i, p := range picks {
			picked[i] = p.ID
		}
		slices.Sort(picked)
		// By primary key alone, which InnoDB locks in ascending order,
		// so two claims that picked the same rows queue in one order.
		// Naming the organizations too (org_id IN) let the optimizer
		// lock them in another order (a documented exception in
		// docs/scaling.md: on a shard the claim is that shard's worker's).
		query, args, err := sqlx.In(`
			UPDATE outbox SET leased_by = ?, lease_until = ?, lease_token = ?
			WHERE id IN (?) AND status = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)`,
			owner, until, token, picked, status, now, now)
		if err != nil {
			return n, err
		}
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return n, fmt.Errorf("lease %s outbox rows: %w", status, err)
		}
		leased, err := res.RowsAffected()
		if err != nil {
			return n, fmt.Errorf("lease %s outbox rows: %w", status, err)
		}
		n += int(leased)
		if int(leased) == len(picked) {
			return n, nil // none lost: no more are due, or limit is reached
		}
	}
	return n, nil
}

// readLeased reads the outbox rows that tx leased under token, with what
// their mail says, in id order.
func readLeased(ctx context.Context, tx *sqlx.Tx, token string) ([]member.OutboxMessage, error) {
	var rows []struct {
		ID              int64          `db:"id"`
		Kind            string         `db:"kind"`
		OrgID           int64          `db:"org_id"`
		MemberID        int64          `db:"member_id"`
		BindingID       int64          `db:"binding_id"`
		LinkID          sql.NullInt64  `db:"link_id"`
		SignInLinkID    sql.NullInt64  `db:"signin_link_id"`
		Recipient       string         `db:"recipient"`
		Token           sql.NullString `db:"token"`
		MessageID       string         `db:"message_id"`
		Attempts        int            `db:"attempts"`
		CreatedAt       time.Time      `db:"created_at"`
		SignInExpiresAt sql.NullTime   `db:"signin_expires_at"`
		OrgName         string         `db:"org_name"`
		OrgLang         string         `db:"org_lang"`
		MemberName      string         `db:"member_name"`
		TraceParent     sql.NullString `db:"traceparent"`
	}
	err := tx.SelectContext(ctx, &rows, `
		SELECT o.id, o.kind, o.org_id, o.member_id, o.binding_id, o.link_id, o.signin_link_id, o.recipient, o.token,
			o.message_id, o.attempts, o.created_at, o.traceparent, s.expires_at AS signin_expires_at,
			g.name AS org_name, g.lang AS org_lang, m.name AS member_name
		FROM outbox o JOIN organizations g ON g.id = o.org_id JOIN members m ON m.id = o.member_id AND m.org_id = o.org_id
			LEFT JOIN signin_links s ON s.id = o.signin_link_id AND s.org_id = o.org_id
		WHERE o.lease_token = ? ORDER BY o.id`, token)
	if err != nil {
		return nil, fmt.Errorf("read leased outbox rows: %w", err)
	}
	msgs := make([]member.OutboxMessage, 0, len(rows))
	for _, r := range rows {
		m := member.OutboxMessage{
			ID: r.ID, Kind: member.OutboxKind(r.Kind), OrgID: r.OrgID, MemberID: r.MemberID, BindingID: r.BindingID,
			LinkID: r.LinkID.Int64, Recipient: r.Recipient, Token: r.Token.String, MessageID: r.MessageID,
			Attempts: r.Attempts, CreatedAt: r.CreatedAt.UTC(), OrgName: r.OrgName, OrgLang: r.OrgLang, MemberName: r.MemberName,
			TraceParent: r.TraceParent.String,
		}
		if m.Kind == member.OutboxSignIn {
			m.LinkID, m.ExpiresAt = r.SignInLinkID.Int64, r.SignInExpiresAt.Time.UTC()
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// ErrLeaseLost is member.ErrLeaseLost: the worker no longer holds the row.
var ErrLeaseLost = member.ErrLeaseLost

// MarkOutboxRetry records a temporary delivery failure and when to try
// again. The first one of an activation mail is recorded as a member
// event.
func (s *Store) MarkOutboxRetry(ctx context.Context, orgID, id int64, owner string, lastError string, next time.Time) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		row, err := s.lockOutbox(ctx, tx, orgID, id, owner)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE outbox SET status = 'RETRYING', attempts = attempts + 1, last_error = ?, next_attempt_at = ?,
				leased_by = NULL, lease_until = NULL
			WHERE id = ? AND org_id = ?`, truncate(lastError, maxDetail), next.UTC(), id, orgID); err != nil {
			return fmt.Errorf("mark outbox row %d for retry: %w", id, err)
		}
		if row.Attempts > 0 || row.Kind == member.OutboxSignIn {
			return nil
		}
		return s.record(ctx, tx, &member.Member{ID: row.MemberID, OrgID: row.OrgID}, row.BindingID, member.EventDeliveryDelayed, member.ActorSystem, row.Recipient, lastError, s.Now())
	})
}

// MarkOutboxFailed records that a mail cannot be delivered: a permanent
// failure, or temporary ones past the retry budget. An activation link
// can then never be used, so the binding stops waiting for it; a sign-in
// mail's row is only marked (its token is erased, so its link is dead).
func (s *Store) MarkOutboxFailed(ctx context.Context, orgID, id int64, owner string, lastError string, at time.Time) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		row, err := s.lockOutbox(ctx, tx, orgID, id, owner)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE outbox SET status = 'FAILED', attempts = attempts + 1, last_error = ?, token = NULL,
				leased_by = NULL, lease_until = NULL
			WHERE id = ? AND org_id = ?`, truncate(lastError, maxDetail), id, orgID); err != nil {
			return fmt.Errorf("mark outbox row %d failed: %w", id, err)
		}
		if row.Kind == member.OutboxSignIn {
			return nil
		}
		res, err := tx.ExecContext(ctx, `UPDATE activation_links SET killed_at = ? WHERE id = ? AND org_id = ? AND killed_at IS NULL AND sent_at IS NULL`, at.UTC(), row.LinkID.Int64, orgID)
		if err != nil {
			return fmt.Errorf("retire link %d: %w", row.LinkID.Int64, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE bindings SET unsent_links = unsent_links - 1 WHERE id = ? AND org_id = ?`, row.BindingID, orgID); err != nil {
				return fmt.Errorf("uncount link of binding %d: %w", row.BindingID, err)
			}
		}
		return s.record(ctx, tx, &member.Member{ID: row.MemberID, OrgID: row.OrgID}, row.BindingID, member.EventDeliveryFailed, member.ActorSystem, row.Recipient, lastError, at.UTC())
	})
}

// ReleaseOutbox gives back rows owner holds, due at once, for a worker
// that stops before sending them: those of ids, or every one when no ids
// are given.
func (s *Store) ReleaseOutbox(ctx context.Context, owner string, ids ...int64) error {
	query, args := `UPDATE outbox SET leased_by = NULL, lease_until = NULL WHERE leased_by = ? AND status IN ('QUEUED', 'RETRYING')`, []any{owner}
	if len(ids) > 0 {
		var err error
		if query, args, err = sqlx.In(query+` AND id IN (?)`, owner, ids); err != nil {
			return err
		}
	}
	if _, err := s.db.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("release outbox rows of %s: %w", owner, err)
	}
	return nil
}

type outboxRow struct {
	ID        int64             `db:"id"`
	Kind      member.OutboxKind `db:"kind"`
	OrgID     int64             `db:"org_id"`
	MemberID  int64             `db:"member_id"`
	BindingID int64             `db:"binding_id"`
	LinkID    sql.NullInt64     `db:"link_id"` // NULL on a sign-in row
	Recipient string            `db:"recipient"`
	Attempts  int               `db:"attempts"`
	// LinkUnsent: the row's activation link is neither sent nor
	// superseded (never on a sign-in row).
	LinkUnsent bool `db:"link_unsent"`
}

// lockOutbox locks an outbox row of orgID held by owner, after its
// binding (see lockOutboxRows), or returns ErrLeaseLost.
func (s *Store) lockOutbox(ctx context.Context, tx *sqlx.Tx, orgID, id int64, owner string) (*outboxRow, error) {
	rows, err := s.lockOutboxRows(ctx, tx, []int64{orgID}, []int64{id}, owner)
	if err != nil {
		return nil, fmt.Errorf("outbox row %d: %w", id, err)
	}
	if len(rows) == 0 {
		return nil, ErrLeaseLost
	}
	return &rows[0], nil
}
