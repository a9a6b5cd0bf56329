//go:build noembed

package devstack

import "context"

// Embedded reports whether this binary holds the embedded servers: false,
// as it was built with -tags noembed.
const Embedded = false

// StartDatabase returns [ErrNotBuilt]: this binary was built with -tags
// noembed, which leaves the embedded database out.
func StartDatabase(ctx context.Context, dbName string) (*Database, error) {
	return nil, ErrNotBuilt
}

// StartMailServer returns [ErrNotBuilt]: this binary was built with -tags
// noembed, which leaves the embedded SMTP server out.
func StartMailServer(ctx context.Context) (*MailServer, error) {
	return nil, ErrNotBuilt
}
