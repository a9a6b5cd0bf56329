// Package ratelimit limits how often something may happen per key (a
// client address, an email address) with a token bucket kept in memory.
//
// A key may act burst times at once, and once more every window/burst. A
// bucket is kept exactly, in durations: it remembers only the instant its
// allowance will be whole again (each use pushes that instant one interval
// later), so a key with a whole allowance needs no entry at all and is
// forgotten.
//
// Take spends a use if one is left. Allow and Charge split that in two, for
// what counts only once its outcome is known (a landing page's misses):
// Allow decides on the uses already spent, and Charge spends one
// afterwards, whether or not one is left. Uses that overran the allowance,
// because they were allowed at once before any of them was charged, are a
// debt: the key waits one interval longer for each.
//
// Buckets live in memory, at most max of them: beyond that the least
// recently used is forgotten first, which only ever hands a key a whole
// allowance again. Each instance of the service limits on its own; behind
// a load balancer that spreads one client over n instances the limit is up
// to n times looser.
package ratelimit

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// Limiter is a token bucket per key. It is safe for concurrent use.
type Limiter[K comparable] struct {
	burst    time.Duration // the whole allowance, as burst intervals
	interval time.Duration // the time one use takes to come back
	max      int
	now      func() time.Time

	mu      sync.Mutex
	order   *list.List // of *bucket[K], most recently used first
	buckets map[K]*list.Element
}

type bucket[K comparable] struct {
	key   K
	whole time.Time // when the allowance is whole again
}

// New returns a Limiter that allows burst uses at once per key, refilled
// evenly over window, and remembers at most max keys. now is its clock.
func New[K comparable](burst int, window time.Duration, max int, now func() time.Time) *Limiter[K] {
	burst = max1(burst)
	interval := window / time.Duration(burst)
	return &Limiter[K]{
		burst:    interval * time.Duration(burst),
		interval: interval,
		max:      max1(max),
		now:      now,
		order:    list.New(),
		buckets:  make(map[K]*list.Element),
	}
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
	if ok, wait := l.left(b, now); !ok {
		return false, wait
	}
	l.spend(key, b, now)
	return true, 0
}

// Allow reports whether key has a use left, spending none. When none is
// left it reports false and how long until one is.
func (l *Limiter[K]) Allow(key K) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.left(l.bucket(key, now), now)
}

// Charge spends one use of key's allowance, whether or not one is left:
// beyond the allowance the key goes into debt and waits one interval
// longer before Allow or Take lets it act again.
func (l *Limiter[K]) Charge(key K) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.spend(key, l.bucket(key, now), now)
}

// bucket returns key's bucket, marked as the most recently used, or nil
// when key has a whole allowance (a bucket that has refilled is forgotten
// here).
func (l *Limiter[K]) bucket(key K, now time.Time) *bucket[K] {
	e, ok := l.buckets[key]
	if !ok {
		return nil
	}
	b := e.Value.(*bucket[K])
	if !b.whole.After(now) {
		l.order.Remove(e)
		delete(l.buckets, key)
		return nil
	}
	l.order.MoveToFront(e)
	return b
}

// left reports whether bucket b (nil: a whole allowance) has a use left,
// and if not how long until it has.
func (l *Limiter[K]) left(b *bucket[K], now time.Time) (bool, time.Duration) {
	next := now
	if b != nil && b.whole.After(now) {
		next = b.whole
	}
	if over := next.Add(l.interval).Sub(now) - l.burst; over > 0 {
		return false, over
	}
	return true, 0
}

// spend takes one use from key's bucket b (nil: a whole allowance, for
// which a bucket is made), with no regard to what is left.
func (l *Limiter[K]) spend(key K, b *bucket[K], now time.Time) {
	if b == nil {
		l.buckets[key] = l.order.PushFront(&bucket[K]{key: key, whole: now.Add(l.interval)})
		for l.order.Len() > l.max {
			oldest := l.order.Back()
			l.order.Remove(oldest)
			delete(l.buckets, oldest.Value.(*bucket[K]).key)
		}
		return
	}
	if b.whole.Before(now) {
		b.whole = now
	}
	b.whole = b.whole.Add(l.interval)
}

// Size is how many keys are remembered.
func (l *Limiter[K]) Size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
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
