// Package member is the domain of memberbind: organizations, member
// accounts, their security-information bindings and activation links, and the
// rules of DESIGN.md §1 as plain Go. A rule takes the state it decides on and
// the current time and returns a decision or an *Error; it never reads a
// clock or a database itself.
//
// This package imports nothing but the standard library. Storage, mail,
// GraphQL and HTTP adapters import it, never the other way round.
package member

import (
	"strings"
	"time"
)

// Type says how a member account came into an organization.
type Type string

// Member types.
const (
	TypeCreated Type = "CREATED" // made by the organization (TCO MemberType Create)
	TypeInvited Type = "INVITED" // an existing account that joined (TCO Invite)
)

// Valid reports whether t is one of the member types.
func (t Type) Valid() bool { return t == TypeCreated || t == TypeInvited }

// Status is a binding's status as clients see it.
type Status string

// Binding statuses. FAILED is never stored: it is derived from time (R7).
const (
	StatusUnbound   Status = "UNBOUND"
	StatusPending   Status = "PENDING"
	StatusActivated Status = "ACTIVATED"
	StatusFailed    Status = "FAILED"
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusUnbound, StatusPending, StatusActivated, StatusFailed:
		return true
	}
	return false
}

// BindingState is what the store keeps for a binding. A PENDING binding
// whose links have all expired is FAILED without any write (see
// Binding.Status); StateFailed is written only when a rebind replaces it.
type BindingState string

// Stored binding states.
const (
	StatePending   BindingState = "PENDING"
	StateActivated BindingState = "ACTIVATED"
	StateFailed    BindingState = "FAILED"
)

// Organization is a tenant: it owns member accounts and API keys and sees
// nothing of any other organization (R13).
type Organization struct {
	ID        int64
	Name      string
	Lang      string // mail and page language: "en" or "zh-CN"
	CreatedAt time.Time
}

// Member is a member account of an organization.
type Member struct {
	ID         int64
	OrgID      int64
	Name       string
	Type       Type
	Remark     string // "" when none
	CreatedAt  time.Time
	RemovedAt  *time.Time
	LoginEmail string // set once the binding is activated

	// Binding is the current binding, nil when none was ever submitted.
	Binding *Binding

	// AsOf is the instant the member was read at; Status and the other
	// derived values are as of then.
	AsOf time.Time
}

// Status is the member's binding status as of m.AsOf.
func (m *Member) Status() Status {
	if m.Binding == nil {
		return StatusUnbound
	}
	return m.Binding.Status(m.AsOf)
}

// Binding is a member's security information: a login email and a mobile
// number, from submission to activation (or failure).
type Binding struct {
	ID          int64
	MemberID    int64
	Email       string // as given, trimmed, domain in lower-case ASCII
	CountryCode string // calling code without "+", e.g. "86"
	Phone       string // E.164, e.g. "+8613800138000"
	State       BindingState

	// Modifications counts the accepted modifications (R5).
	Modifications int
	SubmittedAt   time.Time
	ActivatedAt   *time.Time

	// LinkSentAt is when the newest delivered link's mail was accepted by
	// the SMTP server; LinkExpiresAt is the latest expiry among the live
	// delivered links. Both are nil until a mail has been accepted.
	LinkSentAt    *time.Time
	LinkExpiresAt *time.Time
	// UnsentLinks counts live links whose mail has not been accepted yet
	// and has not failed for good. While it is above zero the binding
	// cannot fail: a link's days start when its mail goes out (R7).
	UnsentLinks int
	// NewestLinkID is the link most recently created for this binding.
	NewestLinkID int64
	// Delivery is the delivery of the newest link's mail, when it was read
	// with the binding.
	Delivery *Delivery
}

// Status derives the binding's status at now. A pending binding is FAILED
// exactly at the expiry of its last live link, whether or not anything has
// run since (R7).
func (b *Binding) Status(now time.Time) Status {
	switch b.State {
	case StateActivated:
		return StatusActivated
	case StateFailed:
		return StatusFailed
	}
	if b.UnsentLinks == 0 && b.LinkExpiresAt != nil && !now.Before(*b.LinkExpiresAt) {
		return StatusFailed
	}
	return StatusPending
}

// FailedAt is the instant a failed binding failed; zero when it has not.
func (b *Binding) FailedAt(now time.Time) time.Time {
	if b.Status(now) != StatusFailed || b.LinkExpiresAt == nil {
		return time.Time{}
	}
	return *b.LinkExpiresAt
}

// SecurityInfo is validated security information: build it with the
// contact package, which applies R11.
type SecurityInfo struct {
	Email       string
	CountryCode string
	Phone       string // E.164
}

// EmailKey is the form under which an email is unique in the whole service
// (R3): case folded, space trimmed.
func EmailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Same reports whether info is the binding's current information.
func (info SecurityInfo) Same(b *Binding) bool {
	return EmailKey(info.Email) == EmailKey(b.Email) && info.CountryCode == b.CountryCode && info.Phone == b.Phone
}

// Actor names who did something to a binding, for its events (R12).
type Actor string

// Actors that are not an API key.
const (
	ActorSystem Actor = "system"
	ActorMember Actor = "member"
)
