package graph

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLimitHoldsTheCap sends more requests than the cap at once: no more
// than the cap are ever inside, every request is served in the end, and a
// request whose client leaves while it waits never gets in.
func TestLimitHoldsTheCap(t *testing.T) {
	t.Parallel()
	const capacity, requests = 3, 12
	var inside, most, served atomic.Int32
	release := make(chan struct{})
	h := limit(capacity, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inside.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		inside.Add(-1)
		served.Add(1)
	}))

	var wg sync.WaitGroup
	for range requests {
		wg.Go(func() {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/graphql", nil))
		})
	}
	// Wait until the cap is reached, then check that nobody else got in.
	deadline := time.Now().Add(5 * time.Second)
	for inside.Load() < capacity && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if got := inside.Load(); got != capacity {
		t.Fatalf("%d requests inside, want the cap of %d", got, capacity)
	}

	// A client that gives up while waiting is dropped without entering.
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan struct{})
	go func() {
		defer close(gaveUp)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/graphql", nil).WithContext(ctx))
	}()
	cancel()
	select {
	case <-gaveUp:
	case <-time.After(5 * time.Second):
		t.Fatal("a request whose client left is still waiting for a slot")
	}

	close(release)
	wg.Wait()
	if got := served.Load(); got != requests {
		t.Errorf("%d requests served, want %d", got, requests)
	}
	if got := most.Load(); got != capacity {
		t.Errorf("at most %d requests were inside at once, want %d", got, capacity)
	}
}
