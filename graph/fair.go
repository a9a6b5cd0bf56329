package graph

import (
	"context"
	"slices"
	"sync"
)

// fairBudget is the budget of cost that the operations executing at once
// share (Options.CostInFlight), shared fairly between organizations: one
// organization holds at most its share of it, so that a burst of big pages
// from one organization leaves the rest to the others however long its
// operations run; and operations waiting for room are served an
// organization at a time, in turns, so that an organization with many
// waiting operations does not go before one with a single operation that
// came later.
//
// It is kept by hand because golang.org/x/sync/semaphore, which this
// replaces, serves waiters strictly in arrival order with one count: an
// organization at its share would hold up every waiter behind it.
//
// The share is per organization rather than per API key: an organization
// can create keys, and its share would grow with them.
type fairBudget struct {
	budget, share int64

	mu   sync.Mutex
	used int64
	orgs map[int64]*tenant // organizations holding or waiting for cost
	// turns holds the organizations with operations waiting, in the order
	// they are served: an organization served goes to the back, and one
	// at its share keeps its place while the others are served.
	turns []int64
}

// tenant is what one organization holds of a fairBudget, and its
// operations waiting, in arrival order.
type tenant struct {
	used    int64
	waiting []*costWaiter
}

type costWaiter struct {
	weight int64
	ready  chan struct{} // closed once the cost is granted
}

// newFairBudget returns a budget of which one organization may hold share
// (at most the budget).
func newFairBudget(budget, share int64) *fairBudget {
	return &fairBudget{budget: budget, share: min(max(share, 1), budget), orgs: map[int64]*tenant{}}
}

// weight is what an operation of the given cost holds: at least 1, and at
// most the share, so that an operation dearer than the share runs alone of
// its organization rather than never.
func (b *fairBudget) weight(cost int64) int64 { return min(max(cost, 1), b.share) }

// acquire waits until the operation of org, holding weight, fits, and
// takes it; or returns ctx's error, having taken nothing.
func (b *fairBudget) acquire(ctx context.Context, org, weight int64) error {
	w := &costWaiter{weight: weight, ready: make(chan struct{})}
	b.mu.Lock()
	t := b.orgs[org]
	if t == nil {
		t = &tenant{}
		b.orgs[org] = t
	}
	if len(t.waiting) == 0 {
		b.turns = append(b.turns, org)
	}
	t.waiting = append(t.waiting, w)
	b.grant()
	b.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	select {
	case <-w.ready:
		// Granted as the request ended: give it back.
		b.mu.Unlock()
		b.release(org, weight)
		return ctx.Err()
	default:
	}
	t.waiting = slices.DeleteFunc(t.waiting, func(x *costWaiter) bool { return x == w })
	if len(t.waiting) == 0 {
		b.turns = slices.DeleteFunc(b.turns, func(o int64) bool { return o == org })
	}
	b.forget(org, t)
	b.grant() // the first waiter gone may have held up others
	b.mu.Unlock()
	return ctx.Err()
}

// release gives back what an operation of org held.
func (b *fairBudget) release(org, weight int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.orgs[org]
	t.used -= weight
	b.used -= weight
	b.forget(org, t)
	b.grant()
}

// forget drops an organization that holds and waits for nothing.
func (b *fairBudget) forget(org int64, t *tenant) {
	if t.used == 0 && len(t.waiting) == 0 {
		delete(b.orgs, org)
	}
}

// grant starts the waiting operations that fit, by turns. An organization
// at its share is passed over: it waits for its own operations. One whose
// turn has come when the budget is full stops the round, so that a big
// operation is not overtaken for ever by small ones of other
// organizations. b.mu is held.
func (b *fairBudget) grant() {
	for i := 0; i < len(b.turns); {
		org := b.turns[i]
		t := b.orgs[org]
		w := t.waiting[0]
		if t.used+w.weight > b.share {
			i++
			continue
		}
		if b.used+w.weight > b.budget {
			return
		}
		t.used += w.weight
		b.used += w.weight
		t.waiting = t.waiting[1:]
		close(w.ready)
		b.turns = slices.Delete(b.turns, i, i+1)
		if len(t.waiting) > 0 {
			b.turns = append(b.turns, org)
		}
	}
}

// state is what org holds of the budget and how many of its operations
// wait, for tests.
func (b *fairBudget) state(org int64) (held int64, waiting int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.orgs[org]; t != nil {
		return t.used, len(t.waiting)
	}
	return 0, 0
}
