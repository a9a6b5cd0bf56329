package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

// APIKeyPrefix starts every API key, so that secret scanners can recognize
// a leaked one.
const APIKeyPrefix = "mb_"

// CreateOrganization creates an organization with one API key and returns
// the key. The key is shown only here: the store keeps its hash.
func (s *Store) CreateOrganization(ctx context.Context, name, lang string) (*member.Organization, string, error) {
	name = strings.TrimSpace(name)
	if err := member.CheckName("organization name", name); err != nil {
		return nil, "", err
	}
	if lang == "" {
		lang = "en"
	}
	if !member.SupportedLang(lang) {
		return nil, "", fmt.Errorf("language %q is not supported: use one of %s", lang, strings.Join(member.Langs, ", "))
	}
	org := &member.Organization{Name: name, Lang: lang, CreatedAt: s.Now()}
	var key string
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO organizations (name, lang, created_at) VALUES (?, ?, ?)`, org.Name, org.Lang, org.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert organization: %w", err)
		}
		if org.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		key, err = s.insertAPIKey(ctx, tx, org.ID)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return org, key, nil
}

// CreateAPIKey adds a new API key to an organization and returns it.
func (s *Store) CreateAPIKey(ctx context.Context, orgID int64) (string, error) {
	var key string
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		key, err = s.insertAPIKey(ctx, tx, orgID)
		return err
	})
	return key, err
}

func (s *Store) insertAPIKey(ctx context.Context, tx *sqlx.Tx, orgID int64) (string, error) {
	secret, err := s.secret()
	if err != nil {
		return "", err
	}
	key := APIKeyPrefix + secret
	_, err = tx.ExecContext(ctx, `INSERT INTO api_keys (org_id, key_hash, prefix, created_at) VALUES (?, ?, ?, ?)`,
		orgID, Hash(key), key[:len(APIKeyPrefix)+6], s.Now())
	if err != nil {
		return "", fmt.Errorf("insert API key: %w", err)
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
// member.ErrUnauthenticated.
func (s *Store) Authenticate(ctx context.Context, key string) (*member.Caller, error) {
	if !validAPIKey(key) {
		return nil, member.ErrUnauthenticated
	}
	var row struct {
		orgRow
		KeyID  int64  `db:"key_id"`
		Prefix string `db:"prefix"`
	}
	err := s.db.GetContext(ctx, &row, `
		SELECT o.id, o.name, o.lang, o.created_at, k.id AS key_id, k.prefix
		FROM api_keys k JOIN organizations o ON o.id = k.org_id
		WHERE k.key_hash = ? AND k.revoked_at IS NULL`, Hash(key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, member.ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("look up API key: %w", err)
	}
	return &member.Caller{Org: row.organization(), APIKeyID: row.KeyID, Actor: member.Actor("api key " + row.Prefix + "…")}, nil
}

// Organization returns an organization by id.
func (s *Store) Organization(ctx context.Context, orgID int64) (*member.Organization, error) {
	var row orgRow
	err := s.db.GetContext(ctx, &row, `SELECT id, name, lang, created_at FROM organizations WHERE id = ?`, orgID)
	if err != nil {
		return nil, fmt.Errorf("organization %d: %w", orgID, err)
	}
	return row.organization(), nil
}

type orgRow struct {
	ID        int64        `db:"id"`
	Name      string       `db:"name"`
	Lang      string       `db:"lang"`
	CreatedAt sql.NullTime `db:"created_at"`
}

func (r orgRow) organization() *member.Organization {
	return &member.Organization{ID: r.ID, Name: r.Name, Lang: r.Lang, CreatedAt: r.CreatedAt.Time}
}
