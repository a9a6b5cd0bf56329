package graph_test

import (
	"fmt"
	"sync"
	"testing"

	"memberbind/internal/member"
	"memberbind/internal/testenv"
)

// race runs n calls of f at once, each released by one barrier, and
// returns the user error code each got.
func race(n int, f func(i int) payload) []string {
	codes := make([]string, n)
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer done.Done()
			ready.Done()
			<-gate
			codes[i] = f(i).code()
		}()
	}
	ready.Wait()
	close(gate)
	done.Wait()
	return codes
}

func tally(codes []string) map[string]int {
	m := map[string]int{}
	for _, c := range codes {
		m[c]++
	}
	return m
}

// TestConcurrentBindOfOneEmail: many members ask for one email at the same
// instant; exactly one wins (R3).
func TestConcurrentBindOfOneEmail(t *testing.T) {
	t.Parallel()
	testenv.RequireRowLocks(t)
	a := newAPI(t, member.Policy{})
	const n = 24
	ids := make([]string, n)
	for i := range ids {
		ids[i] = a.create(fmt.Sprintf("member %d", i))
	}
	codes := race(n, func(i int) payload {
		// Spell the email differently each time: uniqueness ignores case.
		email := "Shared@Example.com"
		if i%2 == 1 {
			email = "shared@example.COM"
		}
		return a.bind(ids[i], email)
	})
	got := tally(codes)
	if got[""] != 1 || got["EMAIL_ALREADY_USED"] != n-1 {
		t.Fatalf("outcomes = %v, want 1 success and %d EMAIL_ALREADY_USED", got, n-1)
	}
	if c := a.count("bindings", "email_key = 'shared@example.com'"); c != 1 {
		t.Errorf("bindings holding the email = %d", c)
	}
	if c := a.count("outbox", "1=1"); c != 1 {
		t.Errorf("mails queued = %d, want 1: no mail for a change that rolled back", c)
	}
}

// TestConcurrentModifications: many modifications of one binding at once;
// exactly the allowed number are accepted (R5).
func TestConcurrentModifications(t *testing.T) {
	t.Parallel()
	testenv.RequireRowLocks(t)
	a := newAPI(t, member.Policy{})
	alice := a.create("Alice")
	wantCode(t, a.bind(alice, "alice@example.com"), "")
	const n = 16
	codes := race(n, func(i int) payload {
		return a.update(alice, fmt.Sprintf("alice%d@example.com", i))
	})
	got := tally(codes)
	if got[""] != 3 || got["MODIFICATION_LIMIT_REACHED"] != n-3 {
		t.Fatalf("outcomes = %v, want 3 accepted and %d MODIFICATION_LIMIT_REACHED", got, n-3)
	}
	m := a.member(alice)
	si := m["securityInfo"].(map[string]any)
	if si["modificationsRemaining"] != float64(0) {
		t.Errorf("modificationsRemaining = %v", si["modificationsRemaining"])
	}
	// Exactly one email is claimed (the current one), one link lives, and
	// it is the one whose mail is queued.
	if c := a.count("email_claims", "1=1"); c != 1 {
		t.Errorf("claims = %d, want 1", c)
	}
	if c := a.count("email_claims", "email_key = ?", si["email"]); c != 1 {
		t.Errorf("current email %v is not the claimed one", si["email"])
	}
	if c := a.count("activation_links", "killed_at IS NULL"); c != 1 {
		t.Errorf("live links = %d, want 1", c)
	}
	if c := a.count("outbox", "status = 'QUEUED'"); c != 1 {
		t.Errorf("queued mails = %d, want 1 (the superseded ones cancelled)", c)
	}
	if c := a.count("member_events", "kind = 'MODIFIED'"); c != 3 {
		t.Errorf("MODIFIED events = %d", c)
	}
}

// TestConcurrentBindAndModify: a bind and a modification of one member at
// once. Whatever the order, the member ends with one binding and its
// counts agree.
func TestConcurrentBindAndModify(t *testing.T) {
	t.Parallel()
	testenv.RequireRowLocks(t)
	a := newAPI(t, member.Policy{})
	for round := 0; round < 8; round++ {
		id := a.create(fmt.Sprintf("member %d", round))
		codes := race(2, func(i int) payload {
			if i == 0 {
				return a.bind(id, fmt.Sprintf("bind%d@example.com", round))
			}
			return a.update(id, fmt.Sprintf("modify%d@example.com", round))
		})
		if codes[0] != "" {
			t.Fatalf("round %d: bind got %q", round, codes[0])
		}
		if codes[1] != "" && codes[1] != "NOT_PENDING" {
			t.Fatalf("round %d: modify got %q", round, codes[1])
		}
		m := a.member(id)
		si := m["securityInfo"].(map[string]any)
		wantEmail, wantLeft := fmt.Sprintf("bind%d@example.com", round), float64(3)
		if codes[1] == "" {
			wantEmail, wantLeft = fmt.Sprintf("modify%d@example.com", round), 2
		}
		if si["email"] != wantEmail || si["modificationsRemaining"] != wantLeft {
			t.Errorf("round %d (%v): security info %v", round, codes, si)
		}
	}
	if c := a.count("bindings", "1=1"); c != 8 {
		t.Errorf("bindings = %d, want 8", c)
	}
}

// TestConcurrentResends: resends race for the hourly cap; exactly the
// allowed number go out.
func TestConcurrentResends(t *testing.T) {
	t.Parallel()
	testenv.RequireRowLocks(t)
	a := newAPI(t, member.Policy{})
	alice := a.create("Alice")
	wantCode(t, a.bind(alice, "alice@example.com"), "")
	codes := race(12, func(int) payload { return a.resend(alice) })
	got := tally(codes)
	if got[""] != 4 || got["RESEND_LIMIT_REACHED"] != 8 {
		t.Fatalf("outcomes = %v, want 4 resends (5 sends with the bind's) and 8 refused", got)
	}
	if c := a.count("outbox", "1=1"); c != 5 {
		t.Errorf("mails = %d, want 5", c)
	}
}
