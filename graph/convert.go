package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"memberbind/graph/model"
	"memberbind/internal/contact"
	"memberbind/internal/member"
)

// payload turns a mutation's outcome into a MemberPayload: business
// failures become userErrors beside the member as it stands; anything else
// is a fault for the error presenter. memberID is the member the mutation
// was for, 0 when none is known.
func (r *Resolver) payload(ctx context.Context, orgID, memberID int64, m *member.Member, err error) (*model.MemberPayload, error) {
	derrs := member.AllErrors(err)
	if err != nil && len(derrs) == 0 {
		return nil, err
	}
	if err != nil {
		// A failed mutation changed nothing, and the service returns no
		// member for it: this is the one place that reads the member as
		// it stands, for every failure, the input's or the rules'.
		if m, err = r.standing(ctx, orgID, memberID); err != nil {
			return nil, err
		}
	}
	p := &model.MemberPayload{Member: r.show(ctx, m)[0], UserErrors: []*model.UserError{}}
	// An input with several fields at fault has an error for each.
	for _, derr := range derrs {
		p.UserErrors = append(p.UserErrors, userError(derr))
	}
	return p, nil
}

// standing reads a member as it stands; nil when there is none (memberID
// 0 is none).
func (r *Resolver) standing(ctx context.Context, orgID, memberID int64) (*member.Member, error) {
	if memberID == 0 {
		return nil, nil
	}
	m, err := r.Service.Member(ctx, orgID, memberID)
	if member.ErrorCode(err) == member.CodeMemberNotFound {
		return nil, nil
	}
	return m, err
}

// show wraps members for the schema, under the service's policy (a nil
// member stays nil). What they read beyond the member row (link sends,
// events) is read for all of them at once: see shownTogether.
func (r *Resolver) show(ctx context.Context, members ...*member.Member) []*model.Member {
	g := newShownTogether(r.Service, members)
	sends := func(bindingID int64) ([]time.Time, error) { return g.linkSends(ctx, bindingID) }
	p := r.Service.Policy()
	out := make([]*model.Member, len(members))
	for i, m := range members {
		if m == nil {
			continue
		}
		out[i] = &model.Member{Member: m, Policy: p, LinkSends: sends,
			EventPage: func(ctx context.Context, q member.PageQuery) (*member.EventPage, error) {
				return g.eventPage(ctx, m.ID, q)
			}}
	}
	return out
}

// memberID decodes a member id given in an input; an id that is not one
// is a member that cannot be found.
func memberID(s string) (int64, error) {
	id, ok := model.DecodeID(model.KindMember, s)
	if !ok {
		return 0, member.FieldErrorf(member.CodeMemberNotFound, "memberId", "no such member in this organization")
	}
	return id, nil
}

// pageQuery is the page a connection's first, after, last and before
// arguments ask for.
func pageQuery(first *int, after *string, last *int, before *string, cursorKind string) (member.PageQuery, error) {
	cursor := func(name string, s *string) (int64, error) {
		if s == nil || *s == "" {
			return 0, nil
		}
		id, ok := model.DecodeID(cursorKind, *s)
		if !ok {
			return 0, member.FieldErrorf(member.CodeInvalidInput, name, "%s is not a cursor of this list", name)
		}
		return id, nil
	}
	a, err := cursor("after", after)
	if err != nil {
		return member.PageQuery{}, err
	}
	b, err := cursor("before", before)
	if err != nil {
		return member.PageQuery{}, err
	}
	return member.NewPageQuery(first, last, a, b)
}

// pageInfo is the PageInfo of a page whose items have these cursors.
func pageInfo(cursors []string, hasNext, hasPrevious bool) *model.PageInfo {
	info := &model.PageInfo{HasNextPage: hasNext, HasPreviousPage: hasPrevious}
	if len(cursors) > 0 {
		info.StartCursor, info.EndCursor = &cursors[0], &cursors[len(cursors)-1]
	}
	return info
}

// memberFilter is the members filter a client gave; nil filters nothing.
func memberFilter(in *model.MemberFilter) member.Filter {
	var f member.Filter
	if in == nil {
		return f
	}
	if in.MemberType != nil {
		f.Type = *in.MemberType
	}
	if in.BindStatus != nil {
		f.Status = *in.BindStatus
	}
	f.Search = deref(in.Search)
	f.Removed = in.Removed != nil && *in.Removed
	return f
}

func policy(p member.Policy) *model.Policy {
	return &model.Policy{
		ActivationTTLSeconds: int(p.ActivationTTL / time.Second),
		MaxModifications:     p.MaxModifications,
		ResendsPerHour:       p.ResendsPerHour,
		ResendsTotal:         p.ResendsTotal,

		MailsPerRecipientHour:    p.MailsPerRecipientHour,
		MailsPerOrganizationHour: p.MailsPerOrgHour,
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// requested reports whether the client asked for the field at path below
// the field being resolved, e.g. requested(ctx, "edges", "node", "name").
func requested(ctx context.Context, path ...string) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return true
	}
	op := graphql.GetOperationContext(ctx)
	sel := fc.Field.Selections
	for _, name := range path {
		found := false
		for _, f := range graphql.CollectFields(op, sel, nil) {
			if f.Name == name {
				sel, found = f.Selections, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// eventCursor is the cursor of an event. An event derived rather than
// stored (a binding's expiry) comes before every stored one.
func eventCursor(e *member.Event) string {
	if e.ID == 0 {
		return model.EncodeID(model.KindEventCursor, member.ExpiryPosition)
	}
	return model.EncodeID(model.KindEventCursor, e.ID)
}

// eventConnection is a page of a member's events as the schema shows it.
func eventConnection(page *member.EventPage) *model.MemberEventConnection {
	conn := &model.MemberEventConnection{Edges: make([]*model.MemberEventEdge, 0, len(page.Events))}
	cursors := make([]string, 0, len(page.Events))
	for _, e := range page.Events {
		cursor := eventCursor(e)
		cursors = append(cursors, cursor)
		conn.Edges = append(conn.Edges, &model.MemberEventEdge{Cursor: cursor, Node: &model.MemberEvent{Event: e}})
	}
	conn.PageInfo = pageInfo(cursors, page.HasNext, page.HasPrevious)
	return conn
}

// memberConnection is a page of members as the schema shows them.
func (r *Resolver) memberConnection(ctx context.Context, page *member.MemberPage) *model.MemberConnection {
	shown := r.show(ctx, page.Members...)
	conn := &model.MemberConnection{Edges: make([]*model.MemberEdge, 0, len(shown)), TotalCount: page.Total}
	if page.SearchedOnlyNewest > 0 {
		conn.SearchedOnlyNewest = &page.SearchedOnlyNewest
	}
	cursors := make([]string, 0, len(shown))
	for _, m := range shown {
		cursor := model.EncodeID(model.KindMemberCursor, m.Member.ID)
		cursors = append(cursors, cursor)
		conn.Edges = append(conn.Edges, &model.MemberEdge{Cursor: cursor, Node: m})
	}
	conn.PageInfo = pageInfo(cursors, page.HasNext, page.HasPrevious)
	return conn
}

// MaxNodes is the most ids one nodes query may name.
const MaxNodes = 100

// nodes finds the objects of the organization with these ids (Relay's
// node and nodes), in their order, nil where there is none: an id that is
// malformed, unknown or another organization's is the same nil, so that
// nothing tells them apart. It reads once per kind of object asked for,
// however many ids.
func (r *Resolver) nodes(ctx context.Context, ids []string) ([]model.Node, error) {
	org, _, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	if len(ids) > MaxNodes {
		return nil, member.FieldErrorf(member.CodeInvalidInput, "ids", "nodes takes at most %d ids, got %d", MaxNodes, len(ids))
	}
	type ref struct {
		kind string
		id   int64
	}
	refs := make([]ref, len(ids))
	var memberIDs, eventIDs []int64
	var keysAsked bool
	for i, s := range ids {
		kind, id, ok := model.ParseID(s)
		if !ok {
			continue
		}
		refs[i] = ref{kind, id}
		switch kind {
		case model.KindMember:
			memberIDs = append(memberIDs, id)
		case model.KindEvent:
			eventIDs = append(eventIDs, id)
		case model.KindAPIKey:
			keysAsked = true
		}
	}
	members, err := r.Service.MembersByID(ctx, org.ID, memberIDs)
	if err != nil {
		return nil, err
	}
	events, err := r.Service.EventsByID(ctx, org.ID, eventIDs)
	if err != nil {
		return nil, err
	}
	// An organization has a handful of keys: all of them are one read.
	keys := map[int64]*member.APIKey{}
	if keysAsked {
		all, err := r.Service.APIKeys(ctx, org.ID)
		if err != nil {
			return nil, err
		}
		for _, k := range all {
			keys[k.ID] = k
		}
	}
	// The members found are shown together, so that what they read
	// beyond their rows is read once for all of them.
	found := make([]*member.Member, 0, len(members))
	for _, m := range members {
		found = append(found, m)
	}
	shown := make(map[int64]*model.Member, len(found))
	for _, m := range r.show(ctx, found...) {
		shown[m.Member.ID] = m
	}
	out := make([]model.Node, len(ids))
	for i, ref := range refs {
		// Each case stores a nil interface, not a typed nil, where it
		// finds nothing.
		switch ref.kind {
		case model.KindOrganization:
			if ref.id == org.ID {
				out[i] = org
			}
		case model.KindMember:
			if m, ok := shown[ref.id]; ok {
				out[i] = m
			}
		case model.KindEvent:
			if e, ok := events[ref.id]; ok {
				out[i] = &model.MemberEvent{Event: e}
			}
		case model.KindAPIKey:
			if k, ok := keys[ref.id]; ok {
				out[i] = k
			}
		}
	}
	return out, nil
}

// mutate runs a mutation of the member a client named, for the request's
// organization, and returns its payload.
func (r *mutationResolver) mutate(ctx context.Context, input string,
	change func(orgID int64, actor member.Actor, memberID int64) (*member.Member, error),
) (*model.MemberPayload, error) {
	org, actor, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	id, err := memberID(input)
	if err != nil {
		return r.payload(ctx, org.ID, 0, nil, err)
	}
	m, err := change(org.ID, actor, id)
	return r.payload(ctx, org.ID, id, m, err)
}

// securityInfo runs a mutation that takes security information, once it
// has validated it (R11). A member id that is none, a bad email and a bad
// phone are reported together.
func (r *mutationResolver) securityInfo(ctx context.Context, input model.SecurityInfoInput,
	change func(ctx context.Context, orgID int64, actor member.Actor, memberID int64, info member.SecurityInfo) (*member.Member, error),
) (*model.MemberPayload, error) {
	org, actor, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	id, idErr := memberID(input.MemberID)
	info, infoErr := contact.Parse(input.Email, input.CountryCode, input.Phone)
	if idErr != nil || infoErr != nil {
		errs := member.AllErrors(idErr)
		errs = append(errs, member.AllErrors(infoErr)...)
		return r.payload(ctx, org.ID, id, nil, member.JoinErrors(errs...))
	}
	m, err := change(ctx, org.ID, actor, id, info)
	return r.payload(ctx, org.ID, id, m, err)
}
