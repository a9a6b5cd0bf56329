package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

// ClaimWebhooks leases up to limit due webhook deliveries to owner until
// now+lease and returns them with their endpoint's URL and secret, as
// ClaimOutbox does with mail (a conditional UPDATE, read back by a token;
// DESIGN.md §11). A delivery is due when it is QUEUED or RETRYING, its
// next attempt has come, nobody holds an unexpired lease on it, its
// endpoint is enabled, and no earlier delivery of the same member to the
// same endpoint is still QUEUED or RETRYING: a member's events reach an
// endpoint in the order they happened, a later one waiting while an
// earlier one is retried. (A delivery never returns to QUEUED or
// RETRYING, so what the pick saw done stays done when the UPDATE leases.)
func (s *Store) ClaimWebhooks(ctx context.Context, owner string, limit int, lease time.Duration) ([]member.WebhookMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	now := s.Now()
	var claimed []member.WebhookMessage
	err := s.inTxAt(ctx, sql.LevelReadCommitted, func(tx *sqlx.Tx) error {
		claimed = nil
		token, err := s.randomHex(16)
		if err != nil {
			return fmt.Errorf("claim token: %w", err)
		}
		n := 0
		for _, status := range []string{"QUEUED", "RETRYING"} {
			for round := 0; round < claimRounds && n < limit; round++ {
				var picks []struct {
					ID    int64 `db:"id"`
					OrgID int64 `db:"org_id"`
				}
				err := tx.SelectContext(ctx, &picks, `
					SELECT d.id, d.org_id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.org_id = d.org_id
					WHERE d.status = ? AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?)
						AND e.disabled_at IS NULL
						AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
							WHERE p.org_id = d.org_id AND p.endpoint_id = d.endpoint_id AND p.member_id = d.member_id
								AND p.id < d.id AND p.status IN ('QUEUED', 'RETRYING'))
					ORDER BY d.next_attempt_at, d.id LIMIT ?`, status, now, now, limit-n)
				if err != nil {
					return fmt.Errorf("pick %s webhook deliveries: %w", status, err)
				}
				if len(picks) == 0 {
					break
				}
				// The organizations are named too (docs/scaling.md). The
				// outbox claim (leaseDue) no longer does, because there an
				// org_id IN let the optimizer lock rows out of primary-key
				// order; webhook_deliveries has no index that starts with
				// org_id, so these rows are still found, and locked, by
				// primary key.
				picked, orgs := make([]int64, len(picks)), make([]int64, 0, len(picks))
				for i, p := range picks {
					picked[i] = p.ID
					if !slices.Contains(orgs, p.OrgID) {
						orgs = append(orgs, p.OrgID)
					}
				}
				slices.Sort(picked)
				query, args, err := sqlx.In(`
					UPDATE webhook_deliveries SET leased_by = ?, lease_until = ?, lease_token = ?
					WHERE id IN (?) AND org_id IN (?) AND status = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)`,
					owner, now.Add(lease), token, picked, orgs, status, now, now)
				if err != nil {
					return err
				}
				res, err := tx.ExecContext(ctx, query, args...)
				if err != nil {
					return fmt.Errorf("lease %s webhook deliveries: %w", status, err)
				}
				leased, err := res.RowsAffected()
				if err != nil {
					return err
				}
				n += int(leased)
				if int(leased) == len(picked) {
					break
				}
			}
		}
		if n == 0 {
			return nil
		}
		var rows []struct {
			deliveryRow
			URL    string `db:"url"`
			Sealed []byte `db:"secret_sealed"`
		}
		err = tx.SelectContext(ctx, &rows, `
			SELECT `+deliveryColumns+`, e.url, e.secret_sealed
			FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.org_id = d.org_id
			WHERE d.lease_token = ? ORDER BY d.id`, token)
		if err != nil {
			return fmt.Errorf("read leased webhook deliveries: %w", err)
		}
		for _, r := range rows {
			secret, err := s.openWebhookSecret(r.OrgID, r.Sealed)
			if err != nil {
				return fmt.Errorf("webhook endpoint %d: %w", r.EndpointID, err)
			}
			claimed = append(claimed, member.WebhookMessage{WebhookDelivery: r.delivery(), URL: r.URL, Secret: secret})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	return claimed, nil
}

// lockDelivery locks a delivery owner holds, or returns ErrLeaseLost.
func (s *Store) lockDelivery(ctx context.Context, tx *sqlx.Tx, orgID, id int64, owner string) (endpointID int64, err error) {
	err = tx.GetContext(ctx, &endpointID, `
		SELECT endpoint_id FROM webhook_deliveries
		WHERE org_id = ? AND id = ? AND leased_by = ? AND status IN ('QUEUED', 'RETRYING') FOR UPDATE`, orgID, id, owner)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("webhook delivery %d: %w", id, ErrLeaseLost)
	}
	if err != nil {
		return 0, fmt.Errorf("lock webhook delivery %d: %w", id, err)
	}
	return endpointID, nil
}

// MarkWebhook records an attempt on a delivery of the organization's that owner holds: delivered when
// a.Error is empty; otherwise RETRYING until next, or FAILED when next is
// zero. A failure starts (or continues) its endpoint's failing streak and
// a success ends it; an endpoint whose streak has lasted
// member.WebhookDisableAfter is disabled, and its deliveries that wait
// fail with it.
func (s *Store) MarkWebhook(ctx context.Context, orgID, id int64, owner string, a member.WebhookAttempt, next time.Time) error {
	at := a.At.UTC()
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		endpointID, err := s.lockDelivery(ctx, tx, orgID, id, owner)
		if err != nil {
			return err
		}
		code := sql.NullInt64{Int64: int64(a.ResponseCode), Valid: a.ResponseCode != 0}
		excerpt := nullString(truncate(a.Excerpt, maxExcerpt))
		switch {
		case a.Error == "":
			_, err = tx.ExecContext(ctx, `
				UPDATE webhook_deliveries SET status = 'DELIVERED', attempts = attempts + 1, delivered_at = ?, response_code = ?,
					response_excerpt = ?, leased_by = NULL, lease_until = NULL
				WHERE org_id = ? AND id = ?`, at, code, excerpt, orgID, id)
		case next.IsZero():
			_, err = tx.ExecContext(ctx, `
				UPDATE webhook_deliveries SET status = 'FAILED', attempts = attempts + 1, last_error = ?, response_code = ?,
					response_excerpt = ?, leased_by = NULL, lease_until = NULL
				WHERE org_id = ? AND id = ?`, truncate(a.Error, maxDetail), code, excerpt, orgID, id)
		default:
			_, err = tx.ExecContext(ctx, `
				UPDATE webhook_deliveries SET status = 'RETRYING', attempts = attempts + 1, last_error = ?, response_code = ?,
					response_excerpt = ?, next_attempt_at = ?, leased_by = NULL, lease_until = NULL
				WHERE org_id = ? AND id = ?`, truncate(a.Error, maxDetail), code, excerpt, next.UTC(), orgID, id)
		}
		if err != nil {
			return fmt.Errorf("mark webhook delivery %d: %w", id, err)
		}
		if a.Error == "" {
			_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE org_id = ? AND id = ?`, orgID, endpointID)
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?) WHERE org_id = ? AND id = ?`, at, orgID, endpointID); err != nil {
			return fmt.Errorf("mark webhook endpoint %d failing: %w", endpointID, err)
		}
		var ep struct {
			Since    time.Time    `db:"failing_since"`
			Disabled sql.NullTime `db:"disabled_at"`
		}
		if err := tx.GetContext(ctx, &ep, `SELECT failing_since, disabled_at FROM webhook_endpoints WHERE org_id = ? AND id = ?`, orgID, endpointID); err != nil {
			return fmt.Errorf("read webhook endpoint %d: %w", endpointID, err)
		}
		if at.Sub(ep.Since) < member.WebhookDisableAfter && !ep.Disabled.Valid {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE webhook_endpoints SET disabled_at = ? WHERE org_id = ? AND id = ? AND disabled_at IS NULL`, at, orgID, endpointID); err != nil {
			return fmt.Errorf("disable webhook endpoint %d: %w", endpointID, err)
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE webhook_deliveries SET status = 'FAILED', last_error = ?, leased_by = NULL, lease_until = NULL
			WHERE org_id = ? AND endpoint_id = ? AND status IN ('QUEUED', 'RETRYING') AND (leased_by IS NULL OR id = ?)`,
			"the endpoint was disabled after failing for 24 hours", orgID, endpointID, id)
		return err
	})
}

// maxExcerpt is how much of a response body a delivery keeps.
const maxExcerpt = 4096

// ReleaseWebhooks gives back deliveries owner holds, due at once: those
// of ids, or every one when no ids are given.
func (s *Store) ReleaseWebhooks(ctx context.Context, owner string, ids ...int64) error {
	query, args := `UPDATE webhook_deliveries SET leased_by = NULL, lease_until = NULL WHERE leased_by = ? AND status IN ('QUEUED', 'RETRYING')`, []any{owner}
	if len(ids) > 0 {
		var err error
		if query, args, err = sqlx.In(query+` AND id IN (?)`, owner, ids); err != nil {
			return err
		}
	}
	if _, err := s.db.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("release webhook deliveries of %s: %w", owner, err)
	}
	return nil
}

// bindingFailureWindow is how far back SweepBindingFailures looks for
// failed bindings: the longest outage of every instance after which
// binding.failed events are still sent.
const bindingFailureWindow = 7 * 24 * time.Hour

// SweepBindingFailures emits the binding.failed event of up to limit
// bindings that have failed (R7: PENDING, no link unsent, the newest link
// expired) and have none yet, to the endpoints of their organization that
// subscribe to it and existed at the expiry instant, and returns how many
// it emitted. A binding fails by the clock alone, so no transaction
// causes the event; each is emitted in a transaction that inserts the
// binding's row of webhook_binding_failures, whose primary key lets one
// instance only do so, whichever sweeps first.
func (s *Store) SweepBindingFailures(ctx context.Context, limit int) (int, error) {
	now := s.Now()
	var due []struct {
		ID        int64     `db:"id"`
		OrgID     int64     `db:"org_id"`
		MemberID  int64     `db:"member_id"`
		Email     string    `db:"email"`
		ExpiresAt time.Time `db:"link_expires_at"`
	}
	err := s.db.SelectContext(ctx, &due, `
		SELECT DISTINCT b.id, b.org_id, b.member_id, b.email, b.link_expires_at
		FROM bindings b
			JOIN webhook_endpoints e ON e.org_id = b.org_id AND e.disabled_at IS NULL
				AND FIND_IN_SET('BINDING_FAILED', e.events) > 0 AND e.created_at <= b.link_expires_at
			LEFT JOIN webhook_binding_failures f ON f.org_id = b.org_id AND f.binding_id = b.id
		WHERE b.state IN ('PENDING', 'FAILED') AND b.unsent_links = 0
			AND b.link_expires_at <= ? AND b.link_expires_at > ? AND f.binding_id IS NULL
		ORDER BY b.link_expires_at LIMIT ?`, now, now.Add(-bindingFailureWindow), limit)
	if err != nil {
		return 0, fmt.Errorf("find failed bindings: %w", err)
	}
	emitted := 0
	for _, b := range due {
		err := s.inTx(ctx, func(tx *sqlx.Tx) error {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO webhook_binding_failures (binding_id, org_id, emitted_at) VALUES (?, ?, ?)`, b.ID, b.OrgID, now); err != nil {
				return err
			}
			_, err := s.enqueueWebhook(ctx, tx, b.OrgID, b.MemberID, member.WebhookBindingFailed, b.ExpiresAt.UTC(),
				map[string]any{"email": b.Email, "failedAt": b.ExpiresAt.UTC()})
			return err
		})
		if mysqlErrorNumber(err) == errDuplicateKey {
			continue // another instance emitted it
		}
		if err != nil {
			return emitted, fmt.Errorf("emit binding.failed of binding %d: %w", b.ID, err)
		}
		emitted++
	}
	return emitted, nil
}
