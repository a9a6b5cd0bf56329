package mysql

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

// Store implements member.Service, and the outbox and activation sides
// that the mail worker and the landing pages use, on one database.
type Store struct {
	db     *sqlx.DB
	policy member.Policy
	clock  func() time.Time
	random io.Reader
	scope  int       // how many members a substring search examines
	budget orgBudget // the organizations' mail budgets reserved by this instance

	// OnOutbox, when set, is called after a transaction that wrote outbox
	// rows has committed, so that a worker in this process can send them at
	// once instead of at its next poll.
	OnOutbox func()

	// OnRetry, when set, is called with the error of each transaction
	// attempt that lost a race for locks (a deadlock, a Galera
	// certification failure, a lock wait timeout) before it runs again:
	// for metrics, and for tests that force one.
	OnRetry func(err error)

	// Webhooks configures webhook endpoints; set it before use.
	Webhooks WebhookConfig
}

// Options configure a Store. Zero values take the defaults.
type Options struct {
	Policy member.Policy
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Random is the source of tokens and keys; crypto/rand when nil.
	Random io.Reader
	// SearchScope is how many of a list's newest members a search by a
	// part of a name or an email examines; member.SearchScope when 0.
	// Tests make it small, so as not to create a hundred thousand members.
	SearchScope int
}

// New returns a Store on db.
func New(db *sqlx.DB, o Options) *Store {
	if o.Policy == (member.Policy{}) {
		o.Policy = member.DefaultPolicy()
	}
	o.Policy = o.Policy.WithDefaults()
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Random == nil {
		o.Random = rand.Reader
	}
	if o.SearchScope <= 0 {
		o.SearchScope = member.SearchScope
	}
	return &Store{db: db, policy: o.Policy, clock: o.Now, random: o.Random, scope: o.SearchScope}
}

// DB is the store's database handle.
func (s *Store) DB() *sqlx.DB { return s.db }

// Policy is the policy the store decides with.
func (s *Store) Policy() member.Policy { return s.policy }

// Now is the store's clock, in UTC at the database's precision.
func (s *Store) Now() time.Time { return s.clock().UTC().Truncate(time.Microsecond) }

// secret returns 256 random bits, URL-safe base64 encoded (43 characters).
func (s *Store) secret() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(s.random, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// randomHex returns n random bytes, hex encoded.
func (s *Store) randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.random, b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Hash is how tokens and API keys are stored: their SHA-256. They are 256
// random bits, so a fast hash is enough; nothing that could be used as the
// token itself is ever stored once its mail is out.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func (s *Store) notifyOutbox() {
	if s.OnOutbox != nil {
		s.OnOutbox()
	}
}
