package testenv

import (
	"database/sql"
	"os"
	"strings"
	"testing"

	driver "github.com/go-sql-driver/mysql"
)

// EnvGaleraDSNs names the variable that points the multi-node tests at a
// Galera cluster: the DSNs of its nodes, comma-separated, each with a user
// that may create and drop databases. scripts/galera.sh starts one and
// prints the value (`scripts/galera.sh dsns`).
const EnvGaleraDSNs = "MEMBERBIND_GALERA_DSNS"

// Galera creates a fresh database on the Galera cluster that EnvGaleraDSNs
// names, drops it when t ends, and returns its DSN through each node, in
// the variable's order. It skips t, saying how to run it, when the
// variable is not set; a cluster that is named but does not answer fails
// t.
func Galera(t testing.TB) []string {
	t.Helper()
	v := os.Getenv(EnvGaleraDSNs)
	if v == "" {
		t.Skipf("needs a Galera cluster: start one with `scripts/galera.sh start` and run with %s=$(scripts/galera.sh dsns)", EnvGaleraDSNs)
	}
	var cfgs []*driver.Config
	for _, dsn := range strings.Split(v, ",") {
		cfg, err := driver.ParseDSN(strings.TrimSpace(dsn))
		if err != nil {
			t.Fatalf("%s: %v", EnvGaleraDSNs, err)
		}
		cfgs = append(cfgs, cfg)
	}
	if len(cfgs) < 2 {
		t.Fatalf("%s names %d node; the multi-node tests need at least 2", EnvGaleraDSNs, len(cfgs))
	}
	admin := cfgs[0].Clone()
	admin.DBName = ""
	db, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	var on string
	err = db.QueryRow("SELECT @@wsrep_on").Scan(&on)
	db.Close()
	if err != nil || on != "1" {
		t.Fatalf("%s: node %s is not a Galera node (wsrep_on %q, %v)", EnvGaleraDSNs, admin.Addr, on, err)
	}
	first, err := driver.ParseDSN(createDatabase(t, cfgs[0], "CREATE DATABASE %s"))
	if err != nil {
		t.Fatal(err)
	}
	name := first.DBName
	// The other nodes apply the DDL a moment later, and a connection that
	// names the database in its handshake waits for nothing: ask each node
	// with wsrep_sync_wait, which makes it apply what the cluster
	// committed first.
	for _, cfg := range cfgs[1:] {
		c := cfg.Clone()
		c.DBName = ""
		c.Params = map[string]string{"wsrep_sync_wait": "1"}
		node, err := sql.Open("mysql", c.FormatDSN())
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = node.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", name).Scan(&n)
		node.Close()
		if err != nil || n != 1 {
			t.Fatalf("node %s does not have the test database %s (%d, %v)", c.Addr, name, n, err)
		}
	}
	dsns := make([]string, len(cfgs))
	for i, cfg := range cfgs {
		c := cfg.Clone()
		c.DBName = name
		dsns[i] = c.FormatDSN()
	}
	return dsns
}
