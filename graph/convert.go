package graph

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"

	"memberbind/graph/model"
	"memberbind/internal/contact"
	"memberbind/internal/member"
)

// payload turns a service result into a MemberPayload: business failures
// become userErrors beside the member as it stands; anything else is a
// fault for the error presenter.
func payload(m *member.Member, err error) (*model.MemberPayload, error) {
	p := &model.MemberPayload{Member: m, UserErrors: []*model.UserError{}}
	if err == nil {
		return p, nil
	}
	derr, ok := member.AsError(err)
	if !ok {
		return nil, err
	}
	ue := &model.UserError{Code: model.UserErrorCode(derr.Code), Message: derr.Message, RetryAt: derr.RetryAt}
	if len(derr.Field) > 0 {
		ue.Field = append([]string{"input"}, derr.Field...)
	}
	p.UserErrors = append(p.UserErrors, ue)
	return p, nil
}

// memberID decodes a member id given in an input; an id that is not one
// is a member that cannot be found.
func memberID(s string) (int64, error) {
	id, ok := decodeID(kindMember, s)
	if !ok {
		return 0, member.FieldErrorf(member.CodeMemberNotFound, "memberId", "no such member in this organization")
	}
	return id, nil
}

// securityInfoInput validates a SecurityInfoInput (R11).
func securityInfoInput(in model.SecurityInfoInput) (int64, member.SecurityInfo, error) {
	id, err := memberID(in.MemberID)
	if err != nil {
		return 0, member.SecurityInfo{}, err
	}
	info, err := contact.Parse(in.Email, in.CountryCode, in.Phone)
	return id, info, err
}

// pageQuery checks a connection's first and after arguments.
func pageQuery(first *int, after *string, cursorKind string) (member.PageQuery, error) {
	q := member.PageQuery{First: 20}
	if first != nil {
		q.First = *first
	}
	if q.First < 0 || q.First > member.MaxPageSize {
		return q, member.FieldErrorf(member.CodeInvalidInput, "first", "first must be between 0 and %d, got %d", member.MaxPageSize, q.First)
	}
	if after != nil && *after != "" {
		id, ok := decodeID(cursorKind, *after)
		if !ok {
			return q, member.FieldErrorf(member.CodeInvalidInput, "after", "after is not a cursor of this list")
		}
		q.After = id
	}
	return q, nil
}

func stringPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// sends are the creation times of a binding's links.
func sends(ctx context.Context, info *model.SecurityInfo) ([]time.Time, error) {
	s, err := loadersOf(ctx).sends.Load(ctx, info.ID)
	if err != nil && !errors.Is(err, dataloadgen.ErrNotFound) {
		return nil, err
	}
	return s, nil
}

// resendsRemaining is how many more times the binding's link may be sent.
func resendsRemaining(ctx context.Context, svc member.Service, info *model.SecurityInfo) (int, error) {
	if info.Status(info.AsOf) != member.StatusPending {
		return 0, nil
	}
	s, err := sends(ctx, info)
	if err != nil {
		return 0, err
	}
	return max(0, svc.Policy().ResendsTotal-len(s)), nil
}

func policy(p member.Policy) *model.Policy {
	return &model.Policy{
		ActivationTTLSeconds: int(p.ActivationTTL / time.Second),
		MaxModifications:     p.MaxModifications,
		ResendsPerHour:       p.ResendsPerHour,
		ResendsTotal:         p.ResendsTotal,
	}
}

// nextResendAllowedAt is when the binding may send its link again, or nil
// when it may now, or never.
func nextResendAllowedAt(ctx context.Context, svc member.Service, info *model.SecurityInfo) (*time.Time, error) {
	if info.Status(info.AsOf) != member.StatusPending {
		return nil, nil
	}
	sends, err := sends(ctx, info)
	if err != nil {
		return nil, err
	}
	next, ok := member.NextSend(sends, info.AsOf, svc.Policy())
	if ok || next.IsZero() {
		return nil, nil
	}
	return &next, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// current reads a member for a payload whose input failed validation, so
// the client still sees the member as it stands; nil when there is none.
func (r *mutationResolver) current(ctx context.Context, orgID, id int64) *member.Member {
	if id == 0 {
		return nil
	}
	m, err := r.Service.Member(ctx, orgID, id)
	if err != nil {
		return nil
	}
	return m
}

// delivery is the delivery of the newest link's mail.
func delivery(ctx context.Context, info *model.SecurityInfo) (*member.Delivery, error) {
	if info.Delivery != nil {
		return info.Delivery, nil
	}
	d, err := loadersOf(ctx).deliveries.Load(ctx, info.NewestLinkID)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return &member.Delivery{LinkID: info.NewestLinkID, Status: member.DeliveryQueued}, nil
	}
	return d, err
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

// primeLoaders loads, in one batch each, what the page's members will ask
// their loaders for, so that a page costs the same number of queries
// whatever its size and however its field resolvers are scheduled.
func primeLoaders(ctx context.Context, members []*member.Member) error {
	info := []string{"edges", "node", "securityInfo"}
	var bindings []int64
	for _, m := range members {
		if m.Binding != nil {
			bindings = append(bindings, m.Binding.ID)
		}
	}
	if len(bindings) == 0 {
		return nil
	}
	l := loadersOf(ctx)
	if requested(ctx, append(info, "nextResendAllowedAt")...) || requested(ctx, append(info, "resendsRemaining")...) {
		if _, err := l.sends.LoadAll(ctx, bindings); err != nil && !notFoundOnly(err) {
			return err
		}
	}
	return nil
}

// notFoundOnly reports whether a LoadAll error only says that some keys
// have no value.
func notFoundOnly(err error) bool {
	var errs dataloadgen.ErrorSlice
	if !errors.As(err, &errs) {
		return errors.Is(err, dataloadgen.ErrNotFound)
	}
	for _, e := range errs {
		if e != nil && !errors.Is(e, dataloadgen.ErrNotFound) {
			return false
		}
	}
	return true
}

// eventCursor is the cursor of an event. An event derived rather than
// stored (a binding's expiry) comes before every stored one.
func eventCursor(e *member.Event) string {
	if e.ID == 0 {
		return encodeID(kindEventCursor, math.MaxInt64)
	}
	return encodeID(kindEventCursor, e.ID)
}

// securityInfo runs a mutation that takes security information: it
// validates the input (R11) and calls change for the request's
// organization.
func (r *mutationResolver) securityInfo(ctx context.Context, input model.SecurityInfoInput,
	change func(ctx context.Context, orgID int64, actor member.Actor, memberID int64, info member.SecurityInfo) (*member.Member, error),
) (*model.MemberPayload, error) {
	org, actor, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	id, info, err := securityInfoInput(input)
	if err != nil {
		return payload(r.current(ctx, org.ID, id), err)
	}
	return payload(change(ctx, org.ID, actor, id, info))
}
