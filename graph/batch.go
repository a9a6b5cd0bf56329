package graph

import (
	"context"
	"sync"
	"time"

	"memberbind/internal/member"
)

// shownTogether batches the reads that follow the members shown together,
// a page of them or one alone: the link sends of their bindings
// (SecurityInfo's resend fields, R6) and a page of their events. The first
// field of any of them that needs a read makes it for all of them, in one
// query, and the same field of the others finds it done. Siblings in a
// list share their selection, so when one asks, all do: a page costs the
// same number of queries whatever its size, and a field nobody asked for
// costs none. Members shown elsewhere in the operation (a member query
// beside a page) do not ride along, so a cheap field cannot make a big
// read.
//
// It is not github.com/vikstrous/dataloadgen, whose batches are the keys
// that arrive within a wait (16ms by default) or fill a capacity: each
// page would wait out the timer, a page whose fields arrive across two
// windows would cost two queries, and every field that loads would need a
// resolver, a goroutine of its own, to block in. Here the batch is known
// before the first field asks, so nothing waits for a timer, and the
// resend fields stay methods that gqlgen resolves inline. (gqlgen's own
// batch resolvers batch a list's items, which a Relay connection's nodes,
// one per edge, are not.)
type shownTogether struct {
	svc     member.Service
	members map[int64]*member.Member
	sends   *batch[[]time.Time]

	mu     sync.Mutex
	events map[member.PageQuery]*batch[*member.EventPage] // one batch per page asked for
}

func newShownTogether(svc member.Service, members []*member.Member) *shownTogether {
	g := &shownTogether{
		svc:     svc,
		members: make(map[int64]*member.Member, len(members)),
		events:  map[member.PageQuery]*batch[*member.EventPage]{},
	}
	// The members shown together are the caller's organization's (R13).
	var orgID int64
	for _, m := range members {
		if m != nil {
			orgID = m.OrgID
			break
		}
	}
	g.sends = newBatch(func(ctx context.Context, ids []int64) (map[int64][]time.Time, error) {
		return svc.Sends(ctx, orgID, ids)
	})
	for _, m := range members {
		if m == nil {
			continue
		}
		g.members[m.ID] = m
		if m.Binding != nil {
			g.sends.add(m.Binding.ID)
		}
	}
	return g
}

// linkSends returns the creation times of a binding's links.
func (g *shownTogether) linkSends(ctx context.Context, bindingID int64) ([]time.Time, error) {
	return g.sends.get(ctx, bindingID)
}

// eventPage returns page q of the events of the member with id memberID.
func (g *shownTogether) eventPage(ctx context.Context, memberID int64, q member.PageQuery) (*member.EventPage, error) {
	g.mu.Lock()
	b, ok := g.events[q]
	if !ok {
		b = newBatch(func(ctx context.Context, ids []int64) (map[int64]*member.EventPage, error) {
			members := make([]*member.Member, len(ids))
			for i, id := range ids {
				members[i] = g.members[id]
			}
			return g.svc.Events(ctx, members, q)
		})
		for id := range g.members {
			b.add(id)
		}
		g.events[q] = b
	}
	g.mu.Unlock()
	return b.get(ctx, memberID)
}

// batch loads values by int64 key, every key added since the last load at
// once, each key at most once.
type batch[V any] struct {
	load func(ctx context.Context, keys []int64) (map[int64]V, error)

	mu      sync.Mutex
	pending map[int64]struct{}
	loads   map[int64]*batchLoad[V] // the load of each key, done or in flight
}

// batchLoad is one call of a batch's load.
type batchLoad[V any] struct {
	done   chan struct{}
	values map[int64]V
	err    error
}

func newBatch[V any](load func(ctx context.Context, keys []int64) (map[int64]V, error)) *batch[V] {
	return &batch[V]{load: load, pending: map[int64]struct{}{}, loads: map[int64]*batchLoad[V]{}}
}

// add makes key part of the next load, unless it is loaded already.
func (b *batch[V]) add(key int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.loads[key]; !ok {
		b.pending[key] = struct{}{}
	}
}

// get returns the value of key: from the load it was part of, or from a
// load of it and every key pending, which get makes then, in its caller's
// goroutine.
func (b *batch[V]) get(ctx context.Context, key int64) (V, error) {
	b.mu.Lock()
	l, ok := b.loads[key]
	if !ok {
		b.pending[key] = struct{}{}
		keys := make([]int64, 0, len(b.pending))
		l = &batchLoad[V]{done: make(chan struct{})}
		for k := range b.pending {
			keys = append(keys, k)
			b.loads[k] = l
		}
		clear(b.pending)
		b.mu.Unlock()
		l.values, l.err = b.load(ctx, keys)
		close(l.done)
	} else {
		b.mu.Unlock()
		select {
		case <-l.done:
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
	}
	return l.values[key], l.err
}
