package member

import (
	"testing"
	"time"
)

func TestMaySignIn(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	removed := now
	activated := &Binding{State: StateActivated}
	for _, c := range []struct {
		name string
		m    *Member
		key  string
		want bool
	}{
		{"activated", &Member{Binding: activated, LoginEmail: "Alice@example.com"}, "alice@example.com", true},
		{"removed", &Member{Binding: activated, LoginEmail: "alice@example.com", RemovedAt: &removed}, "alice@example.com", true},
		{"another email", &Member{Binding: activated, LoginEmail: "alice@example.com"}, "bob@example.com", false},
		{"pending", &Member{Binding: &Binding{State: StatePending}}, "alice@example.com", false},
		{"failed", &Member{Binding: &Binding{State: StateFailed}, LoginEmail: ""}, "alice@example.com", false},
		{"unbound", &Member{}, "alice@example.com", false},
		{"activated without a login email", &Member{Binding: activated}, "", false},
	} {
		if got := MaySignIn(c.m, c.key); got != c.want {
			t.Errorf("%s: MaySignIn = %v, want %v", c.name, got, c.want)
		}
	}
	p := DefaultSignInPolicy()
	m := &Member{Binding: activated, LoginEmail: "alice@example.com"}
	if !DecideSignInLink(m, "alice@example.com", p.MaxLiveLinks-1, nil, now, p) || DecideSignInLink(m, "alice@example.com", p.MaxLiveLinks, nil, now, p) {
		t.Error("DecideSignInLink does not bound the live links")
	}
	if DecideSignInLink(m, "bob@example.com", 0, nil, now, p) || DecideSignInLink(&Member{Binding: &Binding{State: StatePending}}, "alice@example.com", 0, nil, now, p) {
		t.Error("DecideSignInLink mails a link to an email that is no login email")
	}
	p.MailsPerHour = 2
	for _, c := range []struct {
		name  string
		sends []time.Time
		want  bool
	}{
		{"one this hour", []time.Time{now.Add(-time.Minute)}, true},
		{"two this hour", []time.Time{now.Add(-time.Minute), now.Add(-59 * time.Minute)}, false},
		{"one an hour ago", []time.Time{now.Add(-time.Minute), now.Add(-time.Hour)}, true},
	} {
		if got := DecideSignInLink(m, "alice@example.com", 0, c.sends, now, p); got != c.want {
			t.Errorf("%s: DecideSignInLink = %v, want %v", c.name, got, c.want)
		}
	}
	if kept := RecentSignInMails([]time.Time{now.Add(-2 * time.Minute), now.Add(-time.Minute), now.Add(-time.Hour)}, now, p); len(kept) != 1 || !kept[0].Equal(now.Add(-time.Minute)) {
		t.Errorf("RecentSignInMails kept %v, want the newest one", kept)
	}
}

func TestJudgeSignInLink(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	used := now.Add(-time.Minute)
	for _, c := range []struct {
		l    SignInLink
		want SignInState
	}{
		{SignInLink{ExpiresAt: now.Add(time.Microsecond)}, SignInValid},
		{SignInLink{ExpiresAt: now.Add(time.Nanosecond)}, SignInValid},
		{SignInLink{ExpiresAt: now}, SignInExpired},
		{SignInLink{ExpiresAt: now.Add(-time.Nanosecond)}, SignInExpired},
		{SignInLink{ExpiresAt: now.Add(time.Hour), UsedAt: &used}, SignInUsed},
		{SignInLink{ExpiresAt: now.Add(-time.Hour), UsedAt: &used}, SignInUsed},
	} {
		if got := JudgeSignInLink(&c.l, now); got != c.want {
			t.Errorf("%+v: %s, want %s", c.l, got, c.want)
		}
	}
}

func TestSessionLive(t *testing.T) {
	p := DefaultSignInPolicy()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &Session{CreatedAt: start, LastSeenAt: start, ExpiresAt: start.Add(p.AbsoluteTimeout)}
	for _, c := range []struct {
		lastSeen, now time.Time
		want          bool
	}{
		{start, start.Add(p.IdleTimeout - time.Nanosecond), true},
		{start, start.Add(p.IdleTimeout), false},
		{start.Add(p.AbsoluteTimeout - time.Minute), start.Add(p.AbsoluteTimeout - time.Nanosecond), true},
		{start.Add(p.AbsoluteTimeout - time.Minute), start.Add(p.AbsoluteTimeout), false},
	} {
		s.LastSeenAt = c.lastSeen
		if got := s.Live(c.now, p); got != c.want {
			t.Errorf("last seen %s, now %s: Live = %v, want %v", c.lastSeen, c.now, got, c.want)
		}
	}
	ended := start
	s.LastSeenAt, s.EndedAt = start, &ended
	if s.Live(start.Add(time.Second), p) {
		t.Error("an ended session lives")
	}
}

func TestSignInPolicyValidate(t *testing.T) {
	if err := DefaultSignInPolicy().Validate(); err != nil {
		t.Error(err)
	}
	for _, mutate := range []func(*SignInPolicy){
		func(p *SignInPolicy) { p.LinkTTL = 0 },
		func(p *SignInPolicy) { p.MaxLiveLinks = 0 },
		func(p *SignInPolicy) { p.IdleTimeout = 0 },
		func(p *SignInPolicy) { p.AbsoluteTimeout = p.IdleTimeout - time.Second },
	} {
		p := DefaultSignInPolicy()
		mutate(&p)
		if p.Validate() == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}
