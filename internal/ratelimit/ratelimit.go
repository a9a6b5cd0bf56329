// Package ratelimit limits how often something may happen per key (a
// client address, an email address) with a token bucket kept in memory.
//
// A key may act burst times at once, and once more every window/burst. A
// bucket is kept exactly, in durations: it remembers only the instant its
// allowance will be whole again (each use pushes that instant one interval
// later), so a key with a whole allowance needs no entry at all and is
// forgotten.
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
	e, ok := l.buckets[key]
	if !ok {
		if l.interval > l.burst {
			return false, l.interval // no allowance at all
		}
		l.buckets[key] = l.order.PushFront(&bucket[K]{key: key, whole: now.Add(l.interval)})
		for l.order.Len() > l.max {
			oldest := l.order.Back()
			l.order.Remove(oldest)
			delete(l.buckets, oldest.Value.(*bucket[K]).key)
		}
		return true, 0
	}
	b := e.Value.(*bucket[K])
	l.order.MoveToFront(e)
	next := b.whole
	if next.Before(now) {
		next = now
	}
	next = next.Add(l.interval)
	if over := next.Sub(now) - l.burst; over > 0 {
		return false, over
	}
	b.whole = next
	return true, 0
}

// Give returns a use taken by Take, for a use that turned out not to
// count (a landing page gives back the miss of a link that was found).
func (l *Limiter[K]) Give(key K) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.buckets[key]
	if !ok {
		return // forgotten meanwhile: its allowance is whole
	}
	b := e.Value.(*bucket[K])
	b.whole = b.whole.Add(-l.interval)
	if !b.whole.After(now) {
		l.order.Remove(e)
		delete(l.buckets, key)
	}
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
