package main

import (
	"strings"
	"testing"
)

// src is the shape gqlgen v0.17.98 writes: a plain field (name), a method
// read the same way (next), a resolver (events) and a field whose read
// mentions ctx (cost).
const src = `package graph

func (ec *executionContext) _Member_name(ctx context.Context, field graphql.CollectedField, obj *model.Member) (ret graphql.Marshaler) {
	return graphql.ResolveField(ctx, ec.OperationContext, field,
		func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error) {
			return ec.fieldContext_Member_name(ctx, field)
		},
		func(ctx context.Context) (any, error) {
			return obj.Name, nil
		},
		nil, marshal, true, true)
}
func (ec *executionContext) fieldContext_Member_name(_ context.Context, field graphql.CollectedField) (fc *graphql.FieldContext, err error) {
	return graphql.NewScalarFieldContext("Member", field, false, false, "String")
}
func (ec *executionContext) _Member_next(ctx context.Context, field graphql.CollectedField, obj *model.Member) (ret graphql.Marshaler) {
	return graphql.ResolveField(ctx, ec.OperationContext, field,
		func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error) {
			return ec.fieldContext_Member_next(ctx, field)
		},
		func(ctx context.Context) (any, error) {
			return obj.Next()
		},
		nil, marshal, true, false)
}
func (ec *executionContext) fieldContext_Member_next(_ context.Context, field graphql.CollectedField) (fc *graphql.FieldContext, err error) {
	return graphql.NewScalarFieldContext("Member", field, true, false, "Time")
}
func (ec *executionContext) _Member_events(ctx context.Context, field graphql.CollectedField, obj *model.Member) (ret graphql.Marshaler) {
	return graphql.ResolveField(ctx, ec.OperationContext, field,
		func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error) {
			return ec.fieldContext_Member_events(ctx, field)
		},
		func(ctx context.Context) (any, error) {
			return ec.resolvers.Member().Events(ctx, obj)
		},
		nil, marshal, true, true)
}
func (ec *executionContext) fieldContext_Member_events(_ context.Context, field graphql.CollectedField) (fc *graphql.FieldContext, err error) {
	return graphql.NewScalarFieldContext("Member", field, true, true, "String")
}
func (ec *executionContext) _Member_cost(ctx context.Context, field graphql.CollectedField, obj *model.Member) (ret graphql.Marshaler) {
	return graphql.ResolveField(ctx, ec.OperationContext, field,
		func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error) {
			return ec.fieldContext_Member_cost(ctx, field)
		},
		func(ctx context.Context) (any, error) {
			return obj.Cost(ctx), nil
		},
		nil, marshal, true, true)
}
func (ec *executionContext) fieldContext_Member_cost(_ context.Context, field graphql.CollectedField) (fc *graphql.FieldContext, err error) {
	return graphql.NewScalarFieldContext("Member", field, true, false, "Int")
}
`

func TestPlainCalls(t *testing.T) {
	offsets, err := plainCalls([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, o := range offsets {
		head := src[:o]
		fn := head[strings.LastIndex(head, "func (ec *executionContext) ")+len("func (ec *executionContext) "):]
		fields = append(fields, fn[:strings.Index(fn, "(")])
	}
	if got := strings.Join(fields, " "); got != "_Member_name _Member_next" {
		t.Errorf("plain fields: %s, want _Member_name _Member_next", got)
	}
}

func TestApplyRefusesUnknownOutput(t *testing.T) {
	if _, err := apply([]byte(src)); err == nil || !strings.Contains(err.Error(), "gqlgen writes something else now") {
		t.Errorf("apply on a file without gqlgen's list and object calls: %v, want a refusal naming the rewrite", err)
	}
	if _, err := plainCalls([]byte("package graph\n")); err == nil {
		t.Error("plainCalls on a file without plain fields: no error")
	}
}
