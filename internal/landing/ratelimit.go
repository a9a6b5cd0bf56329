package landing

import (
	"net/netip"
	"time"

	"memberbind/internal/ratelimit"
)

// missLimiter is a token bucket per client address for failed link
// lookups: a client may miss burst times at once, and one more every
// window/burst. An IPv6 client is counted by its /64 (ratelimit.ClientKey).
// See package ratelimit for how it is kept.
//
// Only misses count, and only once they are known: Allow decides on the
// misses already charged, and Charge counts one after a lookup found
// nothing (webpage.LookUp). Found links never touch the allowance,
// however many of them are in flight at once.
type missLimiter struct {
	l *ratelimit.Limiter[netip.Addr]
}

func newMissLimiter(burst int, window time.Duration, max int, now func() time.Time) *missLimiter {
	return &missLimiter{l: ratelimit.New[netip.Addr](burst, window, max, now)}
}

// Allow reports whether the client's earlier misses left it any
// allowance, spending none. When they did not it reports false and how
// long until a miss comes back.
func (m *missLimiter) Allow(client netip.Addr) (bool, time.Duration) {
	return m.l.Allow(ratelimit.ClientKey(client))
}

// Charge counts a miss against the client, even beyond its allowance
// (misses allowed at once overrun it together); each miss beyond makes
// the client wait one more refill interval.
func (m *missLimiter) Charge(client netip.Addr) { m.l.Charge(ratelimit.ClientKey(client)) }

// size is how many clients are remembered.
func (m *missLimiter) size() int { return m.l.Size() }
