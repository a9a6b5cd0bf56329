package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"

	"memberbind/migrations"
)

// Migrate applies every migration not applied yet. Several instances may
// start at once: a lease on a row (migrationLock) lets one migrate while
// the others wait, then find nothing left to do. Applying them reads
// nothing from information_schema, which a proxy such as Vitess's vtgate
// answers for another schema (CheckCharset does read it, and there finds
// no table to fault).
func Migrate(ctx context.Context, db *sqlx.DB, log *slog.Logger) error {
	p, err := provider(db, !serialOnly(ctx, db))
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		log.InfoContext(ctx, "migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return CheckCharset(ctx, db)
}

// gooseTables are goose's own bookkeeping tables, which hold no text of
// memberbind's and are made by goose with the database's default at the
// time: the version table, and the lock table of goose's locker, which
// databases migrated before migrationLock keep.
var gooseTables = []string{goose.DefaultTablename, lock.DefaultLockTableName}

// CheckCharset reports an error naming the first table of the database
// that is not utf8mb4, or has a text column that is not: such a table
// fails on text outside its character set ("张伟" in latin1) with an
// internal error on the first member who has it. Migration 0004 converts
// the tables of the earlier ones; this catches a table made by hand or by
// a later migration on a server whose default is not utf8mb4.
func CheckCharset(ctx context.Context, db *sqlx.DB) error {
	var bad []struct {
		Table  string         `db:"TABLE_NAME"`
		Column sql.NullString `db:"COLUMN_NAME"`
		Is     sql.NullString `db:"CHARSET"`
	}
	q, args, err := sqlx.In(`
		SELECT t.TABLE_NAME, NULL AS COLUMN_NAME, t.TABLE_COLLATION AS CHARSET
		FROM information_schema.TABLES t
		WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' AND t.TABLE_NAME NOT IN (?)
		  AND (t.TABLE_COLLATION IS NULL OR t.TABLE_COLLATION NOT LIKE 'utf8mb4\_%')
		UNION ALL
		SELECT c.TABLE_NAME, c.COLUMN_NAME, c.CHARACTER_SET_NAME AS CHARSET
		FROM information_schema.COLUMNS c
		WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME NOT IN (?)
		  AND c.CHARACTER_SET_NAME IS NOT NULL AND c.CHARACTER_SET_NAME <> 'utf8mb4'
		ORDER BY 1, 2`, gooseTables, gooseTables)
	if err != nil {
		return fmt.Errorf("check character sets: %w", err)
	}
	if err := db.SelectContext(ctx, &bad, q, args...); err != nil {
		return fmt.Errorf("check character sets: %w", err)
	}
	if len(bad) == 0 {
		return nil
	}
	b := bad[0]
	what := "table " + b.Table
	if b.Column.Valid {
		what += " column " + b.Column.String
	}
	return fmt.Errorf("database schema: %s is %s, not utf8mb4: it cannot hold every name and address; convert it with ALTER TABLE %s CONVERT TO CHARACTER SET utf8mb4",
		what, b.Is.String, b.Table)
}

// CheckSchema reports an error unless every migration is applied.
func CheckSchema(ctx context.Context, db *sqlx.DB) error {
	p, err := provider(db, false)
	if err != nil {
		return err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if pending {
		return fmt.Errorf("schema has migrations not applied yet")
	}
	return nil
}

func provider(db *sqlx.DB, locked bool) (*goose.Provider, error) {
	store, err := database.NewStore(database.DialectMySQL, goose.DefaultTablename)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithStore(versionStore{store})}
	// The lock keeps instances that start together from migrating at
	// once. An engine on one connection (the embedded one, which only
	// its own process uses) cannot take it: goose would wait for a
	// second connection while holding the first.
	if locked {
		opts = append(opts, goose.WithLocker(newMigrationLock()))
	}
	p, err := goose.NewProvider(goose.DialectCustom, db.DB, migrations.FS, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}
