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
type missLimiter struct {
	l *ratelimit.Limiter[netip.Addr]
}

func newMissLimiter(burst int, window time.Duration, max int, now func() time.Time) *missLimiter {
	return &missLimiter{l: ratelimit.New[netip.Addr](burst, window, max, now)}
}

// take spends one miss of the client's allowance. When none is left it
// reports false and how long until one is.
func (m *missLimiter) take(client netip.Addr) (bool, time.Duration) {
	return m.l.Take(ratelimit.ClientKey(client))
}

// give returns a miss taken by take: the lookup found the link.
func (m *missLimiter) give(client netip.Addr) { m.l.Give(ratelimit.ClientKey(client)) }

// size is how many clients are remembered.
func (m *missLimiter) size() int { return m.l.Size() }
