// Package ratelimit limits how often something may happen per key (a
// client address, a client and an email address): a token bucket per key,
// golang.org/x/time/rate's Limiter, kept in a bounded LRU in memory.
//
// A key may act burst times at once, and once more every window/burst.
// A key whose allowance is whole again is forgotten when next looked at,
// so the keys remembered are the ones recently short of their allowance.
//
// What this package adds to x/time/rate is what a limiter per key needs:
// the bound on memory, the clock (every call passes the injected now to
// the Limiter's ...At/...N methods, never the wall clock, so tests stand
// wherever they like), and the Allow/Charge split: Take spends a use if
// one is left; Allow and Charge split that in two, for what counts only
// once its outcome is known (a landing page's misses): Allow decides on
// the uses already spent, and Charge spends one afterwards, whether or not
// one is left. Uses that overran the allowance, because they were allowed
// at once before any of them was charged, are a debt (the Limiter's
// tokens go below zero): the key waits one interval longer for each.
//
// Buckets live in memory, at most max of them: beyond that the least
// recently used is forgotten first, which only ever hands a key a whole
// allowance again. Each instance of the service limits on its own; behind
// a load balancer that spreads one client over n instances the limit is up
// to n times looser.
package ratelimit

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// Limiter is a token bucket per key. It is safe for concurrent use.
type Limiter[K comparable] struct {
	every rate.Limit
	burst int
	now   func() time.Time

	mu sync.Mutex // guards keys, whose Get reorders it
	// keys holds the buckets of keys short of a whole allowance, most
	// recently used first.
	keys *simplelru.LRU[K, *rate.Limiter]
}

// New returns a Limiter that allows burst uses at once per key, refilled
// evenly over window, and remembers at most max keys. now is its clock.
func New[K comparable](burst int, window time.Duration, max int, now func() time.Time) *Limiter[K] {
	burst = max1(burst)
	keys, err := simplelru.NewLRU[K, *rate.Limiter](max1(max), nil)
	if err != nil {
		panic(err) // only for a size below 1, which max1 rules out
	}
	return &Limiter[K]{every: rate.Every(window / time.Duration(burst)), burst: burst, now: now, keys: keys}
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// Take spends one use of key's allowance. When none is left it reports
// false and how long until one is.
func (l *Limiter[K]) Take(key K) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if b == nil {
		b = l.add(key)
	}
	if b.AllowN(now, 1) {
		return true, 0
	}
	return false, l.wait(b, now)
}

// Allow reports whether key has a use left, spending none. When none is
// left it reports false and how long until one is.
func (l *Limiter[K]) Allow(key K) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if b == nil || b.TokensAt(now) >= 1 {
		return true, 0
	}
	return false, l.wait(b, now)
}

// Charge spends one use of key's allowance, whether or not one is left:
// beyond the allowance the key goes into debt and waits one interval
// longer before Allow or Take lets it act again.
func (l *Limiter[K]) Charge(key K) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if b == nil {
		b = l.add(key)
	}
	// A reservation of one use always succeeds (burst is at least 1),
	// taking the tokens below zero when none is left: the debt.
	b.ReserveN(now, 1)
}

// bucket returns key's bucket, marked as the most recently used, or nil
// when key has a whole allowance (a bucket that has refilled is forgotten
// here).
func (l *Limiter[K]) bucket(key K, now time.Time) *rate.Limiter {
	b, ok := l.keys.Get(key)
	if !ok {
		return nil
	}
	if b.TokensAt(now) >= float64(l.burst) {
		l.keys.Remove(key)
		return nil
	}
	return b
}

// add makes key a bucket with a whole allowance, forgetting the least
// recently used key when the limiter holds max already.
func (l *Limiter[K]) add(key K) *rate.Limiter {
	b := rate.NewLimiter(l.every, l.burst)
	l.keys.Add(key, b)
	return b
}

// wait is how long until bucket b has a use left at now. The Limiter
// counts in float64 tokens, so the time is rounded to the millisecond:
// a tenth of a nanosecond of rounding error would otherwise show as
// 4m59.999999999s where a client is told 5 minutes.
func (l *Limiter[K]) wait(b *rate.Limiter, now time.Time) time.Duration {
	short := 1 - b.TokensAt(now)
	if short <= 0 {
		return 0
	}
	secs := short / float64(l.every)
	if math.IsInf(secs, 0) || math.IsNaN(secs) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(secs * float64(time.Second)).Round(time.Millisecond)
}

// Size is how many keys are remembered.
func (l *Limiter[K]) Size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keys.Len()
}

// ClientKey is what a client address is counted under: its IPv4 address,
// or the /64 network of its IPv6 address, since one IPv6 host usually
// holds a whole /64.
func ClientKey(a netip.Addr) netip.Addr {
	if a.Is6() && !a.Is4In6() {
		return netip.PrefixFrom(a.WithZone(""), 64).Masked().Addr()
	}
	return a.Unmap()
}
