package model

import (
	"context"
	"time"

	"memberbind/internal/member"
)

// Member is a member as the schema shows it. Its derived fields are
// methods without a context, so gqlgen resolves them inline instead of in a
// goroutine each; name and createdAt come from the embedded domain member.
// Policy is what its security information is judged by (R5, R6).
type Member struct {
	*member.Member
	Policy member.Policy
	// LinkSends returns the creation times of a binding's links, which
	// nextResendAllowedAt and resendsRemaining derive from, and EventPage
	// a page of the member's events. The resolvers read each for all the
	// members shown together at once, when the first of them asks.
	LinkSends func(bindingID int64) ([]time.Time, error)
	EventPage func(ctx context.Context, q member.PageQuery) (*member.EventPage, error)
}

// ID is the member's opaque id.
func (m *Member) ID() string { return EncodeID(KindMember, m.Member.ID) }

// Remark is the organization's note on the member, nil when none.
func (m *Member) Remark() *string { return optional(m.Member.Remark) }

// LoginEmail is the activated login email, nil until activation.
func (m *Member) LoginEmail() *string { return optional(m.Member.LoginEmail) }

// Removal says whether the member can be removed now, and why not (R10).
func (m *Member) Removal() *Removal {
	allowed, reasons := member.Removal(m.Member)
	if reasons == nil {
		reasons = []string{}
	}
	return &Removal{Allowed: allowed, Reasons: reasons}
}

// SecurityInfo is the member's current binding, nil when UNBOUND.
func (m *Member) SecurityInfo() *SecurityInfo {
	if m.Binding == nil {
		return nil
	}
	return &SecurityInfo{Binding: m.Binding, AsOf: m.AsOf, Policy: m.Policy, linkSends: m.LinkSends}
}

// MemberEvent is an event of a member's history as the schema shows it.
type MemberEvent struct {
	*member.Event
}

// ID is the event's opaque id.
func (e *MemberEvent) ID() string { return EncodeID(KindEvent, e.Event.ID) }

// Actor is who did it.
func (e *MemberEvent) Actor() string { return string(e.Event.Actor) }

// Email is the email the event concerns, nil when none.
func (e *MemberEvent) Email() *string { return optional(e.Event.Email) }

// Detail is free text on the event, nil when none.
func (e *MemberEvent) Detail() *string { return optional(e.Event.Detail) }

// optional is s, or nil when s is empty: the schema's null.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
