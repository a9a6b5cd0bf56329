package webpage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"time"
)

// MissLimiter limits the misses of a client address: lookups of a link
// token that found nothing. Allow decides on the misses already charged
// and spends nothing; Charge counts one, even beyond the allowance.
// *ratelimit.Limiter[netip.Addr] is one.
type MissLimiter interface {
	Allow(client netip.Addr) (bool, time.Duration)
	Charge(client netip.Addr)
}

// ErrTooManyMisses is LookUp's refusal of a client that missed too often.
var ErrTooManyMisses = errors.New("too many unknown links from this client")

// LookUp looks a link token up for client under the miss limiter m: look
// asks the store, and missed says whether what it found is no link.
//
// The refusal is decided before looking, on the client's earlier misses
// alone: a client that spent its allowance gets no answer about any token,
// so the refusal (ErrTooManyMisses, with how long to wait) tells nothing
// about this one. A miss is charged only once the lookup found nothing, so
// that links that are found never count, however many are in flight from
// one address (a company behind one NAT). Guesses in flight at once can
// overrun the allowance together; each is still charged, and the client
// then waits for every one of them to come back. A failed look charges
// nothing.
func LookUp[V any](m MissLimiter, client netip.Addr, look func() (V, error), missed func(V) bool) (V, time.Duration, error) {
	var zero V
	if ok, wait := m.Allow(client); !ok {
		return zero, wait, ErrTooManyMisses
	}
	v, err := look()
	if err != nil {
		return zero, 0, err
	}
	if missed(v) {
		m.Charge(client)
	}
	return v, 0, nil
}

// Ref names a token, a session id or an address in logs without giving it
// away: the first 8 hex digits of its SHA-256, enough to match log lines,
// far too few to use. "-" stands for none.
func Ref(s string) string {
	if s == "" {
		return "-"
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}
