package ratelimit

import (
	"net/netip"
	"testing"
	"time"
)

// TestLimiterStringKeys: a limiter of any comparable key (here email
// addresses) counts each key apart, refills evenly and forgets a whole
// allowance.
func TestLimiterStringKeys(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New[string](3, 15*time.Minute, 10, func() time.Time { return now })
	for i := range 3 {
		if ok, _ := l.Take("alice@example.com"); !ok {
			t.Fatalf("use %d refused", i+1)
		}
	}
	if ok, wait := l.Take("alice@example.com"); ok || wait != 5*time.Minute {
		t.Fatalf("4th use: %v, wait %s; want refused for 5m", ok, wait)
	}
	if ok, _ := l.Take("bob@example.com"); !ok {
		t.Fatal("another key refused")
	}
	now = now.Add(5 * time.Minute)
	if ok, _ := l.Take("alice@example.com"); !ok {
		t.Fatal("refused after one use came back")
	}
	now = now.Add(time.Hour)
	if ok, _ := l.Take("bob@example.com"); !ok {
		t.Fatal("refused after an hour")
	}
	if n := l.Size(); n != 2 {
		t.Errorf("%d keys remembered, want 2 (alice's bucket is whole but untouched since)", n)
	}
	// Looking at a whole bucket forgets it.
	if ok, _ := l.Allow("alice@example.com"); !ok {
		t.Fatal("refused after an hour")
	}
	if n := l.Size(); n != 1 {
		t.Errorf("%d keys remembered, want 1 (bob's)", n)
	}
}

// TestAllowCharge: Allow decides on the uses already charged and spends
// nothing; Charge spends one even when none is left, and each use beyond
// the allowance makes the key wait one interval longer.
func TestAllowCharge(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New[string](3, 30*time.Second, 10, func() time.Time { return now }) // one use back every 10s
	for range 10 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatal("Allow spent a use")
		}
	}
	if n := l.Size(); n != 0 {
		t.Errorf("%d keys remembered after Allow alone, want 0", n)
	}
	// Five uses allowed at once, charged once each is known: two too
	// many, which the key pays back in time.
	for range 5 {
		l.Charge("a")
	}
	if ok, wait := l.Allow("a"); ok || wait != 30*time.Second {
		t.Fatalf("after 5 charges of 3: %v, wait %s; want refused for 30s (2 overrun + 1)", ok, wait)
	}
	if ok, wait := l.Take("a"); ok || wait != 30*time.Second {
		t.Fatalf("Take after 5 charges of 3: %v, wait %s; want refused for 30s", ok, wait)
	}
	now = now.Add(29 * time.Second)
	if ok, wait := l.Allow("a"); ok || wait != time.Second {
		t.Fatalf("29s later: %v, wait %s; want refused for 1s", ok, wait)
	}
	now = now.Add(time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("30s later: refused")
	}
	l.Charge("a")
	if ok, wait := l.Allow("a"); ok || wait != 10*time.Second {
		t.Fatalf("then charged once more: %v, wait %s; want refused for 10s", ok, wait)
	}
	// Charge makes the bucket of a new key, within the bound of keys.
	for i := range 20 {
		l.Charge(string(rune('b' + i)))
	}
	if n := l.Size(); n != 10 {
		t.Errorf("%d keys remembered, bound is 10", n)
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		"::ffff:192.0.2.1":     "192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::",
		"fe80::1%eth0":         "fe80::",
	} {
		if got := ClientKey(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("ClientKey(%s) = %s, want %s", in, got, want)
		}
	}
}
