package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"

	"memberbind/internal/mysql"
)

// recorded is one statement a store sent, with its arguments.
type recorded struct {
	Query string
	Args  []any
}

// recorder keeps the statements sent through the connections of a
// recording pool. The figures EXPLAIN what the store itself sends, rather
// than a copy of it that could drift.
type recorder struct {
	mu    sync.Mutex
	stmts []recorded
}

func (r *recorder) add(query string, args []driver.NamedValue) {
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	r.mu.Lock()
	r.stmts = append(r.stmts, recorded{Query: query, Args: vals})
	r.mu.Unlock()
}

// take returns what was recorded since the last take, and forgets it.
func (r *recorder) take() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stmts
	r.stmts = nil
	return s
}

// openRecording opens a pool of one connection on dsn, configured as
// mysql.Open configures memberbind's (mysql.NormalizeDSN), whose
// statements r records. It leaves out what mysql.Open adds that the
// figures do not need: tracing, and Galera's read-your-writes.
func openRecording(ctx context.Context, dsn string, r *recorder) (*sqlx.DB, error) {
	dsn, err := mysql.NormalizeDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	conn, err := mysqldriver.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sqlx.NewDb(sql.OpenDB(recordingConnector{conn, r}), "mysql")
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

type recordingConnector struct {
	driver.Connector
	r *recorder
}

func (c recordingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: conn, r: c.r}, nil
}

// recordingConn records the statements sent as text (interpolateParams,
// memberbind's setting) and forwards everything to go-sql-driver's
// connection, including the optional interfaces database/sql looks for.
type recordingConn struct {
	driver.Conn
	r *recorder
}

var errNotSupported = errors.New("not supported by the driver")

func (c *recordingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.r.add(query, args)
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	return q.QueryContext(ctx, query, args)
}

func (c *recordingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.r.add(query, args)
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	return e.ExecContext(ctx, query, args)
}

func (c *recordingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Conn.Prepare(query)
}

func (c *recordingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	b, ok := c.Conn.(driver.ConnBeginTx)
	if !ok {
		return nil, fmt.Errorf("BeginTx: %w", errNotSupported)
	}
	return b.BeginTx(ctx, opts)
}

func (c *recordingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *recordingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if v, ok := c.Conn.(driver.NamedValueChecker); ok {
		return v.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (c *recordingConn) ResetSession(ctx context.Context) error {
	if s, ok := c.Conn.(driver.SessionResetter); ok {
		return s.ResetSession(ctx)
	}
	return nil
}

func (c *recordingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// plan is the EXPLAIN of one statement, one line per table it reads.
type plan []planRow

type planRow struct {
	Table, Type, Key, Rows, Extra string
}

// explain runs EXPLAIN on a recorded statement through db (which
// interpolates its arguments as memberbind's pool does).
func explain(ctx context.Context, db *sqlx.DB, s recorded) (plan, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN "+s.Query, s.Args...)
	if err != nil {
		return nil, fmt.Errorf("EXPLAIN %.80s: %w", s.Query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var p plan
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		// By name: MySQL and MariaDB differ in the columns around these.
		var r planRow
		for i, c := range cols {
			v := vals[i].String
			switch strings.ToLower(c) {
			case "table":
				r.Table = v
			case "type":
				r.Type = v
			case "key":
				r.Key = v
			case "rows":
				r.Rows = v
			case "extra":
				r.Extra = v
			}
		}
		p = append(p, r)
	}
	return p, rows.Err()
}

// String renders a plan on one line: "member_counts: range on PRIMARY,
// ~48 rows (Using where)" for each table, joined by "; ".
func (p plan) String() string {
	var parts []string
	for _, r := range p {
		s := fmt.Sprintf("%s: %s", orDash(r.Table), orDash(r.Type))
		if r.Key != "" {
			s += " on " + r.Key
		}
		if r.Rows != "" {
			s += ", ~" + r.Rows + " rows"
		}
		if r.Extra != "" {
			s += " (" + r.Extra + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// tables are the tables (or their aliases) a plan reads.
func (p plan) tables() []string {
	var t []string
	for _, r := range p {
		if r.Table != "" {
			t = append(t, r.Table)
		}
	}
	return t
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
