package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

// APIKeyPrefix starts every API key, so that secret scanners can recognize
// a leaked one.
const APIKeyPrefix = "mb_"

// CreateOrganization creates an organization with one API key, named
// FirstAPIKeyName, and returns the key. The key is shown only here: the store keeps its hash.
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
		if err := createCounts(ctx, tx, org.ID); err != nil {
			return err
		}
		key, err = s.insertAPIKey(ctx, tx, org.ID, FirstAPIKeyName)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return org, key, nil
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

// OrganizationsNamed returns the organizations called name, oldest first:
// names are not unique.
func (s *Store) OrganizationsNamed(ctx context.Context, name string) ([]*member.Organization, error) {
	var rows []orgRow
	err := s.db.SelectContext(ctx, &rows, `SELECT id, name, lang, created_at FROM organizations WHERE name = ? ORDER BY id`, strings.TrimSpace(name))
	if err != nil {
		return nil, fmt.Errorf("organizations named %q: %w", name, err)
	}
	orgs := make([]*member.Organization, len(rows))
	for i, r := range rows {
		orgs[i] = r.organization()
	}
	return orgs, nil
}
