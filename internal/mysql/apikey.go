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

var _ member.APIKeys = (*Store)(nil)

// FirstAPIKeyName is the name of the key an organization is created with.
const FirstAPIKeyName = "default"

// apiKeyPrefixLen is how much of a key its prefix shows: mb_ and six
// characters, 36 bits of the secret's 256.
const apiKeyPrefixLen = len(APIKeyPrefix) + 6

type apiKeyRow struct {
	ID         int64        `db:"id"`
	OrgID      int64        `db:"org_id"`
	Name       string       `db:"name"`
	Prefix     string       `db:"prefix"`
	CreatedAt  time.Time    `db:"created_at"`
	LastUsedAt sql.NullTime `db:"last_used_at"`
	RevokedAt  sql.NullTime `db:"revoked_at"`
}

const apiKeyColumns = `id, org_id, name, prefix, created_at, last_used_at, revoked_at`

func (r apiKeyRow) apiKey() *member.APIKey {
	k := &member.APIKey{ID: r.ID, OrgID: r.OrgID, Name: r.Name, Prefix: r.Prefix, CreatedAt: r.CreatedAt}
	if r.LastUsedAt.Valid {
		t := r.LastUsedAt.Time
		k.LastUsedAt = &t
	}
	if r.RevokedAt.Valid {
		t := r.RevokedAt.Time
		k.RevokedAt = &t
	}
	return k
}

// APIKeys implements member.APIKeys.
func (s *Store) APIKeys(ctx context.Context, orgID int64) ([]*member.APIKey, error) {
	var rows []apiKeyRow
	err := s.db.SelectContext(ctx, &rows, `SELECT `+apiKeyColumns+` FROM api_keys WHERE org_id = ? ORDER BY id DESC`, orgID)
	if err != nil {
		return nil, fmt.Errorf("API keys of organization %d: %w", orgID, err)
	}
	keys := make([]*member.APIKey, len(rows))
	for i, r := range rows {
		keys[i] = r.apiKey()
	}
	return keys, nil
}

// CreateAPIKey implements member.APIKeys.
func (s *Store) CreateAPIKey(ctx context.Context, orgID int64, name string) (*member.APIKey, string, error) {
	name, derr := member.CheckAPIKeyName(name)
	if derr != nil {
		return nil, "", derr
	}
	var (
		key    *member.APIKey
		secret string
	)
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM organizations WHERE id = ?`, orgID); err != nil {
			return fmt.Errorf("read organization: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("organization %d does not exist", orgID)
		}
		var err error
		if secret, err = s.insertAPIKey(ctx, tx, orgID, name); err != nil {
			return err
		}
		key, err = s.apiKeyByHash(ctx, tx, orgID, Hash(secret))
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return key, secret, nil
}

func (s *Store) insertAPIKey(ctx context.Context, tx *sqlx.Tx, orgID int64, name string) (string, error) {
	secret, err := s.secret()
	if err != nil {
		return "", err
	}
	key := APIKeyPrefix + secret
	_, err = tx.ExecContext(ctx, `INSERT INTO api_keys (org_id, name, key_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)`,
		orgID, name, Hash(key), key[:apiKeyPrefixLen], s.Now())
	if err != nil {
		return "", fmt.Errorf("insert API key: %w", err)
	}
	return key, nil
}

func (s *Store) apiKeyByHash(ctx context.Context, q sqlx.QueryerContext, orgID int64, hash []byte) (*member.APIKey, error) {
	var row apiKeyRow
	if err := sqlx.GetContext(ctx, q, &row, `SELECT `+apiKeyColumns+` FROM api_keys WHERE key_hash = ? AND org_id = ?`, hash, orgID); err != nil {
		return nil, fmt.Errorf("read API key: %w", err)
	}
	return row.apiKey(), nil
}

// RevokeAPIKey implements member.APIKeys. It locks every key row of the
// organization before it counts the unrevoked ones, so that the count is
// of rows no concurrent revoke can change until this one commits.
func (s *Store) RevokeAPIKey(ctx context.Context, orgID, keyID int64, allowLast bool) (*member.APIKey, error) {
	var key *member.APIKey
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var rows []apiKeyRow
		if err := tx.SelectContext(ctx, &rows, `SELECT `+apiKeyColumns+` FROM api_keys WHERE org_id = ? FOR UPDATE`, orgID); err != nil {
			return fmt.Errorf("lock API keys of organization %d: %w", orgID, err)
		}
		var target *apiKeyRow
		live := 0
		for i := range rows {
			if rows[i].ID == keyID {
				target = &rows[i]
			}
			if !rows[i].RevokedAt.Valid {
				live++
			}
		}
		switch {
		case target == nil:
			return member.FieldErrorf(member.CodeAPIKeyNotFound, "id", "this organization has no API key with this id")
		case target.RevokedAt.Valid:
			key = target.apiKey() // revoked already: nothing to do
			return nil
		case live == 1 && !allowLast:
			return member.FieldErrorf(member.CodeLastAPIKey, "id",
				"%q is the organization's last API key: revoking it would lock the organization out of the API; create another key first", target.Name)
		}
		now := s.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND org_id = ?`, now, keyID, orgID); err != nil {
			return fmt.Errorf("revoke API key %d: %w", keyID, err)
		}
		target.RevokedAt = sql.NullTime{Time: now, Valid: true}
		key = target.apiKey()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return key, nil
}

// validAPIKey reports whether key has the shape of an API key; anything else
// is refused without asking the database.
func validAPIKey(key string) bool {
	if !strings.HasPrefix(key, APIKeyPrefix) || len(key) < len(APIKeyPrefix)+43 || len(key) > 200 {
		return false
	}
	for _, c := range key[len(APIKeyPrefix):] {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// Authenticate returns who an API key speaks for: its organization, the
// key's id and the actor under which its changes are recorded; or
// member.ErrUnauthenticated. It reads the key on every request, and keeps
// nothing: a key revoked on any instance opens nothing from its next
// request on.
//
// It records the key's use when the time it read is older than
// member.APIKeyUseResolution, with a conditional UPDATE that only one of
// concurrent requests (on any instance) makes: a key costs at most one
// write a minute however busy it is.
func (s *Store) Authenticate(ctx context.Context, key string) (*member.Caller, error) {
	if !validAPIKey(key) {
		return nil, member.ErrUnauthenticated
	}
	var row struct {
		orgRow
		KeyID    int64        `db:"key_id"`
		Prefix   string       `db:"prefix"`
		LastUsed sql.NullTime `db:"last_used_at"`
	}
	err := s.db.GetContext(ctx, &row, `
		SELECT o.id, o.name, o.lang, o.created_at, k.id AS key_id, k.prefix, k.last_used_at
		FROM api_keys k JOIN organizations o ON o.id = k.org_id
		WHERE k.key_hash = ? AND k.revoked_at IS NULL`, Hash(key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, member.ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("look up API key: %w", err)
	}
	now := s.Now()
	if stale := now.Add(-member.APIKeyUseResolution); !row.LastUsed.Valid || row.LastUsed.Time.Before(stale) {
		// Best effort: lastUsedAt is a hint for rotating keys, not worth
		// failing the request for. A write that failed is made by the
		// key's next request, which reads the same stale time.
		_, _ = s.db.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ? AND org_id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
			now, row.KeyID, row.ID, stale)
	}
	return &member.Caller{Org: row.organization(), APIKeyID: row.KeyID, Actor: member.Actor("api key " + row.Prefix + "…")}, nil
}

// APIKey returns an API key by id, whichever its organization: for the
// command line, which acts for the operator, not for an organization.
func (s *Store) APIKey(ctx context.Context, id int64) (*member.APIKey, error) {
	var row apiKeyRow
	err := s.db.GetContext(ctx, &row, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, member.FieldErrorf(member.CodeAPIKeyNotFound, "id", "there is no API key with id %d", id)
	}
	if err != nil {
		return nil, fmt.Errorf("API key %d: %w", id, err)
	}
	return row.apiKey(), nil
}
