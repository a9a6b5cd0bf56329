// Package model holds the GraphQL types that are not domain types: the
// ones gqlgen generates (models_gen.go) and the ones written here, which
// wrap a domain type and derive the schema's fields from it with
// context-free methods, so that gqlgen resolves them inline.
package model

import (
	"time"

	"memberbind/internal/member"
)

// SecurityInfo is a member's current binding as of the instant the member
// was read, so that its derived status agrees with the member's, judged by
// the policy the service runs under.
type SecurityInfo struct {
	*member.Binding
	AsOf   time.Time
	Policy member.Policy

	// linkSends reads the creation times of a binding's links (R6); see
	// Member.LinkSends.
	linkSends func(bindingID int64) ([]time.Time, error)
}

// Status is the binding's status as of AsOf.
func (s *SecurityInfo) Status() member.Status { return s.Binding.Status(s.AsOf) }

// ModificationsRemaining is how many more modifications R5 allows.
func (s *SecurityInfo) ModificationsRemaining() int {
	return max(0, s.Policy.MaxModifications-s.Modifications)
}

// NextResendAllowedAt is when R6 next allows sending the link, nil when
// it allows it now, or never (the binding is not pending).
func (s *SecurityInfo) NextResendAllowedAt() (*time.Time, error) {
	if s.Status() != member.StatusPending {
		return nil, nil
	}
	sends, err := s.linkSends(s.ID)
	if err != nil {
		return nil, err
	}
	next, ok := member.NextSend(sends, s.AsOf, s.Policy)
	if ok || next.IsZero() {
		return nil, nil
	}
	return &next, nil
}

// ResendsRemaining is how many more times R6 lets the link be sent.
func (s *SecurityInfo) ResendsRemaining() (int, error) {
	if s.Status() != member.StatusPending {
		return 0, nil
	}
	sends, err := s.linkSends(s.ID)
	if err != nil {
		return 0, err
	}
	return max(0, s.Policy.ResendsTotal-len(sends)), nil
}

// Delivery is the delivery of the newest link's mail, read with the
// binding. A link always has its outbox row; one not yet seen is queued.
func (s *SecurityInfo) Delivery() *MailDelivery {
	if s.Binding.Delivery == nil {
		return &MailDelivery{&member.Delivery{LinkID: s.NewestLinkID, Status: member.DeliveryQueued}}
	}
	return &MailDelivery{s.Binding.Delivery}
}

// MailDelivery is the delivery of an activation mail as the schema shows it.
type MailDelivery struct {
	*member.Delivery
}

// LastError is the mail server's reply to the last failed attempt, nil
// when none.
func (d *MailDelivery) LastError() *string { return optional(d.Delivery.LastError) }
