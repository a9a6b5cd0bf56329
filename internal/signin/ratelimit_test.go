package signin_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"memberbind/internal/member"
	"memberbind/internal/signin"
)

// gatedStore passes sign-in link lookups on to the real store only once n
// of them are in flight at once, so that a test knows they overlapped:
// each was let through the miss limiter before any was answered.
type gatedStore struct {
	signin.Store
	n int

	mu   sync.Mutex
	in   int
	open chan struct{}
}

func (g *gatedStore) InspectSignIn(ctx context.Context, token string) (*member.SignInView, error) {
	g.mu.Lock()
	if g.in++; g.in == g.n {
		close(g.open)
	}
	in := g.in
	g.mu.Unlock()
	select {
	case <-g.open:
		return g.Store.InspectSignIn(ctx, token)
	case <-time.After(20 * time.Second):
		return nil, fmt.Errorf("only %d of %d lookups came to the store at once", in, g.n)
	}
}

// TestManyValidSignInLinksFromOneAddress: 50 members behind one address
// open their sign-in links at the same instant, with some misses among
// them: every link is shown, since found links never touch the miss
// allowance, and the misses still count towards a 429.
func TestManyValidSignInLinksFromOneAddress(t *testing.T) {
	t.Parallel()
	f := newFixture(t, signin.Options{})
	org := f.org("Acme", "en")
	const valid, misses = 50, 5
	var ms []*member.Member
	for i := range valid {
		ms = append(ms, f.activate(org, fmt.Sprintf("Member %02d", i), fmt.Sprintf("member%02d@example.com", i)))
	}
	for i := range valid {
		if err := f.st.RequestSignIn(f.ctx, fmt.Sprintf("member%02d@example.com", i), f.policy); err != nil {
			t.Fatal(err)
		}
	}
	tokens := f.signInMails()
	h, err := signin.New(signin.Options{
		Store: &gatedStore{Store: f.st, n: valid + misses, open: make(chan struct{})},
		Now:   f.clock.Now, AnswerFloor: -1, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	open := func(token string) int {
		r := httptest.NewRequest(http.MethodGet, signin.ConfirmPath+"?token="+token, nil)
		r.RemoteAddr = "203.0.113.7:40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	unknown := func(i int) string { return fmt.Sprintf("%s%03d", strings.Repeat("B", 40), i) }

	var wg sync.WaitGroup
	codes := make(chan [2]int, valid+misses)
	for _, m := range ms {
		wg.Go(func() { codes <- [2]int{http.StatusOK, open(tokens[m.ID][0])} })
	}
	for i := range misses {
		wg.Go(func() { codes <- [2]int{http.StatusNotFound, open(unknown(i))} })
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c[0] != c[1] {
			t.Errorf("GET %s = %d, want %d", signin.ConfirmPath, c[1], c[0])
		}
	}
	for i := range signin.DefaultMissBurst - misses {
		if code := open(unknown(100 + i)); code != http.StatusNotFound {
			t.Fatalf("miss %d = %d, want 404", misses+i+1, code)
		}
	}
	if code := open(unknown(200)); code != http.StatusTooManyRequests {
		t.Errorf("a miss past the allowance = %d, want 429", code)
	}
	if code := open(tokens[ms[0].ID][0]); code != http.StatusTooManyRequests {
		t.Errorf("a valid link past the allowance = %d, want 429 (no answer about any link)", code)
	}
}
