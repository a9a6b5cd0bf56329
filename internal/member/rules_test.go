package member

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The domain rules of DESIGN.md §1 as plain Go: given a state and an
// instant, each rule decides. These tests stand at chosen instants, the
// expiry instant among them, without a database or a clock.

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// at is t0 moved by d.
func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

var info = SecurityInfo{Email: "Alice@example.com", CountryCode: "86", Phone: "+8613800138000"}

// pendingBinding's newest link went out an hour before t0 and expires a
// day after it.
func pendingBinding() *Binding {
	return &Binding{ID: 7, Email: info.Email, CountryCode: info.CountryCode, Phone: info.Phone, State: StatePending,
		SubmittedAt: t0.Add(-time.Hour), LinkSentAt: at(-time.Hour), LinkExpiresAt: at(24 * time.Hour)}
}

// state is a member in one of the states the rules tell apart, as of t0.
type state struct {
	name string
	m    func() *Member
	want Status
}

func createdWith(b *Binding) *Member {
	return &Member{ID: 1, Name: "Alice", Type: TypeCreated, Binding: b, AsOf: t0}
}

var states = []state{
	{"unbound", func() *Member { return createdWith(nil) }, StatusUnbound},
	{"pending", func() *Member { return createdWith(pendingBinding()) }, StatusPending},
	{"pending, mail not out yet", func() *Member {
		b := pendingBinding()
		b.LinkSentAt, b.LinkExpiresAt, b.UnsentLinks = nil, nil, 1
		return createdWith(b)
	}, StatusPending},
	{"pending, links expired but one unsent", func() *Member {
		b := pendingBinding()
		b.LinkExpiresAt, b.UnsentLinks = at(-time.Hour), 1
		return createdWith(b)
	}, StatusPending},
	{"failed by time", func() *Member {
		b := pendingBinding()
		b.LinkExpiresAt = at(-time.Nanosecond)
		return createdWith(b)
	}, StatusFailed},
	{"failed, stored", func() *Member {
		b := pendingBinding()
		b.State = StateFailed
		return createdWith(b)
	}, StatusFailed},
	{"activated", func() *Member {
		b := pendingBinding()
		b.State, b.ActivatedAt = StateActivated, at(-time.Minute)
		// An activated binding never fails, whatever its links' expiry.
		b.LinkExpiresAt = at(-time.Nanosecond)
		m := createdWith(b)
		m.LoginEmail = b.Email
		return m
	}, StatusActivated},
}

func stateNamed(t *testing.T, name string) *Member {
	t.Helper()
	for _, s := range states {
		if s.name == name {
			return s.m()
		}
	}
	t.Fatalf("no state %q", name)
	return nil
}

func invited(m *Member) *Member { m.Type = TypeInvited; return m }

func TestMemberStatus(t *testing.T) {
	for _, s := range states {
		if got := s.m().Status(); got != s.want {
			t.Errorf("%s: Status() = %s, want %s", s.name, got, s.want)
		}
	}
}

// TestStatusAtExpiry: a pending binding is FAILED exactly at the expiry
// of its last live link (R7), not a nanosecond before, and only once
// every link's mail has gone out.
func TestStatusAtExpiry(t *testing.T) {
	expiry := *at(15 * 24 * time.Hour)
	for _, c := range []struct {
		name     string
		state    BindingState
		unsent   int
		expires  *time.Time
		before   Status // at expiry − 1ns
		atExpiry Status // at expiry
		after    Status // at expiry + 1ns
	}{
		{"pending", StatePending, 0, &expiry, StatusPending, StatusFailed, StatusFailed},
		{"pending, a mail not out yet", StatePending, 1, &expiry, StatusPending, StatusPending, StatusPending},
		{"pending, no mail out yet", StatePending, 1, nil, StatusPending, StatusPending, StatusPending},
		{"activated", StateActivated, 0, &expiry, StatusActivated, StatusActivated, StatusActivated},
		{"failed, stored", StateFailed, 0, &expiry, StatusFailed, StatusFailed, StatusFailed},
	} {
		b := &Binding{State: c.state, UnsentLinks: c.unsent, LinkExpiresAt: c.expires}
		for _, p := range []struct {
			now  time.Time
			want Status
		}{
			{expiry.Add(-time.Nanosecond), c.before},
			{expiry, c.atExpiry},
			{expiry.Add(time.Nanosecond), c.after},
		} {
			if got := b.Status(p.now); got != p.want {
				t.Errorf("%s: Status(expiry%+v) = %s, want %s", c.name, p.now.Sub(expiry), got, p.want)
			}
			m := &Member{Binding: b, AsOf: p.now}
			if got := m.Status(); got != p.want {
				t.Errorf("%s: member Status() as of expiry%+v = %s, want %s", c.name, p.now.Sub(expiry), got, p.want)
			}
			wantFailedAt := time.Time{}
			if p.want == StatusFailed && c.expires != nil {
				wantFailedAt = expiry
			}
			if got := b.FailedAt(p.now); !got.Equal(wantFailedAt) {
				t.Errorf("%s: FailedAt(expiry%+v) = %s, want %s", c.name, p.now.Sub(expiry), got, wantFailedAt)
			}
		}
	}
}

// TestDecideAtExpiry: the decisions turn at the expiry instant with the
// status: modify and resend stop, bind becomes a rebind (R7, R8).
func TestDecideAtExpiry(t *testing.T) {
	p := DefaultPolicy()
	b := pendingBinding()
	expiry := *b.LinkExpiresAt
	other := SecurityInfo{Email: "bob@example.com", CountryCode: "86", Phone: "+8613800138001"}
	for _, c := range []struct {
		d                          time.Duration
		bindKind                   LinkKind
		bind, modify, resend, rebd Code
	}{
		{-time.Nanosecond, "", CodeAlreadyBound, "", "", CodeNotFailed},
		{0, LinkRebound, "", CodeLinkExpired, CodeLinkExpired, ""},
		{time.Nanosecond, LinkRebound, "", CodeLinkExpired, CodeLinkExpired, ""},
	} {
		m := createdWith(b)
		m.AsOf = expiry.Add(c.d)
		kind, err := DecideBind(m)
		if kind != c.bindKind || code(err) != c.bind {
			t.Errorf("expiry%+v: DecideBind = %q, %v; want %q, %q", c.d, kind, err, c.bindKind, c.bind)
		}
		if got := code(DecideModify(m, other, p)); got != c.modify {
			t.Errorf("expiry%+v: DecideModify = %q, want %q", c.d, got, c.modify)
		}
		if got := code(DecideResend(m, []time.Time{t0.Add(-time.Hour)}, p)); got != c.resend {
			t.Errorf("expiry%+v: DecideResend = %q, want %q", c.d, got, c.resend)
		}
		if got := code(DecideRebind(m)); got != c.rebd {
			t.Errorf("expiry%+v: DecideRebind = %q, want %q", c.d, got, c.rebd)
		}
	}
}

// code is an *Error's code, "" for nil.
func code(err *Error) Code {
	if err == nil {
		return ""
	}
	return err.Code
}

func TestDecideBind(t *testing.T) {
	for _, c := range []struct {
		state   string
		invited bool
		kind    LinkKind
		code    Code
	}{
		{"unbound", false, LinkSubmitted, ""},
		{"pending", false, "", CodeAlreadyBound},
		{"pending, mail not out yet", false, "", CodeAlreadyBound},
		{"pending, links expired but one unsent", false, "", CodeAlreadyBound},
		{"failed by time", false, LinkRebound, ""},
		{"failed, stored", false, LinkRebound, ""},
		{"activated", false, "", CodeAlreadyBound},
		{"unbound", true, "", CodeInvitedMember},
		{"pending", true, "", CodeInvitedMember},
	} {
		m := stateNamed(t, c.state)
		if c.invited {
			invited(m)
		}
		kind, err := DecideBind(m)
		if kind != c.kind || code(err) != c.code {
			t.Errorf("%s (invited %v): DecideBind = %q, %v; want %q, %q", c.state, c.invited, kind, err, c.kind, c.code)
		}
	}
}

func TestDecideRebind(t *testing.T) {
	for _, c := range []struct {
		state   string
		invited bool
		code    Code
	}{
		{"unbound", false, CodeNotFailed},
		{"pending", false, CodeNotFailed},
		{"pending, links expired but one unsent", false, CodeNotFailed},
		{"failed by time", false, ""},
		{"failed, stored", false, ""},
		{"activated", false, CodeNotFailed},
		{"failed by time", true, CodeInvitedMember},
	} {
		m := stateNamed(t, c.state)
		if c.invited {
			invited(m)
		}
		if got := code(DecideRebind(m)); got != c.code {
			t.Errorf("%s (invited %v): DecideRebind = %q, want %q", c.state, c.invited, got, c.code)
		}
	}
}

func TestDecideModify(t *testing.T) {
	p := DefaultPolicy()
	other := SecurityInfo{Email: "bob@example.com", CountryCode: "86", Phone: "+8613800138000"}
	sameButCase := SecurityInfo{Email: " ALICE@example.com ", CountryCode: info.CountryCode, Phone: info.Phone}
	otherPhone := SecurityInfo{Email: info.Email, CountryCode: "86", Phone: "+8613800138001"}
	for _, c := range []struct {
		name  string
		state string
		mods  int
		max   int
		in    SecurityInfo
		code  Code
	}{
		{"first modification", "pending", 0, 3, other, ""},
		{"last allowed", "pending", 2, 3, other, ""},
		{"limit reached", "pending", 3, 3, other, CodeModificationLimitReached},
		{"beyond the limit", "pending", 4, 3, other, CodeModificationLimitReached},
		{"no modifications allowed", "pending", 0, 0, other, CodeModificationLimitReached},
		{"same info, case and space aside", "pending", 0, 3, sameButCase, CodeSameAsCurrent},
		{"same info at the limit: the limit first", "pending", 3, 3, info, CodeModificationLimitReached},
		{"only the phone changes", "pending", 0, 3, otherPhone, ""},
		{"mail not out yet", "pending, mail not out yet", 0, 3, other, ""},
		{"unbound", "unbound", 0, 3, other, CodeNotPending},
		{"activated", "activated", 0, 3, other, CodeNotPending},
		{"failed", "failed by time", 0, 3, other, CodeLinkExpired},
		{"failed, stored", "failed, stored", 0, 3, other, CodeLinkExpired},
	} {
		m := stateNamed(t, c.state)
		if m.Binding != nil {
			m.Binding.Modifications = c.mods
		}
		p.MaxModifications = c.max
		if got := code(DecideModify(m, c.in, p)); got != c.code {
			t.Errorf("%s: DecideModify = %q, want %q", c.name, got, c.code)
		}
	}
	if got := code(DecideModify(invited(stateNamed(t, "pending")), other, DefaultPolicy())); got != CodeInvitedMember {
		t.Errorf("invited: DecideModify = %q, want %q", got, CodeInvitedMember)
	}
}

// sendsAgo are link creation times, each d before t0.
func sendsAgo(ds ...time.Duration) []time.Time {
	out := make([]time.Time, len(ds))
	for i, d := range ds {
		out[i] = t0.Add(-d)
	}
	return out
}

func TestNextSend(t *testing.T) {
	p := Policy{ResendsPerHour: 3, ResendsTotal: 6}
	min := time.Minute
	for _, c := range []struct {
		name  string
		sends []time.Time
		ok    bool
		next  time.Time // when not ok; zero for never
	}{
		{"none yet", nil, true, t0},
		{"two in the hour", sendsAgo(10*min, 20*min), true, t0},
		{"three in the hour", sendsAgo(10*min, 20*min, 30*min), false, t0.Add(30 * min)},
		{"unsorted", sendsAgo(30*min, 10*min, 20*min), false, t0.Add(30 * min)},
		{"the oldest exactly an hour ago has left the window", sendsAgo(10*min, 20*min, time.Hour), true, t0},
		{"the oldest an hour less 1ns ago is still in it", sendsAgo(10*min, 20*min, time.Hour-time.Nanosecond), false, t0.Add(time.Nanosecond)},
		{"overrun: four in the hour wait for two to leave", sendsAgo(5*min, 10*min, 20*min, 30*min), false, t0.Add(40 * min)},
		{"five in all, two in the hour", sendsAgo(10*min, 20*min, 2*time.Hour, 3*time.Hour, 4*time.Hour), true, t0},
		{"the total reached", sendsAgo(2*time.Hour, 3*time.Hour, 4*time.Hour, 5*time.Hour, 6*time.Hour, 7*time.Hour), false, time.Time{}},
		{"the total reached within the hour", sendsAgo(1*min, 2*min, 3*min, 4*min, 5*min, 6*min), false, time.Time{}},
	} {
		next, ok := NextSend(c.sends, t0, p)
		if ok != c.ok {
			t.Errorf("%s: ok = %v, want %v", c.name, ok, c.ok)
			continue
		}
		if !next.Equal(c.next) {
			t.Errorf("%s: next = %s, want %s", c.name, next, c.next)
		}
	}
}

func TestDecideResend(t *testing.T) {
	p := Policy{ActivationTTL: time.Hour, MaxModifications: 3, ResendsPerHour: 2, ResendsTotal: 3}
	min := time.Minute
	for _, c := range []struct {
		name    string
		state   string
		invited bool
		sends   []time.Time
		code    Code
		retryAt *time.Time
	}{
		{"allowed", "pending", false, sendsAgo(30 * min), "", nil},
		{"mail not out yet", "pending, mail not out yet", false, sendsAgo(30 * min), "", nil},
		{"hourly limit, retry at", "pending", false, sendsAgo(10*min, 30*min), CodeResendLimitReached, at(30 * min)},
		{"total limit, never again", "pending", false, sendsAgo(2*time.Hour, 3*time.Hour, 4*time.Hour), CodeResendLimitReached, nil},
		{"unbound", "unbound", false, nil, CodeNotPending, nil},
		{"activated", "activated", false, sendsAgo(30 * min), CodeNotPending, nil},
		{"failed", "failed by time", false, sendsAgo(30 * min), CodeLinkExpired, nil},
		{"invited", "pending", true, sendsAgo(30 * min), CodeInvitedMember, nil},
	} {
		m := stateNamed(t, c.state)
		if c.invited {
			invited(m)
		}
		err := DecideResend(m, c.sends, p)
		if code(err) != c.code {
			t.Errorf("%s: DecideResend = %v, want %q", c.name, err, c.code)
			continue
		}
		if err == nil {
			continue
		}
		switch {
		case (err.RetryAt == nil) != (c.retryAt == nil):
			t.Errorf("%s: RetryAt = %v, want %v", c.name, err.RetryAt, c.retryAt)
		case c.retryAt != nil && !err.RetryAt.Equal(*c.retryAt):
			t.Errorf("%s: RetryAt = %s, want %s", c.name, err.RetryAt, c.retryAt)
		case c.retryAt != nil && !strings.Contains(err.Message, c.retryAt.Format(time.RFC3339)):
			t.Errorf("%s: message %q does not say when", c.name, err.Message)
		}
	}
}

func TestRemoval(t *testing.T) {
	for _, c := range []struct {
		state   string
		invited bool
		removed bool
		ok      bool
		reason  string // a word of the reason
	}{
		{"activated", false, false, true, ""},
		{"unbound", false, false, false, "none is bound"},
		{"pending", false, false, false, "not been confirmed"},
		{"pending, mail not out yet", false, false, false, "not been confirmed"},
		{"failed by time", false, false, false, "failed"},
		{"failed, stored", false, false, false, "failed"},
		{"unbound", true, false, true, ""},
		{"pending", true, false, true, ""},
		{"activated", false, true, false, "already removed"},
		{"unbound", true, true, false, "already removed"},
	} {
		m := stateNamed(t, c.state)
		if c.invited {
			invited(m)
		}
		if c.removed {
			m.RemovedAt = at(-time.Minute)
		}
		name := fmt.Sprintf("%s (invited %v, removed %v)", c.state, c.invited, c.removed)
		ok, reasons := Removal(m)
		if ok != c.ok || ok != (len(reasons) == 0) {
			t.Errorf("%s: Removal = %v, %q; want %v", name, ok, reasons, c.ok)
		}
		if !ok && !strings.Contains(reasons[0], c.reason) {
			t.Errorf("%s: reason %q, want one about %q", name, reasons[0], c.reason)
		}
		err := DecideRemove(m)
		if ok != (err == nil) || err != nil && (err.Code != CodeNotRemovable || !strings.Contains(err.Message, reasons[0])) {
			t.Errorf("%s: DecideRemove = %v", name, err)
		}
	}
}

// TestJudgeLink decides what opening a link finds (R9), for the link's
// own expiry at −1ns, exactly, and +1ns, and for every way a link dies.
func TestJudgeLink(t *testing.T) {
	for _, c := range []struct {
		name  string
		state string
		// sent, expires, killed and spent are the link's times, relative
		// to t0; nil for none.
		sent, expires, killed, spent *time.Time
		// binding changes the member's binding before judging, or
		// returns another one the link belongs to; nil for none.
		binding func(m *Member) *Binding
		want    LinkState
	}{
		{"live", "pending", at(-time.Hour), at(time.Hour), nil, nil, nil, LinkValid},
		{"mail not out yet", "pending, mail not out yet", nil, nil, nil, nil, nil, LinkValid},
		{"expires in 1ns", "pending", at(-time.Hour), at(time.Nanosecond), nil, nil, nil, LinkValid},
		{"expires now, a newer link live", "pending", at(-time.Hour), at(0), nil, nil, nil, LinkExpired},
		{"expired 1ns ago, a newer link live", "pending", at(-time.Hour), at(-time.Nanosecond), nil, nil, nil, LinkExpired},
		{"the binding's last link expires now", "pending", at(-time.Hour), at(0), nil, nil,
			func(m *Member) *Binding { m.Binding.LinkExpiresAt = at(0); return m.Binding }, LinkFailed},
		{"killed by a modification", "pending", at(-time.Hour), at(time.Hour), at(-time.Minute), nil, nil, LinkSuperseded},
		{"killed, and past its expiry", "pending", at(-time.Hour), at(-time.Second), at(-time.Minute), nil, nil, LinkSuperseded},
		{"the binding failed", "failed by time", at(-time.Hour), at(-time.Nanosecond), nil, nil, nil, LinkFailed},
		{"a rebind replaced the binding", "pending", at(-time.Hour), at(time.Hour), nil, nil,
			func(*Member) *Binding { old := pendingBinding(); old.ID, old.State = 6, StateFailed; return old }, LinkSuperseded},
		{"the link that activated", "activated", at(-time.Hour), at(time.Hour), nil, at(-time.Minute), nil, LinkActivated},
		{"another link of an activated binding, expired and killed", "activated", at(-time.Hour), at(-time.Second), at(-time.Minute), nil, nil, LinkActivated},
		{"the member has no binding any more", "unbound", at(-time.Hour), at(time.Hour), nil, nil,
			func(*Member) *Binding { return pendingBinding() }, LinkFailed},
	} {
		m := stateNamed(t, c.state)
		b := m.Binding
		if c.binding != nil {
			b = c.binding(m)
		}
		l := &Link{ID: 3, BindingID: b.ID, SentAt: c.sent, ExpiresAt: c.expires, KilledAt: c.killed, SpentAt: c.spent}
		if got := JudgeLink(m, b, l, t0); got != c.want {
			t.Errorf("%s: JudgeLink = %s, want %s", c.name, got, c.want)
		}
	}
}

func TestWellFormedToken(t *testing.T) {
	good := strings.Repeat("aZ09-_", 7) + "x"
	for tok, want := range map[string]bool{
		good:               true,
		good[:42]:          false,
		good + "x":         false,
		"":                 false,
		good[:42] + "+":    false,
		good[:42] + "/":    false,
		good[:42] + "=":    false,
		good[:42] + " ":    false,
		good[:41] + "é":    false,
		good[:42] + "\x00": false,
	} {
		if got := WellFormedToken(tok); got != want {
			t.Errorf("WellFormedToken(%q) = %v, want %v", tok, got, want)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Errorf("default policy: %v", err)
	}
	zeroMods := DefaultPolicy()
	zeroMods.MaxModifications = 0
	if err := zeroMods.Validate(); err != nil {
		t.Errorf("no modifications allowed is a policy: %v", err)
	}
	for name, mutate := range map[string]func(*Policy){
		"zero TTL":               func(p *Policy) { p.ActivationTTL = 0 },
		"negative modifications": func(p *Policy) { p.MaxModifications = -1 },
		"no resends per hour":    func(p *Policy) { p.ResendsPerHour = 0 },
		"no resends at all":      func(p *Policy) { p.ResendsTotal = 0 },
	} {
		p := DefaultPolicy()
		mutate(&p)
		if p.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSame(t *testing.T) {
	b := pendingBinding()
	for _, c := range []struct {
		in   SecurityInfo
		want bool
	}{
		{info, true},
		{SecurityInfo{Email: "  alice@EXAMPLE.com", CountryCode: "86", Phone: info.Phone}, true},
		{SecurityInfo{Email: "alice2@example.com", CountryCode: "86", Phone: info.Phone}, false},
		{SecurityInfo{Email: info.Email, CountryCode: "852", Phone: info.Phone}, false},
		{SecurityInfo{Email: info.Email, CountryCode: "86", Phone: "+8613800138001"}, false},
	} {
		if got := c.in.Same(b); got != c.want {
			t.Errorf("%+v.Same = %v, want %v", c.in, got, c.want)
		}
	}
	if EmailKey(" Bob@Example.COM\t") != "bob@example.com" {
		t.Errorf("EmailKey = %q", EmailKey(" Bob@Example.COM\t"))
	}
}

func TestEnumsValid(t *testing.T) {
	for _, ty := range []Type{TypeCreated, TypeInvited} {
		if !ty.Valid() {
			t.Errorf("%s not valid", ty)
		}
	}
	for _, s := range []Status{StatusUnbound, StatusPending, StatusActivated, StatusFailed} {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
	}
	if Type("ADMIN").Valid() || Type("").Valid() || Status("EXPIRED").Valid() || Status("").Valid() {
		t.Error("an unknown type or status is valid")
	}
}

func TestErrors(t *testing.T) {
	e := FieldErrorf(CodeInvalidEmail, "email", "email %s", "is bad")
	wrapped := fmt.Errorf("bind member 3: %w", e)
	if got, ok := AsError(wrapped); !ok || got != e {
		t.Errorf("AsError(wrapped) = %v, %v", got, ok)
	}
	if ErrorCode(wrapped) != CodeInvalidEmail || ErrorCode(errors.New("x")) != "" || ErrorCode(nil) != "" {
		t.Error("ErrorCode does not find the code")
	}
	if e.Error() != "INVALID_EMAIL: email is bad" || len(e.Field) != 1 || e.Field[0] != "email" {
		t.Errorf("error = %q, field %q", e.Error(), e.Field)
	}
	if e := Errorf(CodeNotFailed, "n=%d", 3); e.Message != "n=3" || e.Field != nil {
		t.Errorf("Errorf = %+v", e)
	}
}
