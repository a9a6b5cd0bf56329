package graph

import (
	"context"
	"strings"

	"memberbind/internal/member"
)

type ctxKey int

const callerKey ctxKey = iota

// withCaller returns ctx carrying who the request speaks for.
func withCaller(ctx context.Context, c *member.Caller) context.Context {
	return context.WithValue(ctx, callerKey, c)
}

// callerOf returns who the request speaks for, nil when the auth
// middleware did not run.
func callerOf(ctx context.Context) *member.Caller {
	c, _ := ctx.Value(callerKey).(*member.Caller)
	if c == nil || c.Org == nil {
		return nil
	}
	return c
}

// orgOf returns the organization the request acts for. Without one (only
// if the auth middleware was bypassed) it returns member.ErrUnauthenticated,
// which the presenter renders as UNAUTHENTICATED.
func orgOf(ctx context.Context) (*member.Organization, member.Actor, error) {
	c := callerOf(ctx)
	if c == nil {
		return nil, "", member.ErrUnauthenticated
	}
	return c.Org, c.Actor, nil
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
