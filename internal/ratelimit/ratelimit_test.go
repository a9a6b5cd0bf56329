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
	l.Give("alice@example.com")
	now = now.Add(time.Hour)
	if ok, _ := l.Take("bob@example.com"); !ok {
		t.Fatal("refused after an hour")
	}
	l.Give("bob@example.com")
	if n := l.Size(); n != 1 {
		t.Errorf("%d keys remembered, want 1 (alice's bucket is whole but untouched since)", n)
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
