package member

import (
	"context"
	"errors"
	"time"
)

// Idempotency keys (DESIGN.md §8): a mutation sent with an
// Idempotency-Key header is executed once per (API key, idempotency key)
// for IdempotencyTTL; a retry gets the first answer again.
const (
	// IdempotencyTTL is how long a key is remembered after its first use.
	IdempotencyTTL = 24 * time.Hour
	// MaxIdempotencyKeyLen is the longest idempotency key taken, in
	// characters.
	MaxIdempotencyKeyLen = 255
	// IdempotencyLease is how long the first request holds its key while it
	// executes. Past it, the key of a request whose instance died before
	// recording the answer may be taken over by a retry; a request that
	// ends without an answer to keep gives its key back at once.
	IdempotencyLease = time.Minute
)

// IdempotentRequest is a request made under an idempotency key.
type IdempotentRequest struct {
	OrgID    int64
	APIKeyID int64
	Key      string
	// Fingerprint identifies the request itself (a hash of what it asks),
	// to tell a retry from another request reusing the key.
	Fingerprint []byte
}

// IdempotentResponse is the answer kept for a key, replayed to retries.
type IdempotentResponse struct {
	Status      int
	ContentType string
	Body        []byte
}

// The refusals of Idempotency.ClaimIdempotent.
var (
	// ErrIdempotencyKeyReused: the key was first used for another request.
	ErrIdempotencyKeyReused = errors.New("the idempotency key was used for another request")
	// ErrIdempotencyInProgress: the first request with the key is still
	// executing.
	ErrIdempotencyInProgress = errors.New("a request with the idempotency key is still executing")
)

// Idempotency remembers the answers of requests made under idempotency
// keys, in the database, so that it holds across instances.
type Idempotency interface {
	// ClaimIdempotent returns (nil, nil) when the caller holds the key and
	// is to execute the request, the kept answer when the request was
	// already answered, or ErrIdempotencyKeyReused or
	// ErrIdempotencyInProgress.
	ClaimIdempotent(ctx context.Context, r IdempotentRequest) (*IdempotentResponse, error)
	// FinishIdempotent keeps the answer of a claimed request for retries.
	FinishIdempotent(ctx context.Context, r IdempotentRequest, resp IdempotentResponse) error
	// ReleaseIdempotent forgets a claimed request that has no answer worth
	// keeping (it failed and changed nothing), so that a retry executes.
	ReleaseIdempotent(ctx context.Context, r IdempotentRequest) error
}
