package member

import (
	"errors"
	"math"
	"time"
)

// EventKind names something that happened to a member or its binding (R12).
type EventKind string

// Event kinds. The values are the schema's MemberEventKind enum.
const (
	EventCreated         EventKind = "CREATED"
	EventInvited         EventKind = "INVITED"
	EventSubmitted       EventKind = "SUBMITTED"
	EventModified        EventKind = "MODIFIED"
	EventLinkSent        EventKind = "LINK_SENT"
	EventLinkResent      EventKind = "LINK_RESENT"
	EventDeliveryDelayed EventKind = "DELIVERY_DELAYED"
	EventDeliveryFailed  EventKind = "DELIVERY_FAILED"
	EventActivated       EventKind = "ACTIVATED"
	EventExpired         EventKind = "EXPIRED"
	EventRebound         EventKind = "REBOUND"
	EventRemoved         EventKind = "REMOVED"
	// EventSignedIn is a member signing in to its account with a sign-in
	// link mailed to its login email.
	EventSignedIn EventKind = "SIGNED_IN"
)

// Event is one recorded happening, with who did it and when.
type Event struct {
	ID       int64
	MemberID int64
	Kind     EventKind
	Actor    Actor
	Email    string // the email the event concerns, if any
	Detail   string // free text, e.g. the SMTP server's reply
	At       time.Time
}

// Expiry is the EXPIRED event of m's current binding if it has failed (R7,
// R12), as of m.AsOf; nil if it has not. Nothing records it at the expiry
// instant, since a binding fails by the clock alone: a listing shows it
// from the binding, and a rebind records it when it closes the binding.
func (m *Member) Expiry() *Event {
	if m.Status() != StatusFailed {
		return nil
	}
	b := m.Binding
	return &Event{
		MemberID: m.ID, Kind: EventExpired, Actor: ActorSystem, Email: b.Email,
		Detail: "every activation link expired unused", At: b.FailedAt(m.AsOf),
	}
}

// ExpiryPosition is where a member's expiry event, which is not stored
// and has no id, stands among its stored events in a listing (by
// descending id): before all of them. Its cursor is made of this number.
const ExpiryPosition int64 = math.MaxInt64

// DeliveryStatus is the state of an activation mail's delivery.
type DeliveryStatus string

// Delivery statuses, the schema's MailDeliveryStatus. A mail is
// CANCELLED when it was no longer needed before it went out: its link was
// superseded (never the newest link then) or the binding was activated.
const (
	DeliveryQueued    DeliveryStatus = "QUEUED"
	DeliverySent      DeliveryStatus = "SENT"
	DeliveryRetrying  DeliveryStatus = "RETRYING"
	DeliveryFailed    DeliveryStatus = "FAILED"
	DeliveryCancelled DeliveryStatus = "CANCELLED"
)

// Delivery is the delivery state of one link's mail.
type Delivery struct {
	LinkID    int64
	Status    DeliveryStatus
	Attempts  int
	LastError string
	SentAt    *time.Time
}

// OutboxKind says what a mail in the outbox is for.
type OutboxKind string

// Outbox kinds. A message whose Kind is empty is an activation mail.
const (
	OutboxActivation OutboxKind = "activation" // an activation link (R4)
	OutboxSignIn     OutboxKind = "signin"     // a sign-in link to an activated login email
)

// OutboxSent is when the SMTP server accepted an outbox row's mail, with
// the row's organization: every statement on an organization's rows names
// it, so that the schema can be sharded by organization (docs/scaling.md),
// and the worker knows it from the row it claimed.
type OutboxSent struct {
	OrgID int64
	At    time.Time
}

// OutboxMessage is a mail waiting in the outbox, with what is needed to
// write it.
type OutboxMessage struct {
	ID   int64
	Kind OutboxKind
	// OrgID, MemberID and BindingID say whose mail it is; for a sign-in
	// mail BindingID is the member's activated binding.
	OrgID     int64
	MemberID  int64
	BindingID int64
	// LinkID is the activation link, or for a sign-in mail the sign-in
	// link, that the mail carries.
	LinkID    int64
	Recipient string
	// Token is the raw link token. It lives only in the outbox row and is
	// erased when the mail is delivered.
	Token     string
	MessageID string
	Attempts  int
	CreatedAt time.Time
	// ExpiresAt is a sign-in link's expiry, fixed when the link was made;
	// zero for an activation link, whose days start when its mail is
	// accepted (R7).
	ExpiresAt time.Time

	OrgName    string
	OrgLang    string
	MemberName string
	// TraceParent is the W3C traceparent of the request that queued the
	// mail, "" if it was not traced: the send's span links to it.
	TraceParent string
}

// ErrLeaseLost is returned to a mail worker that reports on an outbox row
// it no longer holds: its lease ran out and another worker took the row,
// or the row was cancelled (its link superseded or its binding activated)
// while the mail was in flight. Retrying cannot help.
var ErrLeaseLost = errors.New("outbox row no longer held by this worker")
