package mysql_test

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// databaseFn is DATABASE() in any case.
var databaseFn = regexp.MustCompile(`(?i)database\(\)`)

// hideSchema makes a question to information_schema find nothing of the
// database, as through Vitess's vtgate, where the schema a client sees
// (the keyspace) is not the database the server holds.
func hideSchema(q string) string {
	if !strings.Contains(strings.ToLower(q), "information_schema") {
		return q
	}
	return databaseFn.ReplaceAllString(q, "'a_keyspace'")
}

// TestMigrateBehindAProxyHidingTheSchema: migrations apply, and apply again
// on the next start (which finds nothing to do), through a proxy whose
// information_schema does not show the database's tables. goose's own
// checks read information_schema and then created the version table
// again: error 1050 on every start after the first.
func TestMigrateBehindAProxyHidingTheSchema(t *testing.T) {
	t.Parallel()
	testenv.RequireRowLocks(t)
	db := wrappedDB(t, testenv.MySQL(t), connHooks{rewrite: hideSchema})
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	for start := 1; start <= 2; start++ {
		if err := mysql.Migrate(ctx, db, log); err != nil {
			t.Fatalf("start %d: %v", start, err)
		}
	}
	if err := mysql.CheckSchema(ctx, db); err != nil {
		t.Errorf("CheckSchema: %v", err)
	}
	var tables int
	if err := db.Get(&tables, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()`); err != nil || tables != 0 {
		t.Fatalf("the proxy shows %d tables (%v); the test hides them all", tables, err)
	}
}

// TestMigrationLock: one holder at a time; the next takes the lease when
// the holder gives it up, or when a holder that died stops renewing it.
func TestMigrationLock(t *testing.T) {
	t.Parallel()
	testenv.RequireRowLocks(t)
	db := wrappedDB(t, testenv.MySQL(t), connHooks{}).DB
	ctx := context.Background()
	first, second := mysql.NewMigrationLock(time.Minute), mysql.NewMigrationLock(500*time.Millisecond)
	if err := first.Lock(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := second.Lock(ctx, db); err == nil {
		t.Fatal("a second instance took the lock while the first held it")
	}
	if err := first.Unlock(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := second.Lock(ctx, db); err != nil {
		t.Fatalf("the lock given up was not taken: %v", err)
	}
	// The holder dies: its lease runs out unrenewed.
	if _, err := db.Exec(`UPDATE memberbind_migration_lock SET lease_until = NOW(6) - INTERVAL 1 SECOND`); err != nil {
		t.Fatal(err)
	}
	third := mysql.NewMigrationLock(time.Minute)
	if err := third.Lock(ctx, db); err != nil {
		t.Fatalf("a lease that ran out was not taken: %v", err)
	}
	if err := third.Unlock(ctx, db); err != nil {
		t.Fatal(err)
	}
}
