package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/pressly/goose/v3/database"
)

// versionStore is goose's MySQL store of applied versions, with a
// TableExists that reads the version table itself. goose's own asks
// information_schema, which a proxy such as Vitess's vtgate answers for
// another schema (the keyspace, not the database the server holds): the
// answer was no on every start after the first, and creating the table
// again failed with 1050. (Without a TableExists goose looks for the
// version 0 row instead, which a start that died, or lost a Galera
// certification, between creating the table and writing the row leaves
// out for good.)
type versionStore struct{ database.Store }

// errNoSuchTable is MySQL's error number for a table that does not exist.
const errNoSuchTable = 1146

// TableExists reports whether the version table exists, by reading it.
func (s versionStore) TableExists(ctx context.Context, db database.DBTxConn) (bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT 1 FROM `+s.Tablename()+` LIMIT 1`)
	if mysqlErrorNumber(err) == errNoSuchTable {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read version table: %w", err)
	}
	return true, rows.Close()
}

// migrationLockTable holds migrationLock's one row.
const migrationLockTable = "memberbind_migration_lock"

// migrationLock lets one of several instances that start together migrate
// while the others wait: a lease on one row, taken by a conditional UPDATE
// and renewed while held, so that an instance that dies holding it holds
// it no longer than a lease. goose's MySQL table locker does the same, but
// it too asks information_schema whether its table exists, and creates it
// without IF NOT EXISTS; this one asks nothing.
type migrationLock struct {
	owner string
	lease time.Duration // how long a holder that stopped renewing keeps it
	poll  time.Duration // how often a waiter tries again
	wait  time.Duration // how long a waiter waits before giving up

	mu   sync.Mutex
	stop chan struct{} // closed by Unlock: the renewal ends
	done chan struct{} // closed when the renewal has ended
}

func newMigrationLock() *migrationLock {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	if len(host) > 40 {
		host = host[:40]
	}
	return &migrationLock{owner: host + "-" + hex.EncodeToString(b), lease: 30 * time.Second, poll: 250 * time.Millisecond, wait: 10 * time.Minute}
}

// Lock takes the lease, waiting for another holder's to end.
func (l *migrationLock) Lock(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+migrationLockTable+` (
		id INT NOT NULL,
		holder VARCHAR(64) NULL,
		lease_until DATETIME(6) NULL,
		PRIMARY KEY (id)
	) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`)
	if err != nil {
		return fmt.Errorf("create migration lock table: %w", err)
	}
	deadline := time.Now().Add(l.wait)
	for {
		taken, err := l.take(ctx, db)
		// On Galera, two nodes taking the lease at once is a certification
		// failure for one of them: it waits, as for any holder.
		if err != nil && !retryable(err) {
			return fmt.Errorf("take migration lock: %w", err)
		}
		if taken {
			l.renew(db)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("migration lock: another instance has held it for over %s", l.wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(l.poll):
		}
	}
}

func (l *migrationLock) take(ctx context.Context, db *sql.DB) (bool, error) {
	if _, err := db.ExecContext(ctx, `INSERT IGNORE INTO `+migrationLockTable+` (id) VALUES (1)`); err != nil {
		return false, err
	}
	res, err := db.ExecContext(ctx, `
		UPDATE `+migrationLockTable+` SET holder = ?, lease_until = NOW(6) + INTERVAL ? SECOND
		WHERE id = 1 AND (holder IS NULL OR lease_until < NOW(6))`, l.owner, int(l.lease.Seconds()))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// renew keeps the lease alive until Unlock.
func (l *migrationLock) renew(db *sql.DB) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go func(stop, done chan struct{}) {
		defer close(done)
		tick := time.NewTicker(l.lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				ctx, cancel := context.WithTimeout(context.Background(), l.lease/3)
				_, _ = db.ExecContext(ctx, `UPDATE `+migrationLockTable+` SET lease_until = NOW(6) + INTERVAL ? SECOND WHERE id = 1 AND holder = ?`,
					int(l.lease.Seconds()), l.owner)
				cancel()
			}
		}
	}(l.stop, l.done)
}

// Unlock ends the renewal and gives the lease up.
func (l *migrationLock) Unlock(ctx context.Context, db *sql.DB) error {
	l.mu.Lock()
	stop, done := l.stop, l.done
	l.stop, l.done = nil, nil
	l.mu.Unlock()
	if stop == nil {
		return errors.New("migration lock: not held")
	}
	close(stop)
	<-done
	if _, err := db.ExecContext(ctx, `UPDATE `+migrationLockTable+` SET holder = NULL, lease_until = NULL WHERE id = 1 AND holder = ?`, l.owner); err != nil {
		return fmt.Errorf("give up migration lock: %w", err)
	}
	return nil
}
