// Package mysql is memberbind's storage on MySQL 8, MariaDB 10.11 and other
// MySQL-compatible servers, through sqlx and go-sql-driver/mysql. Every rule
// that must hold under concurrency is held here by the database: unique keys
// and row locks taken inside one transaction, never a check in Go followed by
// a write in another statement's time.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

// MySQL error numbers the store reacts to.
const (
	errDuplicateKey    = 1062
	errLockWaitTimeout = 1205
	errDeadlock        = 1213
)

// The driver's timeouts NormalizeDSN sets unless the DSN sets them:
// connecting, and each read and write of a statement on the network.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultReadTimeout    = 60 * time.Second
	DefaultWriteTimeout   = 30 * time.Second
)

// hasParam reports whether the DSN's query sets param. The query starts
// at the first "?" after the last "/", as the driver's ParseDSN reads it:
// a password may hold a "?" (or a "/") of its own.
func hasParam(dsn, param string) bool {
	_, query, ok := strings.Cut(dsn[strings.LastIndex(dsn, "/")+1:], "?")
	if !ok {
		return false
	}
	for _, kv := range strings.Split(query, "&") {
		if k, _, _ := strings.Cut(kv, "="); k == param {
			return true
		}
	}
	return false
}

// NormalizeDSN returns dsn with what the store relies on: times parsed into
// time.Time in UTC, and network timeouts (DefaultConnectTimeout and the
// others) unless the DSN sets its own.
func NormalizeDSN(dsn string) (string, error) {
	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("database DSN: %w", err)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	// Send each statement with its arguments in one round trip instead of
	// three (prepare, execute, close). The driver escapes the arguments
	// for the connection's character set and falls back to a prepared
	// statement where it cannot. A DSN that says otherwise is kept.
	if !hasParam(dsn, "interpolateParams") {
		cfg.InterpolateParams = true
	}
	// A server that stops answering without closing the connection (a
	// hung host, a dropped network) would hold a statement, and its
	// connection, for ever. Requests carry deadlines of their own; these
	// bound what runs without one (the mail worker, the writes a page
	// finishes after its client left). A read waits out a lock wait
	// (innodb_lock_wait_timeout is 50s by default) before it times out.
	// A DSN that sets them is kept: a migration that rebuilds a big table
	// may need readTimeout=0 (none).
	for _, d := range []struct {
		param string
		dst   *time.Duration
		def   time.Duration
	}{
		{"timeout", &cfg.Timeout, DefaultConnectTimeout},
		{"readTimeout", &cfg.ReadTimeout, DefaultReadTimeout},
		{"writeTimeout", &cfg.WriteTimeout, DefaultWriteTimeout},
	} {
		if !hasParam(dsn, d.param) {
			*d.dst = d.def
		}
	}
	// Keep DATETIME(6) comparisons exact: the store writes microseconds.
	if _, ok := cfg.Params["time_zone"]; !ok {
		cfg.Params["time_zone"] = "'+00:00'"
	}
	return cfg.FormatDSN(), nil
}

// Open connects to the database at dsn and checks that it answers. On a
// Galera node it sets what read-your-writes across nodes needs on every
// connection (see readYourWrites).
func Open(ctx context.Context, dsn string) (*sqlx.DB, error) {
	dsn, err := NormalizeDSN(dsn)
	if err != nil {
		return nil, err
	}
	db, err := open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	tuned, changed, err := readYourWrites(ctx, db, dsn)
	if err != nil {
		db.Close()
		return nil, err
	}
	if !changed {
		return db, nil
	}
	db.Close()
	return open(ctx, tuned)
}

func open(ctx context.Context, dsn string) (*sqlx.DB, error) {
	sqlDB, err := openTraced(dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db := sqlx.NewDb(sqlDB, "mysql")
	// Keep connections warm: opening one per request costs more than the
	// request itself.
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(30 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if serialOnly(ctx, db) {
		// An engine without row locks or isolated transactions (the
		// embedded go-mysql-server) gets one connection, which serializes
		// every transaction: the store's races then come out right.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
	}
	return db, nil
}

// serialOnly reports whether the server is an engine that cannot isolate
// concurrent transactions.
func serialOnly(ctx context.Context, db *sqlx.DB) bool {
	var comment string
	if err := db.QueryRowContext(ctx, "SELECT @@version_comment").Scan(&comment); err != nil {
		return false
	}
	return strings.Contains(strings.ToLower(comment), "dolt")
}

// mysqlErrorNumber returns the MySQL error number err carries, or 0.
func mysqlErrorNumber(err error) uint16 {
	var me *driver.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// FormatError turns a driver error into a domain error where one has a
// meaning for clients: no rows is "member not found". Any other error is
// returned unchanged, to be logged and shown as an internal error.
func FormatError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return member.FieldErrorf(member.CodeMemberNotFound, "memberId", "no such member in this organization")
	}
	return err
}

// retryable reports whether a transaction failed only because it lost a
// race for locks and may simply run again: a deadlock, which is also how
// Galera reports a certification failure at commit and TiDB a write
// conflict, or a lock wait that timed out.
func retryable(err error) bool {
	n := mysqlErrorNumber(err)
	return n == errDeadlock || n == errLockWaitTimeout
}

// Transaction retries: a transaction that lost a race for locks runs
// again after a jittered, doubling pause, so that the transactions that
// collided do not collide again in step.
const (
	txAttempts   = 6
	txRetryFirst = 5 * time.Millisecond
	txRetryMax   = 250 * time.Millisecond
)

// txRetryPause is the pause before retry n (1 for the first): txRetryFirst
// doubled per earlier retry, at most txRetryMax, then a random point in
// its upper half ("equal jitter"). rnd returns a number in [0, 1).
func txRetryPause(n int, rnd func() float64) time.Duration {
	d := txRetryFirst
	for i := 1; i < n && d < txRetryMax; i++ {
		d *= 2
	}
	d = min(d, txRetryMax)
	return d/2 + time.Duration(rnd()*float64(d/2))
}

// retryTx runs try until it succeeds, fails for good or has run attempts
// times, pausing between runs as txRetryPause says and calling onRetry
// (when set) before each pause. It stops at once when ctx ends.
func retryTx(ctx context.Context, attempts int, onRetry func(error), try func() error) error {
	for n := 1; ; n++ {
		err := try()
		if err == nil || !retryable(err) || n >= attempts || ctx.Err() != nil {
			return err
		}
		if onRetry != nil {
			onRetry(err)
		}
		t := time.NewTimer(txRetryPause(n, mathrand.Float64))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up retrying: %w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// inTx runs fn in a transaction and commits it, retrying it (see
// retryTx) when it lost a race for locks. fn runs once per attempt and
// must keep nothing from an attempt that failed. fn must not use the pool
// (s.db) while it holds tx: on a one-connection pool that would wait for
// ever.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return s.inTxAt(ctx, sql.LevelDefault, fn)
}

// inTxAt is inTx at the given isolation level. ClaimOutbox and
// MarkOutboxSentBatch run at READ COMMITTED: they find rows by primary key
// or by a conditional UPDATE, decide on locked rows only, and so need no
// snapshot; and at READ COMMITTED InnoDB locks only the rows they change
// or keep, where at REPEATABLE READ a claim's scan of the due index kept
// next-key locks on its gaps, into which the marks of other rows insert
// their new index entries. (The embedded engine accepts the level and,
// having no row locks, has nothing to change by it.)
func (s *Store) inTxAt(ctx context.Context, level sql.IsolationLevel, fn func(tx *sqlx.Tx) error) error {
	return retryTx(ctx, txAttempts, s.OnRetry, func() error { return s.tryTxAt(ctx, level, fn) })
}

func (s *Store) tryTxAt(ctx context.Context, level sql.IsolationLevel, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: level})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
