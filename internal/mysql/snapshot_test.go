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
	db := wrappedDB(t, testenv.MySQL(t), connHooks{snapshotAtBegin: true})
	if err := mysql.Migrate(context.Background(), db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return mysql.New(db, o)
}

// connHooks change what a wrappedDB's connections do, to make MariaDB
// behave as another engine or a proxy in front of one would.
type connHooks struct {
	// snapshotAtBegin begins every transaction WITH CONSISTENT SNAPSHOT.
	snapshotAtBegin bool
	// rewrite, when set, changes every statement before it is sent.
	rewrite func(query string) string
}

// wrappedDB opens dsn (normalized as mysql.Open does) through go-sql-driver
// with hooks on every connection. It is closed when t ends.
func wrappedDB(t *testing.T, dsn string, hooks connHooks) *sqlx.DB {
	t.Helper()
	dsn, err := mysql.NormalizeDSN(dsn)
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
	db := sqlx.NewDb(sql.OpenDB(hookedConnector{connector, hooks}), "mysql")
	t.Cleanup(func() { db.Close() })
	return db
}

type hookedConnector struct {
	driver.Connector
	hooks connHooks
}

func (c hookedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &hookedConn{conn, c.hooks}, nil
}

// hookedConn passes everything to go-sql-driver's connection, through its
// hooks.
type hookedConn struct {
	driver.Conn
	hooks connHooks
}

func (c *hookedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if !c.hooks.snapshotAtBegin {
		return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	}
	if opts.Isolation != driver.IsolationLevel(sql.LevelDefault) {
		level := strings.ToUpper(sql.IsolationLevel(opts.Isolation).String())
		if _, err := c.ExecContext(ctx, "SET TRANSACTION ISOLATION LEVEL "+level, nil); err != nil {
			return nil, err
		}
	}
	if _, err := c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT", nil); err != nil {
		return nil, err
	}
	return snapshotTx{c}, nil
}

func (c *hookedConn) query(q string) string {
	if c.hooks.rewrite == nil {
		return q
	}
	return c.hooks.rewrite(q)
}

func (c *hookedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, c.query(query), args)
}

func (c *hookedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, c.query(query), args)
}

func (c *hookedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, c.query(query))
}

func (c *hookedConn) Ping(ctx context.Context) error {
	return c.Conn.(driver.Pinger).Ping(ctx)
}

func (c *hookedConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *hookedConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

func (c *hookedConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

type snapshotTx struct{ c *hookedConn }

func (tx snapshotTx) Commit() error {
	_, err := tx.c.ExecContext(context.Background(), "COMMIT", nil)
	return err
}

func (tx snapshotTx) Rollback() error {
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
