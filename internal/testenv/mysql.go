// Package testenv starts and finds what memberbind's tests talk to: a real
// MySQL-compatible server (and a migrated store on a fresh database of
// it), a real SMTP server and a headless browser. Only tests import it.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"memberbind/internal/devstack"
)

// EnvDSN names the variable that points tests at a MySQL-compatible server:
// a go-sql-driver/mysql DSN whose user may create and drop databases. The
// database name in it, if any, is ignored: each test gets its own.
const EnvDSN = "MEMBERBIND_TEST_DSN"

// Embedded, as the value of EnvDSN, runs the tests on the embedded engine
// even where a server answers.
const Embedded = "embedded"

// defaultDSN is the server tried when EnvDSN is not set.
const defaultDSN = "root@tcp(127.0.0.1:3306)/"

var (
	serverOnce sync.Once
	serverCfg  *driver.Config
	serverErr  error
)

// embedded is set when the tests run on the embedded engine because no
// server answered.
var embedded bool

// server finds the test database server once per test binary: the one
// EnvDSN names, else a local server on the default port if one answers,
// else the embedded engine of internal/devstack.
func server() (*driver.Config, error) {
	serverOnce.Do(func() {
		dsn, named := os.Getenv(EnvDSN), true
		if dsn == "" {
			dsn, named = defaultDSN, false
		}
		if dsn != Embedded {
			cfg, err := driver.ParseDSN(dsn)
			if err != nil {
				serverErr = fmt.Errorf("%s: %w", EnvDSN, err)
				return
			}
			cfg.DBName = ""
			cfg.ParseTime = true
			err = ping(cfg.FormatDSN())
			if err == nil {
				serverCfg = cfg
				return
			}
			if named {
				serverErr = fmt.Errorf("no MySQL-compatible server at %s (from %s): %w", cfg.Addr, EnvDSN, err)
				return
			}
		}
		db, err := devstack.StartDatabase(context.Background(), "mbtest")
		if err != nil {
			serverErr = fmt.Errorf("no MySQL-compatible server answered and the embedded engine did not start: %w", err)
			return
		}
		// It lives as long as the test binary.
		cfg, err := driver.ParseDSN(db.DSN())
		if err != nil {
			serverErr = err
			return
		}
		cfg.DBName = ""
		serverCfg, embedded = cfg, true
	})
	return serverCfg, serverErr
}

func ping(dsn string) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// RequireRowLocks skips a test that needs a server with real transactions
// and row locks, which the embedded engine does not have.
func RequireRowLocks(t testing.TB) {
	t.Helper()
	skipEmbedded(t, "a MySQL-compatible server with row locks; the embedded engine has none")
}

// RequireOptimizer skips a test that reads MySQL's query plans (EXPLAIN),
// which the embedded engine and TiDB, planning their own way, do not give.
func RequireOptimizer(t testing.TB) {
	t.Helper()
	skipEmbedded(t, "MySQL's or MariaDB's optimizer; the embedded engine plans its own way")
	skipTiDB(t, "MySQL's or MariaDB's optimizer: TiDB's EXPLAIN has other columns and operators")
}

// RequireStatusCounters skips a test that reads MySQL's session status
// counters (SHOW SESSION STATUS LIKE 'Questions'), which TiDB does not
// keep.
func RequireStatusCounters(t testing.TB) {
	t.Helper()
	skipTiDB(t, "MySQL's or MariaDB's session status counters (Questions); TiDB does not keep them")
}

// tidb is set when the test server is TiDB.
var (
	tidbOnce sync.Once
	tidb     bool
)

func skipTiDB(t testing.TB, needs string) {
	t.Helper()
	cfg, err := server()
	if err != nil || embedded {
		return
	}
	tidbOnce.Do(func() {
		db, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			return
		}
		defer db.Close()
		var v string
		if db.QueryRow("SELECT VERSION()").Scan(&v) == nil {
			tidb = strings.Contains(strings.ToLower(v), "tidb")
		}
	})
	if tidb {
		t.Skipf("needs %s; the test server (%s) is TiDB. docs/engines.md says what runs where", needs, EnvDSN)
	}
}

func skipEmbedded(t testing.TB, needs string) {
	t.Helper()
	if _, err := server(); err == nil && embedded {
		t.Skipf("needs %s. Run with %s=user:pass@tcp(host:3306)/ (MySQL 8 or MariaDB 10.11)", needs, EnvDSN)
	}
}

// MySQL creates a fresh, empty database on the test server for t, drops
// it when t ends, and returns its DSN. Tests that use it can run in
// parallel with each other.
func MySQL(t testing.TB) string {
	t.Helper()
	return MySQLCharset(t, "")
}

// MySQLCharset is MySQL with a database whose default character set is
// charset (such as latin1), as on a server configured with it; "" is the
// server's default.
func MySQLCharset(t testing.TB, charset string) string {
	t.Helper()
	create := "CREATE DATABASE %s"
	if charset != "" {
		create += " DEFAULT CHARACTER SET " + charset
	}
	cfg, err := server()
	if err != nil {
		t.Fatalf("test database: %v", err)
	}
	if embedded {
		// Concurrent commits on one embedded engine can lose each other's
		// writes, even in different databases: each test gets an engine
		// of its own.
		db, err := devstack.StartDatabase(context.Background(), "mbtest")
		if err != nil {
			t.Fatalf("start an embedded database: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		if charset == "" {
			return db.DSN()
		}
		cfg, err := driver.ParseDSN(db.DSN())
		if err != nil {
			t.Fatal(err)
		}
		return createDatabase(t, cfg, create)
	}
	return createDatabase(t, cfg, create)
}

// createDatabase creates a database with a fresh name on the server of
// cfg by the statement create (its %s is the name), drops it when t ends,
// and returns its DSN.
func createDatabase(t testing.TB, cfg *driver.Config, create string) string {
	t.Helper()
	cfg = cfg.Clone()
	cfg.DBName = ""
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "mbtest_" + hex.EncodeToString(b)
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(fmt.Sprintf(create, name)); err != nil {
		admin.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	c := cfg.Clone()
	c.DBName = name
	return c.FormatDSN()
}

// IsMariaDB reports whether the server behind dsn is MariaDB.
func IsMariaDB(t testing.TB, db *sql.DB) bool {
	t.Helper()
	var v string
	if err := db.QueryRow("SELECT VERSION()").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return strings.Contains(strings.ToLower(v), "mariadb")
}

// Clock is a settable clock for tests that must stand at an instant.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t.UTC()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.UTC()
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
