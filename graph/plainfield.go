package graph

import (
	"reflect"
	"time"
)

// plainResult and plainOK are the fast path genpatch puts at the top of
// the function of each plain field of generated.go: the scalars and enums
// a model gives without a context and without a resolver (genpatch's
// plainFields says exactly which), such as a member's name or its
// binding's nextResendAllowedAt. They are most of the fields of a page of
// members: 22 of the 27 the console asks of each.
//
//	if v, ok := plainResult[string](obj.Name, nil); ok && plainOK(v, true) {
//		return ec.marshalNString2string(ctx, field.Selections, v)
//	}
//	return graphql.ResolveField(ctx, ec.OperationContext, field, …)
//
// For each field gqlgen's ResolveField allocates a field context (its
// path, for errors), a context holding it, the closures that run the
// read through the field middleware and the value boxed in an interface,
// about 600 bytes and ten allocations, four fifths of a page's, before it
// reads obj.Name. Nothing looks at them for a plain field unless
// something goes wrong: the read needs no context, no field middleware is
// installed (newHandler refuses one), and a marshaler uses the context
// only to report a null where the schema forbids one. So the fast path
// reads and writes the value, and the field goes on to gqlgen's path,
// which reports at the field's own path, whenever anything could be
// reported: the read returns an error, or a non-null field's value is
// one a marshaler writes as null (a nil pointer, the zero time). A
// model's methods are pure, so reading one again then changes nothing.
//
// One difference remains: a model method that panics is recovered by the
// field above it (gqlgen recovers every field it resolves), which then
// answers null with the error, rather than by the field itself.
func plainResult[T any](v T, err error) (T, bool) { return v, err == nil }

// plainOK reports whether v may be written by the fast path: any value of
// a nullable field, whose marshaler writes null without a report, and any
// value of a non-null one but those its marshaler writes as null.
func plainOK[T any](v T, nonNull bool) bool {
	if !nonNull {
		return true
	}
	switch x := any(&v).(type) {
	case *string, *bool, *int, *int32, *int64, *float64:
		return true
	case *time.Time:
		return !x.IsZero()
	case **time.Time:
		return *x != nil && !(*x).IsZero()
	}
	switch r := reflect.ValueOf(v); r.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return !r.IsNil()
	}
	return true
}
