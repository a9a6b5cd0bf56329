package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	driver "github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"
)

// galeraSyncWait is the wsrep_sync_wait the store sets on every connection
// to a Galera node: reads (and the START TRANSACTION of every mutation)
// wait until the node has applied every write the cluster committed
// before them. Without it a member created through one node was not found
// a moment later through another (26 of 300 binds, with three instances
// on three nodes). A DSN that sets wsrep_sync_wait itself is kept.
const galeraSyncWait = "1"

// readYourWrites returns dsn with what db's server needs for a change
// committed through any connection to be seen by the next statement on
// another, and whether that differs from dsn: on a Galera node, a session
// wsrep_sync_wait. Other servers need nothing.
func readYourWrites(ctx context.Context, db *sqlx.DB, dsn string) (string, bool, error) {
	on, err := galeraNode(ctx, db)
	if err != nil || !on {
		return dsn, false, err
	}
	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		return "", false, fmt.Errorf("database DSN: %w", err)
	}
	if _, set := cfg.Params["wsrep_sync_wait"]; set {
		return dsn, false, nil
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["wsrep_sync_wait"] = galeraSyncWait
	return cfg.FormatDSN(), true, nil
}

// galeraNode reports whether db's server replicates through Galera.
// MariaDB built with wsrep has the variable OFF when it runs alone; MySQL
// and TiDB do not have it.
func galeraNode(ctx context.Context, db *sqlx.DB) (bool, error) {
	var name, value string
	err := db.QueryRowContext(ctx, `SHOW VARIABLES LIKE 'wsrep_on'`).Scan(&name, &value)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ask the server for wsrep_on: %w", err)
	}
	return strings.EqualFold(value, "ON"), nil
}
