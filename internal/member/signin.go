package member

import (
	"fmt"
	"time"
)

// A member signs in to its account with its login email, without a
// password: it asks for a sign-in link, which is mailed to that email, and
// confirming the link starts a session. Only a member whose binding is
// ACTIVATED has a login email; a member removed from its organization
// keeps it (R10) and can still sign in.

// SignInPolicy holds the configurable numbers of signing in.
type SignInPolicy struct {
	// LinkTTL is a sign-in link's life, from the moment it is asked for.
	LinkTTL time.Duration
	// MaxLiveLinks is how many unused, unexpired sign-in links one member
	// may have; asking for more mails nothing until one is used or
	// expires. It bounds the mail anyone can make a member receive.
	MaxLiveLinks int
	// MailsPerHour caps the sign-in mails one login email receives in any
	// hour, whoever asks for them and from wherever: the requests are
	// limited per client in memory, which a flood from many clients
	// passes, so this is the bound that holds, in the database.
	MailsPerHour int
	// IdleTimeout ends a session not used for this long.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after it started, used or
	// not.
	AbsoluteTimeout time.Duration
}

// DefaultSignInPolicy is the sign-in policy unless configured otherwise.
func DefaultSignInPolicy() SignInPolicy {
	return SignInPolicy{
		LinkTTL:         15 * time.Minute,
		MaxLiveLinks:    5,
		MailsPerHour:    DefaultSignInMailsPerHour,
		IdleTimeout:     30 * time.Minute,
		AbsoluteTimeout: 12 * time.Hour,
	}
}

// DefaultSignInMailsPerHour is SignInPolicy.MailsPerHour unless set.
const DefaultSignInMailsPerHour = 10

// WithDefaults returns p with an unset (zero) MailsPerHour at its
// default, for policies written before it existed.
func (p SignInPolicy) WithDefaults() SignInPolicy {
	if p.MailsPerHour == 0 {
		p.MailsPerHour = DefaultSignInMailsPerHour
	}
	return p
}

// Validate reports a policy that cannot work.
func (p SignInPolicy) Validate() error {
	switch {
	case p.MailsPerHour < 1 || p.MailsPerHour > MaxMailsPerRecipientHour:
		return fmt.Errorf("sign-in mails per hour must be between 1 and %d, got %d", MaxMailsPerRecipientHour, p.MailsPerHour)
	case p.LinkTTL <= 0:
		return fmt.Errorf("sign-in link TTL must be positive, got %s", p.LinkTTL)
	case p.MaxLiveLinks < 1:
		return fmt.Errorf("live sign-in links per member must be at least 1, got %d", p.MaxLiveLinks)
	case p.IdleTimeout <= 0:
		return fmt.Errorf("session idle timeout must be positive, got %s", p.IdleTimeout)
	case p.AbsoluteTimeout < p.IdleTimeout:
		return fmt.Errorf("session absolute timeout (%s) must not be shorter than its idle timeout (%s)", p.AbsoluteTimeout, p.IdleTimeout)
	}
	return nil
}

// MaySignIn reports whether a sign-in link may be mailed to the email
// whose EmailKey is emailKey on behalf of m: m's binding is ACTIVATED and
// that email is its login email. A removed member may; a pending, failed
// or modified-away email may not.
func MaySignIn(m *Member, emailKey string) bool {
	return m.Binding != nil && m.Binding.State == StateActivated && m.LoginEmail != "" &&
		EmailKey(m.LoginEmail) == emailKey
}

// DecideSignInLink decides a request at now for a sign-in link for m at
// the email with key emailKey, where m has live unused, unexpired links
// already and sign-in mails went to that email at the times sends (any
// order; older than an hour ignored): true means mint one and mail it.
func DecideSignInLink(m *Member, emailKey string, live int, sends []time.Time, now time.Time, p SignInPolicy) bool {
	return MaySignIn(m, emailKey) && live < p.MaxLiveLinks && len(keepRecent(sends, now, len(sends))) < p.MailsPerHour
}

// RecentSignInMails is what of sends a store must keep to decide later
// sign-in requests for the same email (see RecentMails).
func RecentSignInMails(sends []time.Time, now time.Time, p SignInPolicy) []time.Time {
	return keepRecent(sends, now, p.MailsPerHour-1)
}

// SignInState is what opening a sign-in link finds.
type SignInState string

// Sign-in link states, each with its own page.
const (
	SignInValid   SignInState = "VALID"   // can be confirmed
	SignInUsed    SignInState = "USED"    // it started a session already: links are single use
	SignInExpired SignInState = "EXPIRED" // its minutes are over
	SignInUnknown SignInState = "UNKNOWN" // no such link
)

// SignInLink is a sign-in link as the store keeps it: never the token,
// only its hash.
type SignInLink struct {
	ID        int64
	OrgID     int64
	MemberID  int64
	BindingID int64
	Email     string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// JudgeSignInLink decides what a sign-in link is worth at now.
func JudgeSignInLink(l *SignInLink, now time.Time) SignInState {
	switch {
	case l.UsedAt != nil:
		return SignInUsed
	case !now.Before(l.ExpiresAt):
		return SignInExpired
	}
	return SignInValid
}

// SignInView is what a person opening a sign-in link is shown.
type SignInView struct {
	State      SignInState
	OrgName    string
	OrgLang    string
	MemberName string
	Email      string
	ExpiresAt  time.Time
}

// Session is a member's signed-in session, as the store keeps it: never
// its id, only the id's hash.
type Session struct {
	ID         int64
	OrgID      int64
	MemberID   int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // the absolute end, CreatedAt + AbsoluteTimeout
	EndedAt    *time.Time
}

// Live reports whether the session may still be used at now: not signed
// out, not past its absolute end, and used within the idle timeout.
func (s *Session) Live(now time.Time, p SignInPolicy) bool {
	return s.EndedAt == nil && now.Before(s.ExpiresAt) && now.Before(s.LastSeenAt.Add(p.IdleTimeout))
}

// Account is what a signed-in member sees of its account.
type Account struct {
	MemberID    int64
	Name        string
	OrgName     string
	OrgLang     string
	LoginEmail  string
	ActivatedAt *time.Time // when the login email was activated
	RemovedAt   *time.Time // set once the member left the organization
	// SignIns are the most recent sign-ins, newest first.
	SignIns []SignIn
}

// SignIn is one sign-in to an account.
type SignIn struct {
	At      time.Time
	Current bool // the session looking at the account
}
