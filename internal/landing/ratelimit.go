package landing

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// missLimiter is a token bucket per client address for failed link
// lookups: a client may miss burst times at once, and one more every
// window/burst. It is kept exactly, in durations: a bucket remembers only
// the instant its allowance will be whole again (each miss pushes that
// instant one interval later), so a client with a whole allowance needs no
// entry at all and is forgotten.
//
// Buckets live in memory, at most max of them: beyond that the least
// recently used is forgotten first, which only ever hands a client a whole
// allowance again. Each instance of the service limits on its own; behind
// a load balancer that spreads one client over n instances the limit is up
// to n times looser, which still keeps guessing 256-bit tokens hopeless.
type missLimiter struct {
	burst    time.Duration // the whole allowance, as burst intervals
	interval time.Duration // the time one miss takes to come back
	max      int
	now      func() time.Time

	mu      sync.Mutex
	order   *list.List // of *bucket, most recently used first
	buckets map[netip.Addr]*list.Element
}

type bucket struct {
	key   netip.Addr
	whole time.Time // when the allowance is whole again
}

func newMissLimiter(burst int, window time.Duration, max int, now func() time.Time) *missLimiter {
	interval := window / time.Duration(burst)
	return &missLimiter{
		burst:    interval * time.Duration(burst),
		interval: interval,
		max:      max,
		now:      now,
		order:    list.New(),
		buckets:  make(map[netip.Addr]*list.Element),
	}
}

// limitKey is what a client is counted under: its IPv4 address, or the
// /64 network of its IPv6 address, since one IPv6 host usually holds a
// whole /64.
func limitKey(a netip.Addr) netip.Addr {
	if a.Is6() && !a.Is4In6() {
		return netip.PrefixFrom(a.WithZone(""), 64).Masked().Addr()
	}
	return a.Unmap()
}

// take spends one miss of the client's allowance. When none is left it
// reports false and how long until one is.
func (l *missLimiter) take(client netip.Addr) (bool, time.Duration) {
	key := limitKey(client)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.buckets[key]
	if !ok {
		if l.interval > l.burst {
			return false, l.interval // no allowance at all
		}
		l.buckets[key] = l.order.PushFront(&bucket{key: key, whole: now.Add(l.interval)})
		for l.order.Len() > l.max {
			oldest := l.order.Back()
			l.order.Remove(oldest)
			delete(l.buckets, oldest.Value.(*bucket).key)
		}
		return true, 0
	}
	b := e.Value.(*bucket)
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

// give returns a miss taken by take: the lookup found the link.
func (l *missLimiter) give(client netip.Addr) {
	key := limitKey(client)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.buckets[key]
	if !ok {
		return // forgotten meanwhile: its allowance is whole
	}
	b := e.Value.(*bucket)
	b.whole = b.whole.Add(-l.interval)
	if !b.whole.After(now) {
		l.order.Remove(e)
		delete(l.buckets, key)
	}
}

// size is how many clients are remembered.
func (l *missLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}
