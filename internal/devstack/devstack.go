// Package devstack is the zero-configuration default of memberbind: an
// in-memory MySQL-compatible database (github.com/dolthub/go-mysql-server)
// and an SMTP server (github.com/emersion/go-smtp) that keeps the mail it
// receives in memory, decoded with github.com/emersion/go-message, and shows
// it at /dev/mail, both on loopback ports of this process.
//
// They exist so that `go run ./cmd/memberbind` works on a fresh machine and
// so that tests can run without external services. They are not for
// production: the database loses everything when the process exits and is
// not a faithful MySQL (see [StartDatabase]), and the mail pages show every
// activation link to whoever can reach them.
//
// Linking go-mysql-server adds about 64 MB to a binary (54 MB stripped) and
// about 0.4 s to every start of it, embedded database used or not (its
// regular expression library initialises a WebAssembly runtime). Building
// with -tags noembed leaves both servers out: [StartDatabase] and
// [StartMailServer] then return [ErrNotBuilt], and the program must be
// pointed at a real database and SMTP server.
package devstack

import "errors"

// ErrNotBuilt is returned by [StartDatabase] and [StartMailServer] in a binary
// built with -tags noembed, which leaves the embedded servers out.
var ErrNotBuilt = errors.New("this binary was built with -tags noembed: set MEMBERBIND_DATABASE_DSN / MEMBERBIND_SMTP_URL")

// Database is an in-memory MySQL-compatible server listening on a loopback
// port of this process. Everything in it is lost on Close.
type Database struct {
	dsn   string
	close func() error
}

// DSN returns a github.com/go-sql-driver/mysql data source name for the
// database named at start, of the form
//
//	root@tcp(127.0.0.1:PORT)/NAME?loc=UTC&parseTime=true&timeTruncate=1us&time_zone=%27%2B00%3A00%27
//
// time_zone='+00:00' makes NOW() and CURRENT_TIMESTAMP UTC whatever the
// machine's zone (the server would use the local one). The server accepts
// any user name and password. multiStatements is not set: send one
// statement per Exec.
func (d *Database) DSN() string { return d.dsn }

// Close stops the server, closes every client connection and drops all data.
// It is safe to call more than once.
func (d *Database) Close() error { return d.close() }
