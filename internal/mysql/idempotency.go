package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"memberbind/internal/member"
)

var _ member.Idempotency = (*Store)(nil)

// pruneIdempotencyKeys is how many expired keys of its organization each
// new key deletes: more than one, so that expired rows never pile up
// faster than they go, and few, so that the delete stays cheap.
const pruneIdempotencyKeys = 10

type idempotencyRow struct {
	RequestHash []byte    `db:"request_hash"`
	Status      int       `db:"status"`
	ContentType string    `db:"content_type"`
	Body        []byte    `db:"body"`
	ExpiresAt   time.Time `db:"expires_at"`
	LeaseUntil  time.Time `db:"lease_until"`
}

// ClaimIdempotent implements member.Idempotency. The claim is the INSERT
// of the key's row: of concurrent requests with one key, the unique
// primary key lets exactly one insert it. Taking over an expired key, or
// one whose holder died, is a conditional UPDATE that only one request can
// make.
func (s *Store) ClaimIdempotent(ctx context.Context, r member.IdempotentRequest) (*member.IdempotentResponse, error) {
	keyHash := Hash(r.Key)
	for range 5 {
		now := s.Now()
		_, err := s.db.ExecContext(ctx, `
			INSERT INTO idempotency_keys (org_id, api_key_id, key_hash, request_hash, created_at, expires_at, lease_until)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			r.OrgID, r.APIKeyID, keyHash, r.Fingerprint, now, now.Add(member.IdempotencyTTL), now.Add(member.IdempotencyLease))
		if err == nil {
			s.pruneIdempotencyKeys(ctx, r.OrgID, now)
			return nil, nil
		}
		if mysqlErrorNumber(err) != errDuplicateKey {
			return nil, fmt.Errorf("claim idempotency key: %w", err)
		}

		var row idempotencyRow
		err = s.db.GetContext(ctx, &row, `
			SELECT request_hash, status, content_type, body, expires_at, lease_until
			FROM idempotency_keys WHERE org_id = ? AND api_key_id = ? AND key_hash = ?`,
			r.OrgID, r.APIKeyID, keyHash)
		if errors.Is(err, sql.ErrNoRows) {
			continue // released or pruned since the insert: claim it again
		}
		if err != nil {
			return nil, fmt.Errorf("read idempotency key: %w", err)
		}
		switch {
		case !row.ExpiresAt.After(now):
			// Expired: the key starts afresh for this request.
			res, err := s.db.ExecContext(ctx, `
				UPDATE idempotency_keys
				SET request_hash = ?, status = 0, content_type = '', body = NULL, created_at = ?, expires_at = ?, lease_until = ?
				WHERE org_id = ? AND api_key_id = ? AND key_hash = ? AND expires_at = ?`,
				r.Fingerprint, now, now.Add(member.IdempotencyTTL), now.Add(member.IdempotencyLease),
				r.OrgID, r.APIKeyID, keyHash, row.ExpiresAt)
			if claimed, err := oneRow(res, err); err != nil || claimed {
				return nil, err
			}
		case !bytes.Equal(row.RequestHash, r.Fingerprint):
			return nil, member.ErrIdempotencyKeyReused
		case row.Status != 0:
			return &member.IdempotentResponse{Status: row.Status, ContentType: row.ContentType, Body: row.Body}, nil
		case row.LeaseUntil.After(now):
			return nil, member.ErrIdempotencyInProgress
		default:
			// The request that held the key did not finish within its
			// lease: its instance died. This retry takes it over.
			res, err := s.db.ExecContext(ctx, `
				UPDATE idempotency_keys SET lease_until = ?
				WHERE org_id = ? AND api_key_id = ? AND key_hash = ? AND status = 0 AND lease_until = ?`,
				now.Add(member.IdempotencyLease), r.OrgID, r.APIKeyID, keyHash, row.LeaseUntil)
			if claimed, err := oneRow(res, err); err != nil || claimed {
				return nil, err
			}
		}
		// Another request changed the row between our read and our
		// update: look again.
	}
	return nil, member.ErrIdempotencyInProgress
}

// oneRow reports whether a conditional UPDATE changed its row.
func oneRow(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("take over idempotency key: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FinishIdempotent implements member.Idempotency.
func (s *Store) FinishIdempotent(ctx context.Context, r member.IdempotentRequest, resp member.IdempotentResponse) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE idempotency_keys SET status = ?, content_type = ?, body = ?
		WHERE org_id = ? AND api_key_id = ? AND key_hash = ? AND request_hash = ? AND status = 0`,
		resp.Status, resp.ContentType, resp.Body, r.OrgID, r.APIKeyID, Hash(r.Key), r.Fingerprint)
	if err != nil {
		return fmt.Errorf("keep idempotent answer: %w", err)
	}
	return nil
}

// ReleaseIdempotent implements member.Idempotency.
func (s *Store) ReleaseIdempotent(ctx context.Context, r member.IdempotentRequest) error {
	_, err := s.db.ExecContext(ctx, `
		DELETE FROM idempotency_keys
		WHERE org_id = ? AND api_key_id = ? AND key_hash = ? AND request_hash = ? AND status = 0`,
		r.OrgID, r.APIKeyID, Hash(r.Key), r.Fingerprint)
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// pruneIdempotencyKeys deletes a few of the organization's expired keys.
// Each new key pays for the expiry of some old ones, so the table holds
// about the keys of the last 24 hours without a job of its own. A failure
// is no reason to fail the request, and the next key tries again.
func (s *Store) pruneIdempotencyKeys(ctx context.Context, orgID int64, now time.Time) {
	_, _ = s.db.ExecContext(ctx, `
		DELETE FROM idempotency_keys WHERE org_id = ? AND expires_at <= ?
		ORDER BY expires_at LIMIT ?`, orgID, now, pruneIdempotencyKeys)
}
