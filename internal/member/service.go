package member

import (
	"context"
	"errors"
	"time"
)

// Filter narrows a members listing. Zero values do not filter.
type Filter struct {
	Type   Type
	Status Status
	// Search matches a member's name or the email of its current binding,
	// ignoring case: a complete email address matches exactly that email
	// (by index), anything else names and emails that contain it.
	Search string
	// Removed selects the members removed from the organization instead
	// of its current ones.
	Removed bool
}

// PageQuery asks for one page of a keyset-paginated listing. Build one
// with NewPageQuery: the Service takes First as checked.
type PageQuery struct {
	First int
	// After is the id of the last item of the previous page; 0 for the first.
	After int64
	// SkipTotal spares counting every match when nobody asked how many.
	SkipTotal bool
}

// MaxPageSize is the most items one page may hold.
const MaxPageSize = 100

// NewPageQuery asks for first items after the item with id after (0: from
// the start). A page size outside 0 to MaxPageSize is an *Error naming
// "first": this is the one place that rule is checked.
func NewPageQuery(first int, after int64) (PageQuery, error) {
	if first < 0 || first > MaxPageSize {
		return PageQuery{}, FieldErrorf(CodeInvalidInput, "first", "first must be between 0 and %d, got %d", MaxPageSize, first)
	}
	return PageQuery{First: first, After: after}, nil
}

// MemberPage is one page of members, newest first.
type MemberPage struct {
	Members []*Member
	HasNext bool
	Total   int
}

// EventPage is one page of a member's events, newest first.
type EventPage struct {
	Events  []*Event
	HasNext bool
}

// Service is what the transports use: every method acts inside one
// organization, and every change it makes is decided by the rules of this
// package inside one database transaction.
type Service interface {
	// Authenticate returns who an API key speaks for, or
	// ErrUnauthenticated.
	Authenticate(ctx context.Context, apiKey string) (*Caller, error)
	Organization(ctx context.Context, orgID int64) (*Organization, error)
	APIKeys

	// Member returns a member of the organization, or an *Error with
	// CodeMemberNotFound.
	Member(ctx context.Context, orgID, memberID int64) (*Member, error)
	Members(ctx context.Context, orgID int64, f Filter, q PageQuery) (*MemberPage, error)
	// Events returns the same page of each member's events, by member
	// id, in one read whatever the number of members. The members are as
	// the caller read them: a binding they show failed by the clock alone
	// has its EXPIRED event first (see Member.Expiry).
	Events(ctx context.Context, members []*Member, q PageQuery) (map[int64]*EventPage, error)
	// Sends returns the creation times of every link of each binding.
	Sends(ctx context.Context, bindingIDs []int64) (map[int64][]time.Time, error)

	// The mutations return the member as changed. One that fails changes
	// nothing and returns no member: a caller that shows the member as it
	// stands reads it again.
	CreateMember(ctx context.Context, orgID int64, actor Actor, t Type, name, remark string) (*Member, error)
	BindSecurityInfo(ctx context.Context, orgID int64, actor Actor, memberID int64, info SecurityInfo) (*Member, error)
	UpdateSecurityInfo(ctx context.Context, orgID int64, actor Actor, memberID int64, info SecurityInfo) (*Member, error)
	ResendActivationLink(ctx context.Context, orgID int64, actor Actor, memberID int64) (*Member, error)
	RebindSecurityInfo(ctx context.Context, orgID int64, actor Actor, memberID int64, info SecurityInfo) (*Member, error)
	RemoveMember(ctx context.Context, orgID int64, actor Actor, memberID int64) (*Member, error)

	// Policy is the policy the service decides with.
	Policy() Policy
	// Now is the service's clock.
	Now() time.Time
}

// Caller is who a request speaks for: the organization its API key opens,
// the key, and the actor its changes are recorded under.
type Caller struct {
	Org *Organization
	// APIKeyID identifies the key among the organization's keys, so that
	// what is kept per key (idempotency keys) is not shared between keys.
	APIKeyID int64
	Actor    Actor
}

// ErrUnauthenticated is the one error for a request that did not prove
// which organization it speaks for: a missing, malformed, unknown or
// revoked API key. Transports render it as UNAUTHENTICATED.
var ErrUnauthenticated = errors.New("unauthenticated")
