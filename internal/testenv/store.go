package testenv

import (
	"context"
	"log/slog"
	"testing"

	"memberbind/internal/mysql"
)

// Store creates a fresh database on the test server for t (see MySQL),
// applies the migrations and returns a mysql.Store on it with o. The
// database is dropped when t ends.
func Store(t testing.TB, o mysql.Options) *mysql.Store {
	t.Helper()
	return StoreAt(t, MySQL(t), o)
}

// StoreAt is Store on the database at dsn, one from MySQL: it opens a
// connection pool of its own, closed when t ends, and migrates the
// database as a starting instance of the service does (on a database that
// is up to date that changes nothing). Two Stores on one dsn are two
// instances of the service on one database.
func StoreAt(t testing.TB, dsn string, o mysql.Options) *mysql.Store {
	t.Helper()
	ctx := context.Background()
	db, err := mysql.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := mysql.Migrate(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return mysql.New(db, o)
}
