package mysql_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// TestSilentDatabase: with the database silent (a proxy that stops
// forwarding without closing the connection), a store call ends at its
// context's deadline and gives its connection back; once the database
// answers again, or after its connections were cut, the same store works.
func TestSilentDatabase(t *testing.T) {
	t.Parallel()
	proxy := testenv.NewFaultProxy(t, testenv.MySQL(t))
	st := testenv.StoreAt(t, proxy.DSN(), mysql.Options{})
	ctx := context.Background()
	org, _, err := st.CreateOrganization(ctx, "Acme", "en")
	if err != nil {
		t.Fatal(err)
	}
	m := testenv.Bind(t, st, org.ID, "Alice", "alice@example.com")
	read := func(within time.Duration) error {
		ctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		_, err := st.Member(ctx, org.ID, m.ID)
		return err
	}

	proxy.Stall()
	done := make(chan error, 1)
	go func() { done <- read(time.Second) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("read with the database silent: %v, want the deadline's error", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("read with the database silent did not end at its deadline")
	}
	if n := st.DB().Stats().InUse; n != 0 {
		t.Errorf("%d connections still in use after the read ended", n)
	}

	proxy.Resume()
	if err := read(30 * time.Second); err != nil {
		t.Fatalf("read after the database answers again: %v", err)
	}
	proxy.Cut()
	if err := read(30 * time.Second); err != nil {
		t.Fatalf("read after the connections were cut: %v", err)
	}
}
