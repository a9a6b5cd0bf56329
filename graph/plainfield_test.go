package graph

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestResolvePlainField checks that a plain field is read without its
// field context while nothing can be reported, and through gqlgen's path,
// which reports at the field's own path, when something can.
func TestResolvePlainField(t *testing.T) {
	when := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		read      func(ctx context.Context) (any, error)
		nonNull   bool
		want      string // what is written
		slow      bool   // through gqlgen's path
		wantError bool   // an error at the field's path
	}{
		{"a value", func(context.Context) (any, error) { return when, nil }, true, `"2026-11-01T09:00:00Z"`, false, false},
		{"null where allowed", func(context.Context) (any, error) { return time.Time{}, nil }, false, `null`, false, false},
		{"null where not allowed", func(context.Context) (any, error) { return time.Time{}, nil }, true, `null`, true, true},
		{"an error", func(context.Context) (any, error) { return nil, errors.New("broken") }, true, `null`, true, true},
		{"a panic", func(context.Context) (any, error) { panic("broken") }, true, `null`, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, graphql.DefaultRecover)
			oc := &graphql.OperationContext{RecoverFunc: func(context.Context, any) error { return errors.New("internal error") }, ResolverMiddleware: func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) }}
			ctx = graphql.WithOperationContext(ctx, oc)
			ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: "member", Name: "member"}}})
			field := graphql.CollectedField{Field: &ast.Field{Alias: "createdAt", Name: "createdAt"}}
			inits := 0
			m := resolvePlainField(ctx, oc, field,
				func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error) {
					inits++
					return graphql.NewScalarFieldContext("Member", field, false, false, "Time")
				},
				c.read, nil,
				func(ctx context.Context, _ ast.SelectionSet, v time.Time) graphql.Marshaler {
					res := graphql.MarshalTime(v)
					if res == graphql.Null && c.nonNull {
						graphql.AddInvalidNullFromMarshaler(ctx, "Time!")
					}
					return res
				},
				true, c.nonNull)
			var b bytes.Buffer
			m.MarshalGQL(&b)
			if b.String() != c.want {
				t.Errorf("wrote %s, want %s", b.String(), c.want)
			}
			if got := inits > 0; got != c.slow {
				t.Errorf("through gqlgen's path: %v, want %v", got, c.slow)
			}
			errs := graphql.GetErrors(ctx)
			if (len(errs) > 0) != c.wantError {
				t.Fatalf("errors %v, want some: %v", errs, c.wantError)
			}
			for _, e := range errs {
				if got := e.Path.String(); got != "member.createdAt" {
					t.Errorf("error %q at %s, want member.createdAt", e.Message, got)
				}
			}
		})
	}
}
