package member

import "time"

// LinkState is what opening an activation link finds (R9).
type LinkState string

// Link states, each with its own page.
const (
	LinkValid      LinkState = "VALID"      // can be confirmed
	LinkActivated  LinkState = "ACTIVATED"  // the binding is activated (by this link or another)
	LinkExpired    LinkState = "EXPIRED"    // this link's days are over
	LinkSuperseded LinkState = "SUPERSEDED" // killed by a modification or rebind: use the newest mail
	LinkFailed     LinkState = "FAILED"     // the binding failed: the admin must bind again
	LinkUnknown    LinkState = "UNKNOWN"    // no such link
)

// Link is an activation link as the store keeps it: never the token, only
// its hash, which the store looks it up by.
type Link struct {
	ID        int64
	BindingID int64
	Email     string
	CreatedAt time.Time
	SentAt    *time.Time
	ExpiresAt *time.Time
	KilledAt  *time.Time
	SpentAt   *time.Time
}

// LinkView is what a person opening a link is shown.
type LinkView struct {
	State      LinkState
	OrgName    string
	OrgLang    string
	MemberName string
	Email      string
	Phone      string     // E.164; pages show it masked
	ExpiresAt  *time.Time // nil while the link's mail has not been accepted
}

// JudgeLink decides what a link of m's binding b is worth at now. b is the
// binding the link belongs to, which may no longer be m's current one.
func JudgeLink(m *Member, b *Binding, l *Link, now time.Time) LinkState {
	switch {
	case b.State == StateActivated:
		return LinkActivated
	case m.Binding != nil && m.Binding.ID != b.ID:
		// A rebind replaced the binding: its links are superseded.
		return LinkSuperseded
	case b.Status(now) == StatusFailed || m.Binding == nil:
		return LinkFailed
	case l.KilledAt != nil:
		return LinkSuperseded
	case l.ExpiresAt != nil && !now.Before(*l.ExpiresAt):
		return LinkExpired
	}
	return LinkValid
}

// TokenLength is the length of an activation token: 256 random bits in
// URL-safe base64 without padding.
const TokenLength = 43

// WellFormedToken reports whether token could be an activation token at
// all; anything else is refused before the store is asked.
func WellFormedToken(token string) bool {
	if len(token) != TokenLength {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
