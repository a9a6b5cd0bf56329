package mysql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// earlySnapshotStore is a migrated store on a fresh database whose
// transactions take their snapshot when they begin, as TiDB's do, where
// InnoDB takes it at the first plain read. A plain read after a lock wait
// then misses what the lock holder committed, on MariaDB too: the limits
// must count locked rows to hold on such an engine.
func earlySnapshotStore(t *testing.T, o mysql.Options) *mysql.Store {
	t.Helper()
	dsn, err := mysql.NormalizeDSN(testenv.MySQL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	connector, err := mysqldriver.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sqlx.NewDb(sql.OpenDB(earlySnapshotConnector{connector}), "mysql")
	t.Cleanup(func() { db.Close() })
	if err := mysql.Migrate(context.Background(), db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return mysql.New(db, o)
}

type earlySnapshotConnector struct{ driver.Connector }

func (c earlySnapshotConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &earlySnapshotConn{conn}, nil
}

// earlySnapshotConn begins every transaction WITH CONSISTENT SNAPSHOT and
// passes everything else to go-sql-driver's connection.
type earlySnapshotConn struct{ driver.Conn }

func (c *earlySnapshotConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if opts.Isolation != driver.IsolationLevel(sql.LevelDefault) {
		level := strings.ToUpper(sql.IsolationLevel(opts.Isolation).String())
		if _, err := c.ExecContext(ctx, "SET TRANSACTION ISOLATION LEVEL "+level, nil); err != nil {
			return nil, err
		}
	}
	if _, err := c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT", nil); err != nil {
		return nil, err
	}
	return earlySnapshotTx{c}, nil
}

func (c *earlySnapshotConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (c *earlySnapshotConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (c *earlySnapshotConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *earlySnapshotConn) Ping(ctx context.Context) error {
	return c.Conn.(driver.Pinger).Ping(ctx)
}

func (c *earlySnapshotConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *earlySnapshotConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

func (c *earlySnapshotConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

type earlySnapshotTx struct{ c *earlySnapshotConn }

func (tx earlySnapshotTx) Commit() error {
	_, err := tx.c.ExecContext(context.Background(), "COMMIT", nil)
	return err
}

func (tx earlySnapshotTx) Rollback() error {
	_, err := tx.c.ExecContext(context.Background(), "ROLLBACK", nil)
	return err
}

// TestLimitsCountLockedRows: concurrent resends and sign-in requests of
// one member keep to their caps on an engine whose transactions read the
// snapshot taken at their start (TiDB): the caps count rows the
// transaction has locked, never its snapshot.
func TestLimitsCountLockedRows(t *testing.T) {
	t.Parallel()
	testenv.RequireRowLocks(t)
	f := &signInFixture{t: t, ctx: context.Background(), clock: testenv.NewClock(t0), p: member.DefaultSignInPolicy()}
	f.st = earlySnapshotStore(t, mysql.Options{Now: f.clock.Now})
	f.db = f.st.DB()
	var err error
	if f.org, _, err = f.st.CreateOrganization(f.ctx, "Acme", "en"); err != nil {
		t.Fatal(err)
	}
	const n = 12
	race := func(do func() error) (errs []error) {
		errs = make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = do()
			})
		}
		close(start)
		wg.Wait()
		return errs
	}

	t.Run("resend", func(t *testing.T) {
		bob := f.bind("Bob", "bob@example.com")
		f.deliver()
		ok := 0
		for i, err := range race(func() error {
			_, err := f.st.ResendActivationLink(f.ctx, f.org.ID, "test", bob.ID)
			return err
		}) {
			var me *member.Error
			switch {
			case err == nil:
				ok++
			case !errors.As(err, &me) || me.Code != member.CodeResendLimitReached:
				t.Errorf("resend %d: %v", i, err)
			}
		}
		// The first send counts: 1 + 4 resends make the hour's 5.
		want := f.st.Policy().ResendsPerHour - 1
		if ok != want {
			t.Errorf("%d of %d concurrent resends accepted, want %d", ok, n, want)
		}
		if c := f.count("activation_links", "binding_id = ?", bob.Binding.ID); c != want+1 {
			t.Errorf("%d links, want %d", c, want+1)
		}
	})

	t.Run("sign-in", func(t *testing.T) {
		f.p.MaxLiveLinks = 2
		alice := f.activate("Alice", "alice@example.com")
		for i, err := range race(func() error { return f.st.RequestSignIn(f.ctx, "alice@example.com", f.p) }) {
			if err != nil {
				t.Errorf("request %d: %v", i, err)
			}
		}
		if c := f.count("signin_links", "member_id = ?", alice.ID); c != f.p.MaxLiveLinks {
			t.Errorf("%d live sign-in links after %d concurrent requests, want the bound of %d", c, n, f.p.MaxLiveLinks)
		}
	})
}
