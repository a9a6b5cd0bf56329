package graph

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// acquireAsync starts acquiring weight for org and returns a channel that
// yields acquire's error once it returns.
func acquireAsync(ctx context.Context, b *fairBudget, org, weight int64) <-chan error {
	done := make(chan error, 1)
	go func() { done <- b.acquire(ctx, org, weight) }()
	return done
}

// waitState polls until org holds held and has waiting operations queued.
func waitState(t *testing.T, b *fairBudget, org, held int64, waiting int) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, fmt.Sprintf("organization %d holding %d with %d waiting", org, held, waiting), func() error {
		if h, w := b.state(org); h != held || w != waiting {
			return fmt.Errorf("holds %d with %d waiting", h, w)
		}
		return nil
	})
}

// TestFairBudget: one organization holds at most its share, and the rest
// of the budget serves the others while its operations wait; waiting
// organizations are served by turns; an operation dearer than the share
// runs alone of its organization; a waiter that leaves takes nothing and
// holds nobody up. Nothing here depends on timing: every step waits for
// the state the previous one must reach.
func TestFairBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const orgA, orgB, orgC = 1, 2, 3

	t.Run("share", func(t *testing.T) {
		b := newFairBudget(100, 50)
		if err := b.acquire(ctx, orgA, 50); err != nil {
			t.Fatal(err)
		}
		second := acquireAsync(ctx, b, orgA, 50)
		waitState(t, b, orgA, 50, 1)
		// A is at its share; B's small operation runs at once, and so
		// does a second one while the first still runs.
		for range 2 {
			select {
			case err := <-acquireAsync(ctx, b, orgB, 10):
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("organization B's small operation waits behind A's, which is at its share")
			}
		}
		b.release(orgA, 50)
		if err := <-second; err != nil {
			t.Fatal(err)
		}
		waitState(t, b, orgA, 50, 0)
		if w := b.weight(500); w != 50 {
			t.Errorf("an operation costing 500 holds %d, want the share of 50", w)
		}
	})

	t.Run("turns", func(t *testing.T) {
		b := newFairBudget(20, 20)
		if err := b.acquire(ctx, orgA, 20); err != nil {
			t.Fatal(err)
		}
		var dones []<-chan error
		for i := range 3 {
			dones = append(dones, acquireAsync(ctx, b, orgA, 10))
			waitState(t, b, orgA, 20, i+1)
		}
		dones = append(dones, acquireAsync(ctx, b, orgB, 10))
		waitState(t, b, orgB, 0, 1)
		// A's first waiter goes first, then B's, which came after all of
		// A's: B does not wait for A's backlog.
		b.release(orgA, 20)
		waitState(t, b, orgA, 10, 2)
		waitState(t, b, orgB, 10, 0)
		b.release(orgA, 10)
		b.release(orgB, 10)
		waitState(t, b, orgA, 20, 0)
		b.release(orgA, 10)
		b.release(orgA, 10)
		for _, d := range dones {
			if err := <-d; err != nil {
				t.Fatal(err)
			}
		}
		waitState(t, b, orgA, 0, 0)
	})

	t.Run("a waiter that leaves", func(t *testing.T) {
		b := newFairBudget(100, 100)
		if err := b.acquire(ctx, orgA, 100); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		leaving := acquireAsync(cctx, b, orgB, 60)
		waitState(t, b, orgB, 0, 1)
		staying := acquireAsync(ctx, b, orgC, 40)
		waitState(t, b, orgC, 0, 1)
		cancel()
		if err := <-leaving; err == nil {
			t.Fatal("a waiter whose request ended got the budget")
		}
		waitState(t, b, orgB, 0, 0)
		b.release(orgA, 100)
		if err := <-staying; err != nil {
			t.Fatal(err)
		}
		waitState(t, b, orgC, 40, 0)
	})
}

// holdingService holds every members page of one organization until
// released, as a slow read would.
type holdingService struct {
	*mysql.Store
	org     int64
	release chan struct{}
}

func (s *holdingService) Members(ctx context.Context, orgID int64, f member.Filter, q member.PageQuery) (*member.MemberPage, error) {
	if orgID == s.org {
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.Store.Members(ctx, orgID, f, q)
}

// TestOneOrganizationsBurstLeavesRoomForOthers: organization A sends more
// big pages than the whole budget holds, and they are held mid-read; B's
// small request still runs and answers while all of A's are held. With the
// budget shared first come, first served (CostPerOrganization equal to
// CostInFlight), A's pages take the whole budget and B's request waits
// until they end.
func TestOneOrganizationsBurstLeavesRoomForOthers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t, mysql.Options{})
	orgA, keyA, err := st.CreateOrganization(ctx, "A", "en")
	if err != nil {
		t.Fatal(err)
	}
	_, keyB, err := st.CreateOrganization(ctx, "B", "en")
	if err != nil {
		t.Fatal(err)
	}
	svc := &holdingService{Store: st, org: orgA.ID, release: make(chan struct{})}
	const pageCost = 301 // members(first: 100) { edges { node { id } } }: 1 + 100 × 3
	h, budget := newHandler(Options{Service: svc, Logger: slog.New(slog.DiscardHandler), CostInFlight: 2 * pageCost})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := &http.Client{Timeout: 30 * time.Second}
	post := func(key, query string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(fmt.Sprintf(`{"query": %q}`, query)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	const burst = 3
	var wg sync.WaitGroup
	for range burst {
		wg.Go(func() {
			if status, body := post(keyA, `{ members(first: 100) { edges { node { id } } } }`); status != http.StatusOK || strings.Contains(body, "errors") {
				t.Errorf("A's page: %d %s", status, body)
			}
		})
	}
	// Every page of A's burst holds cost or waits for it.
	testenv.Eventually(t, 10*time.Second, "A's burst reaching the budget", func() error {
		held, waiting := budget.state(orgA.ID)
		if held+int64(waiting)*pageCost != burst*pageCost {
			return fmt.Errorf("A holds %d with %d waiting; a page costs %d", held, waiting, pageCost)
		}
		return nil
	})

	status, body := post(keyB, `{ members(first: 5) { edges { node { id } } } organization { name } }`)
	if status != http.StatusOK || !strings.Contains(body, `"B"`) {
		t.Errorf("B's small request while A's burst is held: %d %s", status, body)
	}
	if held, waiting := budget.state(orgA.ID); held != pageCost || waiting != burst-1 {
		t.Errorf("A held %d with %d waiting, want one page (%d) and the rest waiting", held, waiting, pageCost)
	}
	close(svc.release)
	wg.Wait()
}
