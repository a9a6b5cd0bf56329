package mysql

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"memberbind/migrations"
)

// Migrate applies every migration not applied yet. Several instances may
// start at once: goose's table lock lets one migrate while the others wait,
// then find nothing left to do.
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
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return nil
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
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	// The lock keeps instances that start together from migrating at
	// once. An engine on one connection (the embedded one, which only
	// its own process uses) cannot take it: goose would wait for a
	// second connection while holding the first.
	if locked {
		locker, err := lock.NewMySQLTableLocker(
			lock.WithTableLockTimeout(250*time.Millisecond, 2400), // up to 10 minutes
			lock.WithTableLeaseDuration(30*time.Second),
		)
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithLocker(locker))
	}
	p, err := goose.NewProvider(goose.DialectMySQL, db.DB, migrations.FS, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}
