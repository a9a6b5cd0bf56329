package graph

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"memberbind/graph/model"
	"memberbind/internal/member"
)

// plainContext is an operation's context with the field "member" above
// the field resolved, as the executor makes it.
func plainContext() (context.Context, *executionContext) {
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, graphql.DefaultRecover)
	oc := &graphql.OperationContext{
		RecoverFunc:        func(context.Context, any) error { return errors.New("internal error") },
		ResolverMiddleware: func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) },
	}
	ctx = graphql.WithOperationContext(ctx, oc)
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: "member", Name: "member"}}})
	return ctx, newExecutionContext(oc, &executableSchema{}, nil)
}

// TestPlainFields checks the fast path genpatch puts in generated.go on
// real generated fields: a value is written without gqlgen's field
// resolution (which allocates ten times), and a value that must be
// reported goes through it and is reported at the field's own path.
func TestPlainFields(t *testing.T) {
	created := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	obj := &model.Member{Member: &member.Member{Name: "Wei Zhang", CreatedAt: created}}
	field := func(name string) graphql.CollectedField {
		return graphql.CollectedField{Field: &ast.Field{Alias: name, Name: name}}
	}
	write := func(m graphql.Marshaler) string {
		var b bytes.Buffer
		m.MarshalGQL(&b)
		return b.String()
	}

	ctx, ec := plainContext()
	if got := write(ec._Member_name(ctx, field("name"), obj)); got != `"Wei Zhang"` {
		t.Errorf("name wrote %s", got)
	}
	if got := write(ec._Member_createdAt(ctx, field("createdAt"), obj)); got != `"2026-11-01T09:00:00Z"` {
		t.Errorf("createdAt wrote %s", got)
	}
	if got := write(ec._Member_loginEmail(ctx, field("loginEmail"), obj)); got != `null` {
		t.Errorf("loginEmail of an unbound member wrote %s", got)
	}
	if errs := graphql.GetErrors(ctx); len(errs) > 0 {
		t.Errorf("errors: %v", errs)
	}
	if n := testing.AllocsPerRun(100, func() { ec._Member_name(ctx, field("name"), obj) }); n > 2 {
		t.Errorf("name took %v allocations: not the fast path", n)
	}

	// A non-null time that is zero is null where the schema forbids it:
	// gqlgen's path reports it, at the field.
	ctx, ec = plainContext()
	zero := &model.Member{Member: &member.Member{Name: "Wei Zhang"}}
	if got := write(ec._Member_createdAt(ctx, field("createdAt"), zero)); got != `null` {
		t.Errorf("zero createdAt wrote %s", got)
	}
	errs := graphql.GetErrors(ctx)
	if len(errs) != 1 || errs[0].Path.String() != "member.createdAt" {
		t.Errorf("zero createdAt: errors %v, want one at member.createdAt", errs)
	}
}

func TestPlainOK(t *testing.T) {
	var nilTime *time.Time
	now := time.Now()
	for _, c := range []struct {
		name    string
		ok      func(nonNull bool) bool
		nonNull bool
		want    bool
	}{
		{"a string", func(n bool) bool { return plainOK("", n) }, true, true},
		{"an enum", func(n bool) bool { return plainOK(member.StatusPending, n) }, true, true},
		{"the zero time, non-null", func(n bool) bool { return plainOK(time.Time{}, n) }, true, false},
		{"the zero time, nullable", func(n bool) bool { return plainOK(time.Time{}, n) }, false, true},
		{"a nil time, non-null", func(n bool) bool { return plainOK(nilTime, n) }, true, false},
		{"a time", func(n bool) bool { return plainOK(&now, n) }, true, true},
		{"a nil list, non-null", func(n bool) bool { return plainOK([]string(nil), n) }, true, false},
		{"a nil list, nullable", func(n bool) bool { return plainOK([]string(nil), n) }, false, true},
	} {
		if got := c.ok(c.nonNull); got != c.want {
			t.Errorf("%s: plainOK = %v, want %v", c.name, got, c.want)
		}
	}
}
