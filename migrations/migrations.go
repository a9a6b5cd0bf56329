// Package migrations holds memberbind's schema as goose SQL migrations,
// embedded so that the binary can apply them itself.
package migrations

import "embed"

// FS holds the migration files, NNNN_name.sql.
//
//go:embed *.sql
var FS embed.FS
