package member

import (
	"fmt"
	"sort"
	"time"
)

// Policy holds the configurable numbers of the rules.
type Policy struct {
	ActivationTTL    time.Duration // R4: a link's life from its mail's acceptance
	MaxModifications int           // R5
	ResendsPerHour   int           // R6: sends of one binding in any hour
	ResendsTotal     int           // R6: sends of one binding in all

	// MailsPerRecipientHour caps the activation mails one address
	// receives in any hour, across every binding and organization: the
	// per-binding caps of R6 alone let members that cycle bind and
	// modify-away mail one address without end.
	MailsPerRecipientHour int
	// MailsPerOrgHour is an organization's budget of activation mails per
	// clock hour (UTC), so that one organization (or its leaked API key)
	// cannot turn the service into a mail cannon.
	MailsPerOrgHour int
}

// DefaultPolicy is the policy of DESIGN.md §1.
func DefaultPolicy() Policy {
	return Policy{
		ActivationTTL:    15 * 24 * time.Hour,
		MaxModifications: 3,
		ResendsPerHour:   5,
		ResendsTotal:     20,

		MailsPerRecipientHour: DefaultMailsPerRecipientHour,
		MailsPerOrgHour:       DefaultMailsPerOrgHour,
	}
}

// Defaults of the mail caps of Policy.
const (
	DefaultMailsPerRecipientHour = 10
	DefaultMailsPerOrgHour       = 1000
	// MaxMailsPerRecipientHour bounds the per-recipient cap: the store
	// keeps that many mail times per address in one row, and no mailbox
	// wants more activation mail than this in an hour.
	MaxMailsPerRecipientHour = 1000
)

// WithDefaults returns p with its unset (zero) mail caps at their
// defaults, so that a policy written before the caps existed, or one that
// sets only the numbers of R4-R6, keeps working.
func (p Policy) WithDefaults() Policy {
	if p.MailsPerRecipientHour == 0 {
		p.MailsPerRecipientHour = DefaultMailsPerRecipientHour
	}
	if p.MailsPerOrgHour == 0 {
		p.MailsPerOrgHour = DefaultMailsPerOrgHour
	}
	return p
}

// Validate reports a policy that cannot work.
func (p Policy) Validate() error {
	switch {
	case p.ActivationTTL <= 0:
		return fmt.Errorf("activation TTL must be positive, got %s", p.ActivationTTL)
	case p.MaxModifications < 0:
		return fmt.Errorf("max modifications must not be negative, got %d", p.MaxModifications)
	case p.ResendsPerHour < 1:
		return fmt.Errorf("resends per hour must be at least 1, got %d", p.ResendsPerHour)
	case p.ResendsTotal < 1:
		return fmt.Errorf("resends total must be at least 1, got %d", p.ResendsTotal)
	case p.MailsPerRecipientHour < 1 || p.MailsPerRecipientHour > MaxMailsPerRecipientHour:
		return fmt.Errorf("mails per recipient an hour must be between 1 and %d, got %d", MaxMailsPerRecipientHour, p.MailsPerRecipientHour)
	case p.MailsPerOrgHour < 1:
		return fmt.Errorf("mails per organization an hour must be at least 1, got %d", p.MailsPerOrgHour)
	}
	return nil
}

// LinkKind says why an activation link was made.
type LinkKind string

// Link kinds.
const (
	LinkSubmitted LinkKind = "SUBMITTED"
	LinkModified  LinkKind = "MODIFIED"
	LinkResent    LinkKind = "RESENT"
	LinkRebound   LinkKind = "REBOUND"
)

func created(m *Member) *Error {
	if m.Type == TypeInvited {
		return Errorf(CodeInvitedMember, "member %q was invited: security information can be bound only for created member accounts", m.Name)
	}
	return nil
}

// DecideBind decides a bindSecurityInfo request. On a FAILED member it is a
// rebind (R8), which it returns as LinkRebound.
func DecideBind(m *Member) (LinkKind, *Error) {
	if err := created(m); err != nil {
		return "", err
	}
	switch m.Status() {
	case StatusPending:
		return "", Errorf(CodeAlreadyBound, "member %q already has security information waiting for activation: modify it or send the link again", m.Name)
	case StatusActivated:
		return "", Errorf(CodeAlreadyBound, "member %q already has activated security information", m.Name)
	case StatusFailed:
		return LinkRebound, nil
	}
	return LinkSubmitted, nil
}

// DecideRebind decides a rebindSecurityInfo request (R8).
func DecideRebind(m *Member) *Error {
	if err := created(m); err != nil {
		return err
	}
	if s := m.Status(); s != StatusFailed {
		return Errorf(CodeNotFailed, "member %q is %s: only a binding whose activation failed can be bound again", m.Name, s)
	}
	return nil
}

// pending checks that m is a created member with a live pending binding.
func pending(m *Member, op string) *Error {
	if err := created(m); err != nil {
		return err
	}
	switch s := m.Status(); s {
	case StatusFailed:
		return Errorf(CodeLinkExpired, "the activation link of member %q has expired: bind the security information again with a new email", m.Name)
	case StatusUnbound, StatusActivated:
		return Errorf(CodeNotPending, "member %q is %s: only pending security information can be %s", m.Name, s, op)
	}
	return nil
}

// DecideModify decides an updateSecurityInfo request (R5).
func DecideModify(m *Member, info SecurityInfo, p Policy) *Error {
	if err := pending(m, "modified"); err != nil {
		return err
	}
	if m.Binding.Modifications >= p.MaxModifications {
		return Errorf(CodeModificationLimitReached, "the security information of member %q was already modified %d times, the most allowed before activation", m.Name, p.MaxModifications)
	}
	if info.Same(m.Binding) {
		return Errorf(CodeSameAsCurrent, "the security information given is the same as the current one; nothing was changed")
	}
	return nil
}

// DecideResend decides a resendActivationLink request (R6). sends are the
// creation times of every link of the binding, in any order.
func DecideResend(m *Member, sends []time.Time, p Policy) *Error {
	if err := pending(m, "sent again"); err != nil {
		return err
	}
	next, ok := NextSend(sends, m.AsOf, p)
	if ok {
		return nil
	}
	if next.IsZero() {
		return Errorf(CodeResendLimitReached, "the activation link of member %q was already sent %d times, the most allowed", m.Name, p.ResendsTotal)
	}
	e := Errorf(CodeResendLimitReached, "the activation link of member %q was sent %d times within the last hour; it can be sent again at %s", m.Name, p.ResendsPerHour, next.UTC().Format(time.RFC3339))
	e.RetryAt = &next
	return e
}

// NextSend says whether a binding with these link sends may send another at
// now; when not, it returns the instant it may, or the zero time if never.
func NextSend(sends []time.Time, now time.Time, p Policy) (time.Time, bool) {
	if len(sends) >= p.ResendsTotal {
		return time.Time{}, false
	}
	var window []time.Time
	for _, s := range sends {
		if now.Sub(s) < time.Hour {
			window = append(window, s)
		}
	}
	if len(window) < p.ResendsPerHour {
		return now, true
	}
	sort.Slice(window, func(i, j int) bool { return window[i].Before(window[j]) })
	// The window must shed enough sends to leave room for one more.
	return window[len(window)-p.ResendsPerHour].Add(time.Hour), false
}

// Removal says whether m may be removed from its organization (R10) and,
// when not, why.
func Removal(m *Member) (bool, []string) {
	if m.RemovedAt != nil {
		return false, []string{"the member was already removed from the organization"}
	}
	if m.Type == TypeInvited {
		return true, nil
	}
	switch m.Status() {
	case StatusActivated:
		return true, nil
	case StatusUnbound:
		return false, []string{"a created member account can be removed only after its security information is bound and activated; none is bound yet"}
	case StatusPending:
		return false, []string{"a created member account can be removed only after its security information is activated; the activation link has not been confirmed yet"}
	default:
		return false, []string{"a created member account can be removed only after its security information is activated; the activation failed, bind it again"}
	}
}

// DecideRemove decides a removeMember request.
func DecideRemove(m *Member) *Error {
	if ok, reasons := Removal(m); !ok {
		return Errorf(CodeNotRemovable, "member %q cannot be removed: %s", m.Name, reasons[0])
	}
	return nil
}
