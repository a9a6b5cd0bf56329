package mysql

import (
	"context"
	"database/sql"
	"time"
)

// MigrationLock exposes migrationLock to the tests, with a wait of their
// choosing.
type MigrationLock interface {
	Lock(ctx context.Context, db *sql.DB) error
	Unlock(ctx context.Context, db *sql.DB) error
}

// NewMigrationLock is newMigrationLock waiting at most wait for the lease.
func NewMigrationLock(wait time.Duration) MigrationLock {
	l := newMigrationLock()
	l.wait = wait
	return l
}
