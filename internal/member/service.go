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
	// (by index), anything else names and emails that contain it, among
	// the newest SearchScope members of the list.
	Search string
	// Removed selects the members removed from the organization instead
	// of its current ones.
	Removed bool
}

// PageQuery asks for one page of a keyset-paginated listing, newest first
// (descending ids), in either direction: the first Size items of the range
// between the cursors, or, Backward, the last Size of them. Build one with
// NewPageQuery: the Service takes Size as checked.
type PageQuery struct {
	Size int
	// Backward takes the page from the end of the range (a Relay last)
	// instead of its start (first).
	Backward bool
	// After is the id of the item the range starts after (it holds older
	// items, smaller ids); 0 for the start of the list.
	After int64
	// Before is the id of the item the range ends before (it holds newer
	// items, larger ids); 0 for the end of the list.
	Before int64
	// SkipTotal spares counting every match when nobody asked how many.
	SkipTotal bool
}

// MaxPageSize is the most items one page may hold.
const MaxPageSize = 100

// DefaultPageSize is the size of a page that names neither first nor last.
const DefaultPageSize = 20

// NewPageQuery asks for the first (or the last) items between the items
// with ids after and before (0: the ends of the list); nil first and last
// ask for the first DefaultPageSize. Both first and last, or a size
// outside 0 to MaxPageSize, is an *Error naming the argument: this is the
// one place those rules are checked.
func NewPageQuery(first, last *int, after, before int64) (PageQuery, error) {
	q := PageQuery{Size: DefaultPageSize, After: after, Before: before}
	switch {
	case first != nil && last != nil:
		return PageQuery{}, FieldErrorf(CodeInvalidInput, "last", "give first or last, not both")
	case first != nil:
		q.Size = *first
	case last != nil:
		q.Size, q.Backward = *last, true
	}
	if q.Size < 0 || q.Size > MaxPageSize {
		name := "first"
		if q.Backward {
			name = "last"
		}
		return PageQuery{}, FieldErrorf(CodeInvalidInput, name, "%s must be between 0 and %d, got %d", name, MaxPageSize, q.Size)
	}
	return q, nil
}

// Contains reports whether the item with id lies between q's cursors.
func (q PageQuery) Contains(id int64) bool {
	return (q.After == 0 || id < q.After) && (q.Before == 0 || id > q.Before)
}

// Cut keeps q's page of items, the items between q's cursors in list
// order, of which it was given all those on the page's side and at least
// one more where there are more: the first Size, or Backward the last
// Size. more reports whether items of the range were left out.
func Cut[T any](q PageQuery, items []T) (page []T, more bool) {
	if len(items) <= q.Size {
		return items, false
	}
	if q.Backward {
		return items[len(items)-q.Size:], true
	}
	return items[:q.Size], true
}

// SearchScope is how many members a search by a part of a name or an
// email examines at most: the newest SearchScope members of the list it
// searches (those added last, or in the list of removed members those
// removed last). No index finds a substring, so such a search reads each
// member it examines; bounded, its page and its count cost about the same
// at a million members as at a hundred thousand. A search by a complete
// email address is not bounded: it finds its member by index among all.
const SearchScope = 100_000

// MemberPage is one page of members, newest first. HasNext says whether
// the list goes on after the page, HasPrevious whether it holds members
// before it (Relay's hasNextPage and hasPreviousPage).
type MemberPage struct {
	Members     []*Member
	HasNext     bool
	HasPrevious bool
	Total       int
	// SearchedOnlyNewest, when not zero, says that a search by a part of
	// a name or an email examined only the newest SearchedOnlyNewest
	// members of a list that has more (see SearchScope): Total counts the
	// matches among them, and the pages hold only those.
	SearchedOnlyNewest int
}

// EventPage is one page of a member's events, newest first, with
// HasNext and HasPrevious as in MemberPage.
type EventPage struct {
	Events      []*Event
	HasNext     bool
	HasPrevious bool
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
	WebhookEndpoints

	// Member returns a member of the organization, or an *Error with
	// CodeMemberNotFound.
	Member(ctx context.Context, orgID, memberID int64) (*Member, error)
	// Members returns one page of the organization's members that f
	// selects, newest first, and as asked their number. A search by a
	// part of a name or an email examines only the list's newest
	// SearchScope members (MemberPage.SearchedOnlyNewest says when that
	// left members out).
	Members(ctx context.Context, orgID int64, f Filter, q PageQuery) (*MemberPage, error)
	// MembersByID returns the organization's members with these ids,
	// removed ones too, by id, in one read; an id of no member of the
	// organization is absent.
	MembersByID(ctx context.Context, orgID int64, ids []int64) (map[int64]*Member, error)
	// EventsByID returns the stored events of the organization's members
	// with these ids, by id, in one read; an id of no such event is
	// absent.
	EventsByID(ctx context.Context, orgID int64, ids []int64) (map[int64]*Event, error)
	// Events returns the same page of each member's events, by member
	// id, in one read whatever the number of members. The members are as
	// the caller read them: a binding they show failed by the clock alone
	// has its EXPIRED event first (see Member.Expiry).
	Events(ctx context.Context, members []*Member, q PageQuery) (map[int64]*EventPage, error)
	// Sends returns the creation times of every link of each binding of
	// the organization.
	Sends(ctx context.Context, orgID int64, bindingIDs []int64) (map[int64][]time.Time, error)

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
