package graph

import (
	"context"
	"reflect"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// resolvePlainField stands in for graphql.ResolveField (see fieldset.go
// for how) for the plain fields of generated.go: the scalars and enums a
// model gives without a context and without a resolver (genpatch's
// plainCalls says exactly which), such as a member's name or its
// binding's nextResendAllowedAt. They are most of the fields of a page of
// members: 22 of the 27 the console asks of each.
//
// For each field gqlgen allocates a field context (its path, for errors),
// a context holding it, and the closures that run the resolver through
// the field middleware, before it reads obj.Name: about 600 bytes and
// eight allocations, two thirds of a page's. Nothing looks at them for a
// plain field unless something goes wrong: the read needs no context, no
// field middleware is installed (newHandler refuses one), and the
// marshalers use the context only to report a null where the schema
// forbids one. So a plain field is read and marshaled directly, and goes
// through gqlgen's ResolveField, which reports at the field's own path,
// whenever anything could be reported: the read returns an error or nil,
// or panics, or the value of a non-null field is one a marshaler turns
// into null (a nil pointer, the zero time). A model's methods are pure, so reading one
// again then changes nothing.
func resolvePlainField[T any](
	ctx context.Context,
	oc *graphql.OperationContext,
	field graphql.CollectedField,
	initializeFieldContext func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error),
	fieldResolver func(ctx context.Context) (any, error),
	middlewareChain func(ctx context.Context, next graphql.Resolver) graphql.Resolver,
	marshal func(ctx context.Context, sel ast.SelectionSet, v T) graphql.Marshaler,
	recoverFromPanic bool,
	nonNull bool,
) graphql.Marshaler {
	if middlewareChain == nil {
		if v, ok := readPlain[T](ctx, fieldResolver, nonNull); ok {
			return marshal(ctx, field.Selections, v)
		}
	}
	return graphql.ResolveField(ctx, oc, field, initializeFieldContext, fieldResolver, middlewareChain, marshal, recoverFromPanic, nonNull)
}

// readPlain reads a plain field, reporting false for anything that must
// go through gqlgen's path. A nullable field's null is no error: its
// marshaler writes null and reports nothing.
func readPlain[T any](ctx context.Context, fieldResolver func(ctx context.Context) (any, error), nonNull bool) (v T, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	res, err := fieldResolver(ctx)
	if err != nil || res == nil {
		return v, false
	}
	v, ok = res.(T)
	if !ok || (nonNull && nullValue(res)) {
		return v, false
	}
	return v, true
}

// nullValue reports whether a marshaler would write v as null: a nil
// pointer, slice or map, or the zero time (graphql.MarshalTime).
func nullValue(v any) bool {
	switch x := v.(type) {
	case string, bool, int, int32, int64, float64:
		return false
	case time.Time:
		return x.IsZero()
	case *time.Time:
		return x == nil || x.IsZero()
	}
	switch r := reflect.ValueOf(v); r.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return r.IsNil()
	}
	return false
}
