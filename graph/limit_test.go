package graph

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

type costKey struct{}

// TestLimitCostHoldsTheBudget runs operations of mixed costs at once: the
// costs executing never sum to more than the budget, an operation dearer
// than the whole budget runs alone, every operation runs in the end, and
// one whose client leaves while it waits never runs.
func TestLimitCostHoldsTheBudget(t *testing.T) {
	t.Parallel()
	const budget = 100
	// One organization, whose share is the whole budget.
	limit := limitCost(newFairBudget(budget, budget), func(ctx context.Context) int64 { return ctx.Value(costKey{}).(int64) },
		func(context.Context) int64 { return 0 })
	var (
		mu            sync.Mutex
		running, most int64
		inside, crowd int    // operations executing, and the most at once
		alone         = true // the dear operation ran with nothing beside it
		served        atomic.Int32
	)
	run := func(cost int64) *graphql.Response {
		ctx := context.WithValue(context.Background(), costKey{}, cost)
		return limit(ctx, func(context.Context) *graphql.Response {
			mu.Lock()
			weight := min(cost, budget)
			running += weight
			inside++
			most, crowd = max(most, running), max(crowd, inside)
			if cost > budget && running != budget {
				alone = false
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			running -= weight
			inside--
			mu.Unlock()
			served.Add(1)
			return &graphql.Response{}
		})
	}

	costs := []int64{60, 60, 30, 30, 30, 10, 10, 10, 10, 500, 1, 45, 55}
	var wg sync.WaitGroup
	for _, c := range costs {
		wg.Go(func() { run(c) })
	}
	wg.Wait()
	if got := served.Load(); int(got) != len(costs) {
		t.Errorf("%d operations ran, want %d", got, len(costs))
	}
	if most > budget {
		t.Errorf("operations costing %d ran at once, want at most the budget of %d", most, budget)
	}
	if crowd < 2 {
		t.Errorf("operations ran one at a time, though several fit in the budget at once")
	}
	if !alone {
		t.Errorf("the operation dearer than the budget ran beside others")
	}

	// A client that leaves while its operation waits gets an error and
	// its operation never runs.
	hold, holding := make(chan struct{}), make(chan struct{})
	go limit(context.WithValue(context.Background(), costKey{}, int64(budget)), func(context.Context) *graphql.Response {
		close(holding)
		<-hold
		return &graphql.Response{}
	})
	<-holding // the whole budget is taken
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), costKey{}, int64(1)))
	done := make(chan *graphql.Response)
	go func() {
		done <- limit(ctx, func(context.Context) *graphql.Response {
			t.Error("an operation whose client left ran")
			return &graphql.Response{}
		})
	}()
	cancel()
	select {
	case resp := <-done:
		if resp == nil || len(resp.Errors) == 0 {
			t.Errorf("a request that ended while waiting got %+v, want an error", resp)
		} else if code := resp.Errors[0].Extensions["code"]; code != codeTimeout {
			t.Errorf("a request that ended while waiting got code %v, want %s", code, codeTimeout)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a request whose client left is still waiting")
	}

	// One that runs out of its time while it waits is told so, by code.
	ctx, cancel = context.WithTimeout(context.WithValue(context.Background(), costKey{}, int64(1)), 10*time.Millisecond)
	defer cancel()
	resp := limit(ctx, func(context.Context) *graphql.Response {
		t.Error("an operation out of time ran")
		return &graphql.Response{}
	})
	if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != codeTimeout || resp.Data != nil {
		t.Errorf("a request out of time while waiting got %+v, want one %s error and no data", resp, codeTimeout)
	}
	close(hold)
}
