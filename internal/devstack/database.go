//go:build !noembed

package devstack

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/memory"
	"github.com/dolthub/go-mysql-server/server"
	gmssql "github.com/dolthub/go-mysql-server/sql"
	"github.com/go-sql-driver/mysql"
	"github.com/sirupsen/logrus"
)

// Embedded reports whether this binary holds the embedded servers: true
// unless it was built with -tags noembed.
const Embedded = true

// StartDatabase starts an in-memory MySQL-compatible server on a free
// loopback port, with one empty database named dbName (letters, digits and
// underscores), and returns once it answers. ctx bounds the start only; the
// server runs until Close. The server accepts any user and password, and
// clients may CREATE DATABASE more databases on it (a test can take a fresh
// one each). It reports itself as MySQL 8.0.31.
//
// It is github.com/dolthub/go-mysql-server v0.20.0's memory backend, which
// is not a faithful MySQL where memberbind relies on one:
//
//   - Transactions are not isolated and rows are not locked: SELECT ... FOR
//     UPDATE (and SKIP LOCKED) never blocks, and two transactions committing
//     at once silently lose each other's writes. Open the pool with
//     db.SetMaxOpenConns(1): with one connection, statements and
//     transactions run one after another and the races come out right.
//     (goose's MySQL table locker needs a second connection while goose
//     holds one: migrate through a pool of two, before the service runs.)
//   - Unique indexes, primary keys included, compare strings exactly,
//     ignoring a case-insensitive collation (comparisons in WHERE do honour
//     it). A unique index on a stored generated column such as
//     LOWER(TRIM(email)) does hold, and so it does on MySQL and MariaDB.
//     The default collation is utf8mb4_0900_bin.
//   - Savepoints fail (1105); a write inside a read-only transaction
//     (sql.TxOptions{ReadOnly: true}) panics inside the engine, which drops
//     the connection. Duplicate keys are 1062, foreign keys 1452, NOT NULL
//     1048 as in MySQL; CHECK constraints and most others come back as 1105.
//   - `t + INTERVAL n DAY` loses the fraction of a second (and may round
//     it up); DATE_ADD(t, INTERVAL n DAY) keeps it.
//   - Syntax errors: SELECT ... FOR SHARE, NOWAIT, FOR UPDATE OF t (use
//     LOCK IN SHARE MODE, which MySQL 8 and MariaDB both accept), INSERT ...
//     RETURNING.
//
// Its DSN (see [Database.DSN]) carries timeTruncate=1us so that DATETIME(6)
// values round as in MariaDB, and time_zone='+00:00'.
func StartDatabase(ctx context.Context, dbName string) (*Database, error) {
	if err := checkDatabaseName(dbName); err != nil {
		return nil, err
	}
	quietEngineLog()

	db := memory.NewDatabase(dbName)
	db.EnablePrimaryKeyIndexes()
	pro := memory.NewDBProvider(db)
	// Without native indexes, foreign keys fail. Databases made later by
	// CREATE DATABASE get the same setting.
	pro.WithOption(memory.NativeIndexProvider(true))
	// Making an engine resets go-mysql-server's global status variables
	// without a lock; two at once race.
	engineMu.Lock()
	engine := sqle.NewDefault(pro)
	engineMu.Unlock()

	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("devstack: listen for the database: %w", err)
	}
	tl := &trackingListener{Listener: l, conns: make(map[*trackedConn]struct{})}
	cfg := server.Config{
		Protocol: "tcp",
		Address:  l.Addr().String(),
		Listener: tl,
	}
	srv, err := server.NewServer(cfg, engine, gmssql.NewContext, memory.NewSessionBuilder(pro), nil)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("devstack: start the database: %w", err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Start() // returns when the listener is closed
	}()

	var once sync.Once
	var closeErr error
	d := &Database{dsn: databaseDSN(l.Addr().String(), dbName)}
	d.close = func() error {
		once.Do(func() {
			closeErr = srv.Close()
			// The server leaves open connections running; end them so that
			// nothing keeps using a database that is gone.
			tl.closeAll()
			<-served
			// Shutdown of the engine's background threads reports the
			// cancellation that stops them.
			if err := engine.Close(); err != nil && !errors.Is(err, context.Canceled) {
				closeErr = errors.Join(closeErr, err)
			}
		})
		return closeErr
	}

	if err := ping(ctx, d.dsn); err != nil {
		d.Close()
		return nil, fmt.Errorf("devstack: database did not answer: %w", err)
	}
	return d, nil
}

// ping connects once to dsn.
func ping(ctx context.Context, dsn string) error {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return err
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	return db.PingContext(ctx)
}

var (
	engineMu  sync.Mutex
	quietOnce sync.Once
)

// quietEngineLog keeps go-mysql-server, which logs through logrus's standard
// logger, from writing a line for every connection opened and closed and a
// warning for every failed statement (a duplicate key is routine here: the
// client gets the error anyway). Errors still show. Nothing else in
// memberbind uses logrus; a level set by someone else before the first
// start is kept.
func quietEngineLog() {
	quietOnce.Do(func() {
		if logrus.GetLevel() == logrus.InfoLevel {
			logrus.SetLevel(logrus.ErrorLevel)
		}
	})
}

// trackingListener remembers the connections it accepted so that they can
// be closed with the server.
type trackingListener struct {
	net.Listener
	mu     sync.Mutex
	closed bool
	conns  map[*trackedConn]struct{}
}

// Accept implements net.Listener.
func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, l: l}
	l.conns[tc] = struct{}{}
	return tc, nil
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for c := range conns {
		c.shut.Store(true)
		c.Close()
	}
}

// trackedConn is a connection accepted by a trackingListener.
type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
	shut atomic.Bool // closed by closeAll
}

// Read implements net.Conn. A connection ended by closeAll reads as one the
// client closed, which the server ends quietly instead of logging an error.
func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && c.shut.Load() {
		err = io.EOF
	}
	return n, err
}

// Close implements net.Conn.
func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// databaseDSN builds the DSN of database dbName on addr (host:port).
func databaseDSN(addr, dbName string) string {
	// timeTruncate=1us makes the driver send times rounded the way a
	// DATETIME(6) column of MariaDB keeps them (go-mysql-server would
	// otherwise keep nanoseconds the real servers drop).
	q := url.Values{}
	q.Set("parseTime", "true")
	q.Set("loc", "UTC")
	q.Set("timeTruncate", "1us")
	q.Set("time_zone", "'+00:00'")
	return fmt.Sprintf("root@tcp(%s)/%s?%s", addr, dbName, q.Encode())
}

// checkDatabaseName reports whether name is usable unquoted in a DSN and in
// SQL: letters, digits and underscores, 1 to 64 of them.
func checkDatabaseName(name string) error {
	if name == "" || len(name) > 64 || strings.TrimLeft(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
		return fmt.Errorf("devstack: database name %q: want 1 to 64 letters, digits or underscores", name)
	}
	return nil
}
