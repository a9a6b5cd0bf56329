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
		nil, func(ctx context.Context, selections ast.SelectionSet, v string) graphql.Marshaler {
			return ec.marshalNString2string(ctx, selections, v)
		}, true, true)
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
		nil, func(ctx context.Context, selections ast.SelectionSet, v *time.Time) graphql.Marshaler {
			return ec.marshalOTime2ᚖtimeᚐTime(ctx, selections, v)
		}, true, false)
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
		nil, func(ctx context.Context, selections ast.SelectionSet, v string) graphql.Marshaler {
			return ec.marshalNString2string(ctx, selections, v)
		}, true, true)
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
		nil, func(ctx context.Context, selections ast.SelectionSet, v string) graphql.Marshaler {
			return ec.marshalNString2string(ctx, selections, v)
		}, true, true)
}
func (ec *executionContext) fieldContext_Member_cost(_ context.Context, field graphql.CollectedField) (fc *graphql.FieldContext, err error) {
	return graphql.NewScalarFieldContext("Member", field, true, false, "Int")
}
`

func TestPlainFields(t *testing.T) {
	fields, err := plainFields([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fields {
		got = append(got, f.Func+":"+f.Insert)
	}
	want := []string{
		"_Member_name:\n\tif v, ok := plainResult[string](obj.Name, nil); ok && plainOK(v, true) {\n\t\treturn ec.marshalNString2string(ctx, field.Selections, v)\n\t}",
		"_Member_next:\n\tif v, ok := plainResult[*time.Time](obj.Next()); ok && plainOK(v, false) {\n\t\treturn ec.marshalOTime2ᚖtimeᚐTime(ctx, field.Selections, v)\n\t}",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plain fields:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestApplyRefusesUnknownOutput(t *testing.T) {
	if _, err := apply([]byte(src)); err == nil || !strings.Contains(err.Error(), "gqlgen writes something else now") {
		t.Errorf("apply on a file without gqlgen's list and object calls: %v, want a refusal naming the rewrite", err)
	}
	if _, err := plainFields([]byte("package graph\n")); err == nil {
		t.Error("plainFields on a file without plain fields: no error")
	}
}
