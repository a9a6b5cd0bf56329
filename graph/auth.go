package graph

import (
	"context"
	"errors"
	"strings"

	"memberbind/internal/member"
)

type ctxKey int

const (
	orgKey ctxKey = iota
	actorKey
)

// withOrg returns ctx carrying the authenticated organization and actor.
func withOrg(ctx context.Context, org *member.Organization, actor member.Actor) context.Context {
	ctx = context.WithValue(ctx, orgKey, org)
	return context.WithValue(ctx, actorKey, actor)
}

// errUnauthenticated reaches resolvers only if the auth middleware was
// bypassed; it is rendered as UNAUTHENTICATED.
var errUnauthenticated = errors.New("unauthenticated")

// orgOf returns the organization the request acts for.
func orgOf(ctx context.Context) (*member.Organization, member.Actor, error) {
	org, ok := ctx.Value(orgKey).(*member.Organization)
	if !ok || org == nil {
		return nil, "", errUnauthenticated
	}
	actor, _ := ctx.Value(actorKey).(member.Actor)
	return org, actor, nil
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
