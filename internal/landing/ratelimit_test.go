package landing_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"memberbind/internal/landing"
	"memberbind/internal/member"
)

// gate passes lookups on to the real store only once n of them are in
// flight at once, so that a test knows they overlapped: each was let
// through the miss limiter before any of them was answered.
type gate struct {
	landing.Activator
	n int

	mu   sync.Mutex
	in   int
	open chan struct{}
}

func newGate(a landing.Activator, n int) *gate {
	return &gate{Activator: a, n: n, open: make(chan struct{})}
}

func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	if g.in++; g.in == g.n {
		close(g.open)
	}
	in := g.in
	g.mu.Unlock()
	select {
	case <-g.open:
		return nil
	case <-time.After(20 * time.Second):
		return fmt.Errorf("only %d of %d lookups came to the store at once", in, g.n)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) InspectLink(ctx context.Context, token string) (*member.LinkView, error) {
	if err := g.wait(ctx); err != nil {
		return nil, err
	}
	return g.Activator.InspectLink(ctx, token)
}

func (g *gate) Activate(ctx context.Context, token string) (*member.LinkView, error) {
	if err := g.wait(ctx); err != nil {
		return nil, err
	}
	return g.Activator.Activate(ctx, token)
}

// unknownToken is the i-th of many well-formed tokens no store knows.
func unknownToken(i int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "unknown %d", i))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestManyValidLinksFromOneAddress: 50 members behind one address (a
// company's NAT) confirm their links at the same instant, with some
// misses among them: every link activates, since found links never touch
// the miss allowance, and the misses still count towards a 429.
func TestManyValidLinksFromOneAddress(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	org := f.org("Acme Corp", "en")
	const valid, misses = 50, 10
	var ms []*member.Member
	for i := range valid + 1 {
		ms = append(ms, f.bind(org, fmt.Sprintf("Member %02d", i), fmt.Sprintf("member%02d@example.com", i)))
	}
	tokens := f.deliver()
	late := ms[valid] // confirmed after the allowance is spent
	ms = ms[:valid]
	g := newGate(f.st, valid+misses)
	h := landing.New(landing.Options{Activator: g, Now: f.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	from := func(i int) reqOpt { return withRemote(fmt.Sprintf("203.0.113.7:%d", 40000+i)) }

	type result struct {
		miss bool
		res  response
	}
	results := make(chan result, valid+misses)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Go(func() {
			<-start
			results <- result{false, post(h, tokens[m.ID][0], from(i))}
		})
	}
	for i := range misses {
		wg.Go(func() {
			<-start
			results <- result{true, post(h, unknownToken(i), from(valid+i))}
		})
	}
	close(start)
	wg.Wait()
	close(results)
	for r := range results {
		switch {
		case r.miss && r.res.Status != http.StatusNotFound:
			t.Errorf("unknown link among the valid ones = %d, want 404:\n%.300s", r.res.Status, r.res.Body)
		case !r.miss && (r.res.Status != http.StatusOK || !strings.Contains(r.res.Body, "Your login email is activated")):
			t.Errorf("valid link = %d, want 200 and the success page:\n%.300s", r.res.Status, r.res.Body)
		}
	}
	for _, m := range ms {
		if got := f.member(m); got.Status() != member.StatusActivated {
			t.Errorf("%s is %s, want ACTIVATED", m.Name, got.Status())
		}
	}

	// The 10 misses counted: 10 more are allowed, then none, and no
	// answer about any link, good or not.
	for i := range landing.DefaultMissBurst - misses {
		if res := get(h, unknownToken(100+i), from(0)); res.Status != http.StatusNotFound {
			t.Fatalf("miss %d = %d, want 404", misses+i+1, res.Status)
		}
	}
	for _, res := range []response{
		get(h, unknownToken(200), from(1)),
		post(h, unknownToken(201), from(2)),
		get(h, "malformed", from(3)),
		post(h, tokens[late.ID][0], from(4)),
	} {
		if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "3" {
			t.Errorf("after %d misses = %d (Retry-After %q), want 429 for 3s", landing.DefaultMissBurst, res.Status, res.Header.Get("Retry-After"))
		}
	}
	if got := f.member(late); got.Status() != member.StatusPending {
		t.Errorf("a refused confirmation made %s %s", late.Name, got.Status())
	}
	if res := post(h, tokens[late.ID][0], withRemote("192.0.2.80:1")); res.Status != http.StatusOK {
		t.Errorf("the same link from another address = %d, want 200", res.Status)
	}
}

// TestConcurrentMissesPayBack: misses in flight at once are all looked up
// (the limiter decides on misses already made), overrunning the allowance
// together, and the client then waits for each of them to come back.
func TestConcurrentMissesPayBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const n = 2 * landing.DefaultMissBurst
	h := landing.New(landing.Options{Activator: newGate(f.st, n), Now: f.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	const attacker = "198.51.100.7:1"
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses <- get(h, unknownToken(i), withRemote(attacker)).Status })
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusNotFound {
			t.Errorf("a miss in flight = %d, want 404", s)
		}
	}
	// 40 misses of an allowance of 20 at 3s each: 21 must come back.
	res := get(h, unknownToken(n), withRemote(attacker))
	if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "63" {
		t.Fatalf("then = %d (Retry-After %q), want 429 for 63s", res.Status, res.Header.Get("Retry-After"))
	}
	f.clock.Add(60 * time.Second)
	if res := get(h, unknownToken(n), withRemote(attacker)); res.Status != http.StatusTooManyRequests {
		t.Errorf("60s later = %d, want 429", res.Status)
	}
	f.clock.Add(3 * time.Second)
	if res := get(h, unknownToken(n), withRemote(attacker)); res.Status != http.StatusNotFound {
		t.Errorf("63s later = %d, want 404", res.Status)
	}
}
