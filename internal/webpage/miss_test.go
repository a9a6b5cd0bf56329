package webpage

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// countingLimiter allows while charged < allowance.
type countingLimiter struct{ allowance, charged int }

func (l *countingLimiter) Allow(netip.Addr) (bool, time.Duration) {
	return l.charged < l.allowance, time.Duration(l.charged-l.allowance+1) * time.Second
}
func (l *countingLimiter) Charge(netip.Addr) { l.charged++ }

// TestLookUp: refused on earlier misses without looking, charged only for
// a miss, never for a find or a failed look.
func TestLookUp(t *testing.T) {
	client := netip.MustParseAddr("192.0.2.1")
	l := &countingLimiter{allowance: 2}
	looks := 0
	look := func(v string, err error) func() (string, error) {
		return func() (string, error) { looks++; return v, err }
	}
	missed := func(v string) bool { return v == "" }
	for i, c := range []struct {
		v          string
		err        error
		wantErr    error
		wantCharge int
		wantLooks  int
	}{
		{"found", nil, nil, 0, 1},
		{"", errors.New("store down"), errors.New("store down"), 0, 2},
		{"", nil, nil, 1, 3},
		{"found", nil, nil, 1, 4},
		{"", nil, nil, 2, 5},
		{"found", nil, ErrTooManyMisses, 2, 5}, // refused before looking, even for a link that exists
	} {
		v, wait, err := LookUp[string](l, client, look(c.v, c.err), missed)
		if (err == nil) != (c.wantErr == nil) || err != nil && err.Error() != c.wantErr.Error() {
			t.Errorf("%d: err %v, want %v", i, err, c.wantErr)
		}
		if l.charged != c.wantCharge || looks != c.wantLooks {
			t.Errorf("%d: charged %d, looked %d times; want %d, %d", i, l.charged, looks, c.wantCharge, c.wantLooks)
		}
		if errors.Is(err, ErrTooManyMisses) && (wait <= 0 || v != "") {
			t.Errorf("%d: refused with wait %s and value %q", i, wait, v)
		}
		if err == nil && v != c.v {
			t.Errorf("%d: value %q, want %q", i, v, c.v)
		}
	}
}

func TestRef(t *testing.T) {
	if Ref("") != "-" {
		t.Errorf("Ref(\"\") = %q", Ref(""))
	}
	a, b := Ref("token-a"), Ref("token-b")
	if len(a) != 8 || a == b || a != Ref("token-a") {
		t.Errorf("Ref = %q, %q", a, b)
	}
}
