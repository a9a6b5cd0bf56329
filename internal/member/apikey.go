package member

import (
	"context"
	"strings"
	"time"
)

// APIKey is one of an organization's API keys (DESIGN.md §9), as the
// organization may see it: never the key itself, which is shown once, when
// it is created, and stored only as a hash.
type APIKey struct {
	ID    int64
	OrgID int64
	Name  string
	// Prefix is the key's first characters (mb_ and six more), which tell
	// an organization's keys apart in a listing or a log without being
	// usable as the key.
	Prefix    string
	CreatedAt time.Time
	// LastUsedAt is when the key last authenticated a request, to the
	// minute (APIKeyUseResolution); nil when it never has.
	LastUsedAt *time.Time
	// RevokedAt is when the key was revoked; a revoked key opens nothing.
	RevokedAt *time.Time
}

// APIKeyUseResolution is how stale APIKey.LastUsedAt may be: a key's
// use is written at most once per this period, so that a busy key does not
// cost a write per request.
const APIKeyUseResolution = time.Minute

// CheckAPIKeyName checks and trims the name of a new API key, as a
// member's name is checked; the error names the input field "name".
func CheckAPIKeyName(name string) (string, *Error) {
	name = strings.TrimSpace(name)
	if err := CheckName("the API key's name", name); err != nil {
		err.Field = []string{"name"}
		return "", err
	}
	return name, nil
}

// APIKeys manages an organization's API keys. Every method acts inside one
// organization: a key of another organization is not found.
type APIKeys interface {
	// APIKeys returns the organization's keys, revoked ones included,
	// newest first.
	APIKeys(ctx context.Context, orgID int64) ([]*APIKey, error)
	// CreateAPIKey adds a named key to the organization and returns it
	// with its secret, which nothing can show again.
	CreateAPIKey(ctx context.Context, orgID int64, name string) (*APIKey, string, error)
	// RevokeAPIKey revokes one of the organization's keys and returns it
	// as revoked; revoking a revoked key changes nothing. Revoking the
	// organization's last unrevoked key is refused with CodeLastAPIKey
	// unless allowLast, since the organization could then no longer reach
	// the API; the refusal is decided on the organization's key rows
	// locked, so that of two concurrent revokes of its last two keys one
	// is refused.
	RevokeAPIKey(ctx context.Context, orgID, keyID int64, allowLast bool) (*APIKey, error)
}
