package member

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// WebhookEventType is a kind of event an organization's webhook endpoints
// may subscribe to (DESIGN.md §10). The values are the schema's
// WebhookEventType enum; Name is the type as a payload spells it.
type WebhookEventType string

// Webhook event types.
const (
	WebhookMemberActivated    WebhookEventType = "MEMBER_ACTIVATED"
	WebhookBindingFailed      WebhookEventType = "BINDING_FAILED"
	WebhookMailDeliveryFailed WebhookEventType = "MAIL_DELIVERY_FAILED"
	WebhookMemberRemoved      WebhookEventType = "MEMBER_REMOVED"
	WebhookMemberSignedIn     WebhookEventType = "MEMBER_SIGNED_IN"
)

// WebhookEventTypes are every event type, in the order the schema lists them.
var WebhookEventTypes = []WebhookEventType{
	WebhookMemberActivated, WebhookBindingFailed, WebhookMailDeliveryFailed, WebhookMemberRemoved, WebhookMemberSignedIn,
}

// Name is the type in a payload's "type": dotted lower case, the first
// word naming the object ("member.activated", "mail.delivery_failed").
func (t WebhookEventType) Name() string {
	obj, rest, _ := strings.Cut(strings.ToLower(string(t)), "_")
	return obj + "." + rest
}

// Valid says whether t is one of WebhookEventTypes.
func (t WebhookEventType) Valid() bool {
	for _, v := range WebhookEventTypes {
		if t == v {
			return true
		}
	}
	return false
}

// WebhookEventOf is the webhook event type of a member event, or "" when
// that kind of event is not sent to webhooks.
func WebhookEventOf(kind EventKind) WebhookEventType {
	switch kind {
	case EventActivated:
		return WebhookMemberActivated
	case EventDeliveryFailed:
		return WebhookMailDeliveryFailed
	case EventRemoved:
		return WebhookMemberRemoved
	case EventSignedIn:
		return WebhookMemberSignedIn
	}
	return ""
}

// PublicMemberID is a member's id as the GraphQL API shows it (graph/model's
// EncodeID of kind Member), so that a webhook's receiver can look the member
// up with it.
func PublicMemberID(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("Member:" + strconv.FormatInt(id, 10)))
}

// WebhookEndpoint is a URL of an organization's that receives the events it
// subscribes to. Its signing secret is never part of it: it is shown once,
// when it is made (created or rotated).
type WebhookEndpoint struct {
	ID        int64
	OrgID     int64
	URL       string
	Events    []WebhookEventType
	CreatedAt time.Time
	UpdatedAt time.Time
	// FailingSince is the first failed attempt since the endpoint last
	// accepted a delivery; nil while it accepts them.
	FailingSince *time.Time
	// DisabledAt is when the endpoint was disabled for failing for
	// WebhookDisableAfter; an update enables it again.
	DisabledAt *time.Time
}

// Subscribes says whether the endpoint receives events of type t.
func (e *WebhookEndpoint) Subscribes(t WebhookEventType) bool {
	for _, v := range e.Events {
		if v == t {
			return true
		}
	}
	return false
}

// WebhookDisableAfter is how long an endpoint may fail every delivery
// before it is disabled; WebhookGiveUpAfter how long one delivery is
// retried.
const (
	WebhookDisableAfter = 24 * time.Hour
	WebhookGiveUpAfter  = 24 * time.Hour
)

// WebhookDeliveryStatus is the state of one event's delivery to one endpoint.
type WebhookDeliveryStatus string

// Webhook delivery statuses, the schema's WebhookDeliveryStatus.
const (
	WebhookQueued    WebhookDeliveryStatus = "QUEUED"
	WebhookRetrying  WebhookDeliveryStatus = "RETRYING"
	WebhookDelivered WebhookDeliveryStatus = "DELIVERED"
	WebhookFailed    WebhookDeliveryStatus = "FAILED"
)

// WebhookDelivery is one event sent (or to be sent) to one endpoint.
type WebhookDelivery struct {
	ID         int64
	OrgID      int64
	EndpointID int64
	// MessageID is the webhook-id header: msg_ and random characters, the
	// same on every attempt, so that a receiver can drop a repeat.
	MessageID string
	Type      WebhookEventType
	Payload   string // the JSON body, exactly as signed and sent
	Status    WebhookDeliveryStatus
	Attempts  int
	CreatedAt time.Time
	// NextAttemptAt is when the next attempt is due (QUEUED, RETRYING).
	NextAttemptAt time.Time
	DeliveredAt   *time.Time
	LastError     string
	// ResponseCode is the HTTP status of the last response; 0 when no
	// attempt got one.
	ResponseCode int
}

// WebhookEndpoints is the registration side of webhooks.
type WebhookEndpoints interface {
	// WebhookEndpoints returns the organization's endpoints, newest first.
	WebhookEndpoints(ctx context.Context, orgID int64) ([]*WebhookEndpoint, error)
	// CreateWebhookEndpoint registers url for events and returns the
	// endpoint and its signing secret (whsec_ and base64), which nothing
	// can show again.
	CreateWebhookEndpoint(ctx context.Context, orgID int64, url string, events []WebhookEventType) (*WebhookEndpoint, string, error)
	// UpdateWebhookEndpoint changes an endpoint's url and events (nil
	// keeps each) and enables it again if it was disabled.
	UpdateWebhookEndpoint(ctx context.Context, orgID, id int64, url *string, events []WebhookEventType) (*WebhookEndpoint, error)
	// DeleteWebhookEndpoint deletes an endpoint and its deliveries, and
	// returns it as it stood.
	DeleteWebhookEndpoint(ctx context.Context, orgID, id int64) (*WebhookEndpoint, error)
	// RotateWebhookSecret gives an endpoint a new secret and returns it;
	// deliveries from then on are signed with it.
	RotateWebhookSecret(ctx context.Context, orgID, id int64) (*WebhookEndpoint, string, error)
	// WebhookDeliveries returns each endpoint's newest first deliveries,
	// by endpoint id.
	WebhookDeliveries(ctx context.Context, orgID int64, endpointIDs []int64, first int) (map[int64][]*WebhookDelivery, error)
}

// CheckWebhookEvents checks the event types an endpoint subscribes to and
// returns them without repeats, in the schema's order.
func CheckWebhookEvents(events []WebhookEventType) ([]WebhookEventType, *Error) {
	if len(events) == 0 {
		return nil, FieldErrorf(CodeInvalidInput, "events", "an endpoint must subscribe to at least one event type")
	}
	want := map[WebhookEventType]bool{}
	for _, e := range events {
		if !e.Valid() {
			return nil, FieldErrorf(CodeInvalidInput, "events", "%q is not a webhook event type", string(e))
		}
		want[e] = true
	}
	var out []WebhookEventType
	for _, e := range WebhookEventTypes {
		if want[e] {
			out = append(out, e)
		}
	}
	return out, nil
}

// WebhookMessage is a delivery as a worker claims it: with where it goes
// and the secret that signs it.
type WebhookMessage struct {
	WebhookDelivery
	URL    string
	Secret string // whsec_...
}

// Enabled says whether the endpoint receives deliveries.
func (e *WebhookEndpoint) Enabled() bool { return e.DisabledAt == nil }

// NextAttempt is when the next attempt is due, nil once there is none.
func (d *WebhookDelivery) NextAttempt() *time.Time {
	if d.Status != WebhookQueued && d.Status != WebhookRetrying {
		return nil
	}
	t := d.NextAttemptAt
	return &t
}

// LastErrorText is LastError, nil when there is none.
func (d *WebhookDelivery) LastErrorText() *string {
	if d.LastError == "" {
		return nil
	}
	return &d.LastError
}

// Response is ResponseCode, nil when no attempt got a response.
func (d *WebhookDelivery) Response() *int {
	if d.ResponseCode == 0 {
		return nil
	}
	return &d.ResponseCode
}

// WebhookAttempt is the outcome of one attempt to deliver a webhook.
type WebhookAttempt struct {
	At           time.Time
	ResponseCode int    // 0: no response
	Excerpt      string // the start of the response body
	Error        string // why it failed; "" when it was delivered
}
