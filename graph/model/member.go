package model

import (
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

	sends      []time.Time // of the binding's links; see SetSends
	sendsKnown bool
}

// SetSends gives the member the creation times of its binding's links,
// which nextResendAllowedAt and resendsRemaining are derived from. The
// resolvers load them, for a whole page at once, when a request asks for
// either field.
func (m *Member) SetSends(sends []time.Time) {
	m.sends, m.sendsKnown = sends, true
}

// NewMember shows m under policy p; nil when m is nil.
func NewMember(m *member.Member, p member.Policy) *Member {
	if m == nil {
		return nil
	}
	return &Member{Member: m, Policy: p}
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
	return &SecurityInfo{Binding: m.Binding, AsOf: m.AsOf, Policy: m.Policy, sends: m.sends, sendsKnown: m.sendsKnown}
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
