//go:build !noembed

package devstack

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// startDatabase starts a Database that the test closes, and opens it with
// one connection, as memberbind does.
func startDatabase(t *testing.T, name string) (*Database, *sqlx.DB) {
	t.Helper()
	d, err := StartDatabase(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	db, err := sqlx.Open("mysql", d.DSN())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return d, db
}

func mysqlErrorNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

func TestDatabaseDSN(t *testing.T) {
	t.Parallel()
	d, _ := startDatabase(t, "dsn_test")
	cfg, err := mysql.ParseDSN(d.DSN())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DBName != "dsn_test" || !cfg.ParseTime || cfg.Loc != time.UTC || cfg.MultiStatements ||
		!strings.HasPrefix(cfg.Addr, "127.0.0.1:") || !strings.Contains(d.DSN(), "timeTruncate=1us") {
		t.Errorf("DSN %q parses to %+v", d.DSN(), cfg)
	}
}

func TestStartDatabaseRejectsBadName(t *testing.T) {
	for _, name := range []string{"", "a-b", "a;DROP", strings.Repeat("x", 65)} {
		if d, err := StartDatabase(context.Background(), name); err == nil {
			d.Close()
			t.Errorf("StartDatabase(%q) succeeded", name)
		}
	}
}

func TestDatabase(t *testing.T) {
	t.Parallel()
	_, db := startDatabase(t, "memberbind")
	ctx := context.Background()
	for _, stmt := range []string{
		`CREATE TABLE orgs (
			id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
			name VARCHAR(100) NOT NULL
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE bindings (
			id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
			org_id BIGINT UNSIGNED NOT NULL,
			email VARCHAR(254) NOT NULL,
			token_hash BINARY(32) NOT NULL,
			created_at DATETIME(6) NOT NULL,
			PRIMARY KEY (id),
			UNIQUE KEY uq_bindings_email (email),
			KEY ix_bindings_org_created (org_id, created_at, id),
			CONSTRAINT fk_bindings_org FOREIGN KEY (org_id) REFERENCES orgs (id)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	res, err := db.ExecContext(ctx, `INSERT INTO orgs (name) VALUES (?)`, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	orgID, err := res.LastInsertId()
	if err != nil || orgID != 1 {
		t.Fatalf("LastInsertId = %d, %v", orgID, err)
	}

	created := time.Date(2026, 3, 3, 10, 0, 0, 123456789, time.UTC)
	hash := [32]byte{1, 2, 3}
	if _, err := db.ExecContext(ctx, `INSERT INTO bindings (org_id, email, token_hash, created_at) VALUES (?, ?, ?, ?)`,
		orgID, "a@example.com", hash[:], created); err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID        uint64    `db:"id"`
		Email     string    `db:"email"`
		TokenHash []byte    `db:"token_hash"`
		CreatedAt time.Time `db:"created_at"`
	}
	if err := db.GetContext(ctx, &got, `SELECT id, email, token_hash, created_at FROM bindings WHERE email = ?`, "a@example.com"); err != nil {
		t.Fatal(err)
	}
	// DATETIME(6) keeps microseconds; timeTruncate drops the rest before
	// the value leaves the driver.
	if want := created.Truncate(time.Microsecond); !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("created_at = %v, want %v", got.CreatedAt, want)
	}
	if string(got.TokenHash) != string(hash[:]) {
		t.Errorf("token_hash = %x", got.TokenHash)
	}

	t.Run("duplicate key is 1062", func(t *testing.T) {
		_, err := db.ExecContext(ctx, `INSERT INTO bindings (org_id, email, token_hash, created_at) VALUES (?, ?, ?, ?)`,
			orgID, "a@example.com", hash[:], created)
		if n := mysqlErrorNumber(err); n != 1062 {
			t.Fatalf("error %v (number %d), want 1062", err, n)
		}
	})
	t.Run("foreign key is enforced", func(t *testing.T) {
		_, err := db.ExecContext(ctx, `INSERT INTO bindings (org_id, email, token_hash, created_at) VALUES (?, ?, ?, ?)`,
			999, "b@example.com", hash[:], created)
		if n := mysqlErrorNumber(err); n != 1452 {
			t.Fatalf("error %v (number %d), want 1452", err, n)
		}
	})
	t.Run("commit and rollback on one connection", func(t *testing.T) {
		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := tx.GetContext(ctx, &id, `SELECT id FROM orgs WHERE id = ? FOR UPDATE`, orgID); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO orgs (name) VALUES ('committed')`); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}

		tx, err = db.BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO orgs (name) VALUES ('rolled back')`); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orgs SET name = 'renamed' WHERE id = ?`, orgID); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}

		var names []string
		if err := db.SelectContext(ctx, &names, `SELECT name FROM orgs ORDER BY id`); err != nil {
			t.Fatal(err)
		}
		if strings.Join(names, ",") != "Acme,committed" {
			t.Errorf("orgs = %q, want Acme,committed", names)
		}
	})
	t.Run("NOW is UTC", func(t *testing.T) {
		var now time.Time
		if err := db.GetContext(ctx, &now, `SELECT NOW(6)`); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(now); d < -time.Minute || d > time.Minute {
			t.Errorf("NOW(6) = %v, %v from time.Now", now, d)
		}
	})
}

// TestDatabaseSQL pins the SQL that a MySQL 8 / MariaDB schema and store
// are likely to use and that go-mysql-server v0.20.0 accepts, so that an
// upgrade that breaks one of them shows here. What it does not support is
// listed in the package's report and in StartDatabase's doc.
func TestDatabaseSQL(t *testing.T) {
	t.Parallel()
	_, db := startDatabase(t, "compat")
	ctx := context.Background()
	steps := []struct {
		sql     string
		args    []any
		want    string // first row, columns joined by "|"; "" for statements
		wantErr uint16 // MySQL error number the statement must fail with
	}{
		{sql: `CREATE TABLE t (
			id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
			h BINARY(32) NOT NULL,
			email VARCHAR(254) NOT NULL,
			status ENUM('PENDING','ACTIVATED','FAILED') NOT NULL DEFAULT 'PENDING',
			n INT NOT NULL DEFAULT 0,
			flag TINYINT(1) NOT NULL DEFAULT 0,
			created_at DATETIME(6) NOT NULL,
			updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
			UNIQUE KEY uq_h (h),
			KEY ix_created (created_at, id)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`},
		{sql: `CREATE TABLE IF NOT EXISTS t (id INT)`},
		{sql: `ALTER TABLE t ADD COLUMN extra VARCHAR(10) NULL AFTER n`},
		{sql: `CREATE UNIQUE INDEX uq_email ON t (email)`},
		{sql: `INSERT INTO t (h, email, created_at) VALUES (UNHEX(SHA2('a', 256)), 'a@x.test', ?)`, args: []any{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{sql: `INSERT INTO t (h, email, created_at) VALUES (UNHEX(SHA2('b', 256)), 'b@x.test', ?)`, args: []any{time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}},
		{sql: `SELECT LAST_INSERT_ID()`, want: "2"},
		{sql: `INSERT INTO t (h, email, created_at) VALUES (UNHEX(SHA2('a', 256)), 'a@x.test', NOW(6)) ON DUPLICATE KEY UPDATE n = n + 1`},
		{sql: `INSERT INTO t (h, email, created_at) VALUES (UNHEX(SHA2('a', 256)), 'a@x.test', NOW(6)) AS new ON DUPLICATE KEY UPDATE n = t.n + new.n + 1`},
		{sql: `INSERT IGNORE INTO t (h, email, created_at) VALUES (UNHEX(SHA2('a', 256)), 'a@x.test', NOW(6))`},
		{sql: `SELECT n FROM t WHERE email = 'a@x.test'`, want: "2"},
		{sql: `SELECT id FROM t WHERE status = 'PENDING' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`, want: "1"},
		{sql: `SELECT id FROM t WHERE id = 1 LOCK IN SHARE MODE`, want: "1"},
		{sql: `SELECT id FROM t WHERE (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT 1`, args: []any{time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), 2}, want: "1"},
		{sql: `SELECT GREATEST(1, 3, 2), LEAST(4, 5), COALESCE(NULL, 'x'), IF(1 > 0, 'y', 'n')`, want: "3|4|x|y"},
		{sql: `SELECT LOWER(TRIM('  A@B.Test ')), CONCAT('a', 'b'), HEX(UNHEX('ff'))`, want: "a@b.test|ab|FF"},
		{sql: `SELECT CAST(DATE_ADD(?, INTERVAL 15 DAY) AS CHAR)`, args: []any{time.Date(2026, 1, 1, 0, 0, 0, 500000000, time.UTC)}, want: "2026-01-16 00:00:00.500000"},
		{sql: `SELECT COUNT(*) FROM t WHERE created_at > UTC_TIMESTAMP(6) - INTERVAL 3650 DAY`, want: "2"},
		{sql: `SELECT TIMESTAMPDIFF(SECOND, '2026-01-01 00:00:00', '2026-01-01 01:00:00')`, want: "3600"},
		{sql: `SELECT GET_LOCK('memberbind', 1), IS_FREE_LOCK('memberbind'), RELEASE_LOCK('memberbind')`, want: "1|0|1"},
		{sql: `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 't')`, want: "1"},
		{sql: `SELECT COUNT(*) FROM t a LEFT JOIN t b ON b.id = a.id + 1 WHERE a.id IN (1, 2)`, want: "2"},
		{sql: `UPDATE t SET status = 'ACTIVATED', flag = TRUE WHERE id = 1 LIMIT 1`},
		{sql: `SELECT status, flag FROM t WHERE id = 1`, want: "ACTIVATED|1"},
		{sql: `DELETE FROM t WHERE id = 2`},
		// Case-insensitive uniqueness that holds here as on MySQL and
		// MariaDB, and a unique key that only live rows fill (NULLs repeat).
		{sql: `CREATE TABLE emails (
			id INT NOT NULL PRIMARY KEY,
			email VARCHAR(254) NOT NULL,
			email_key VARCHAR(254) AS (LOWER(TRIM(email))) STORED,
			live_email VARCHAR(254) NULL,
			UNIQUE KEY uq_email_key (email_key),
			UNIQUE KEY uq_live_email (live_email)
		)`},
		{sql: `INSERT INTO emails (id, email, live_email) VALUES (1, 'A@x.test', NULL), (2, 'b@x.test', NULL), (3, 'c@x.test', 'c@x.test')`},
		{sql: `SELECT COUNT(*) FROM emails WHERE email_key = 'a@x.test'`, want: "1"},
		{sql: `INSERT INTO emails (id, email) VALUES (4, ' a@X.test ')`, wantErr: 1062},
		{sql: `INSERT INTO emails (id, email, live_email) VALUES (5, 'e@x.test', 'c@x.test')`, wantErr: 1062},
		{sql: `CREATE DATABASE other_db`},
		{sql: `CREATE TABLE other_db.x (a INT NOT NULL, b VARCHAR(10) NOT NULL, PRIMARY KEY (a, b))`},
		{sql: `SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED`},
	}
	for _, s := range steps {
		if s.wantErr != 0 {
			if _, err := db.ExecContext(ctx, s.sql, s.args...); mysqlErrorNumber(err) != s.wantErr {
				t.Errorf("%s\n-> %v, want error %d", s.sql, err, s.wantErr)
			}
			continue
		}
		if s.want == "" {
			if _, err := db.ExecContext(ctx, s.sql, s.args...); err != nil {
				t.Errorf("%s\n-> %v", s.sql, err)
			}
			continue
		}
		row, err := db.QueryxContext(ctx, s.sql, s.args...)
		if err != nil {
			t.Errorf("%s\n-> %v", s.sql, err)
			continue
		}
		var cols []string
		if row.Next() {
			vals, err := row.SliceScan()
			if err != nil {
				t.Errorf("%s: scan: %v", s.sql, err)
			}
			for _, v := range vals {
				cols = append(cols, sqlString(v))
			}
		}
		row.Close()
		if got := strings.Join(cols, "|"); got != s.want {
			t.Errorf("%s\n-> %q, want %q", s.sql, got, s.want)
		}
	}
}

// sqlString writes a scanned column value for comparison.
func sqlString(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(v)
	case time.Time:
		return v.Format("2006-01-02 15:04:05.999999")
	default:
		return fmt.Sprint(v)
	}
}

// TestDatabaseGoose runs goose with its MySQL table locker, as `migrate`
// may. goose holds one connection while its locker takes another, so the
// migrating pool needs two: with SetMaxOpenConns(1) Up blocks for ever.
func TestDatabaseGoose(t *testing.T) {
	t.Parallel()
	d, _ := startDatabase(t, "goose_test")
	db, err := sql.Open("mysql", d.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(2)
	migrations := fstest.MapFS{
		"0001_init.sql": {Data: []byte(`-- +goose Up
CREATE TABLE a (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, email VARCHAR(254) NOT NULL, UNIQUE KEY uq_a_email (email)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE b (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, a_id BIGINT UNSIGNED NOT NULL, CONSTRAINT fk_b_a FOREIGN KEY (a_id) REFERENCES a (id));

-- +goose Down
DROP TABLE b;
DROP TABLE a;
`)},
		"0002_more.sql": {Data: []byte(`-- +goose Up
ALTER TABLE a ADD COLUMN created_at DATETIME(6) NULL;
`)},
	}
	locker, err := lock.NewMySQLTableLocker()
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectMySQL, db, migrations, goose.WithLocker(locker))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := p.Up(ctx); err != nil || len(res) != 0 {
		t.Fatalf("second Up = %v, %v", res, err)
	}
	if v, err := p.GetDBVersion(ctx); err != nil || v != 2 {
		t.Fatalf("version %d, %v", v, err)
	}
}

func TestDatabaseClose(t *testing.T) {
	t.Parallel()
	d, err := StartDatabase(context.Background(), "closing")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", d.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "SELECT 1"); err == nil {
		t.Fatal("query after Close succeeded")
	}
}
