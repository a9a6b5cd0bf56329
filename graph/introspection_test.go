package graph_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/introspection"

	"memberbind/graph"
	"memberbind/internal/member"
)

// aliased returns an operation of n aliased copies of field.
func aliased(n int, field string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " a%d: %s", i, field)
	}
	b.WriteString(" }")
	return b.String()
}

// TestIntrospectionLimits: the playground's introspection query is
// answered; introspection counts toward the complexity limit, so that
// many aliased __schema fields are refused before anything executes, as
// are documents with too many tokens, aliases or fields; with
// introspection off, __schema and __type are refused and __typename is
// still answered.
func TestIntrospectionLimits(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	on, rec := a.logged(graph.Options{Introspection: true})
	off, _ := a.logged(graph.Options{Introspection: false})

	schema := on.raw("Bearer "+a.key, introspection.Query, nil)
	if schema.Status != http.StatusOK || len(schema.Errors) > 0 {
		t.Fatalf("the playground's introspection query: %d %+v", schema.Status, schema.Errors)
	}
	if types, _ := schema.Data["__schema"].(map[string]any)["types"].([]any); len(types) < 20 {
		t.Fatalf("the introspection answer lists %d types", len(types))
	}
	if d := on.do(`{ __type(name: "Member") { name fields { name } } }`, nil); d["__type"] == nil {
		t.Errorf("__type(name: Member) answered %v", d)
	}

	// 33 pages of 100 members cost 33 × (1 + 100 × 3) = 9,933 points, just
	// under the limit; the schema's introspection costs some hundreds more.
	pages := aliased(33, "members(first: 100) { edges { node { id } } }")
	if r := on.raw("Bearer "+a.key, pages, nil); r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("33 pages of members: %d %+v", r.Status, r.Errors)
	}
	pagesAndSchema := strings.Replace(introspection.Query, "query IntrospectionQuery {", "query IntrospectionQuery {"+pages[1:len(pages)-1], 1)
	refused := []struct {
		name, query, want string
	}{
		{"thousands of aliased __schema", aliased(3000, "__schema { types { name } }"), "token limit"},
		{"many aliased __schema", aliased(graph.MaxAliases+1, "__schema { description }"), "aliases"},
		{"introspection beside pages just under the limit", pagesAndSchema, "complexity"},
		{"aliased __type", aliased(graph.MaxAliases+1, `__type(name: "Member") { name }`), "aliases"},
		{"fragments fanning out", `{ ...F0 }
			fragment F0 on Query { ...F1 ...F1 } fragment F1 on Query { ...F2 ...F2 } fragment F2 on Query { ...F3 ...F3 }
			fragment F3 on Query { ...F4 ...F4 } fragment F4 on Query { ...F5 ...F5 } fragment F5 on Query { ...F6 ...F6 }
			fragment F6 on Query { ...F7 ...F7 } fragment F7 on Query { ...F8 ...F8 } fragment F8 on Query { ...F9 ...F9 }
			fragment F9 on Query { ...F10 ...F10 } fragment F10 on Query { __schema { types { name } } }`, "fields"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			r := on.raw("Bearer "+a.key, c.query, nil)
			if r.Status != http.StatusBadRequest || r.Data != nil {
				t.Errorf("status %d, data %v; want 400 and no data", r.Status, r.Data != nil)
			}
			if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, c.want) {
				t.Fatalf("errors %+v, want one about %s", r.Errors, c.want)
			}
		})
	}

	// Introspection off.
	for _, q := range []string{introspection.Query, `{ __type(name: "Member") { name } }`, `{ organization { name } s: __schema { description } }`} {
		r := off.raw("Bearer "+a.key, q, nil)
		if r.Status == http.StatusOK || r.Data != nil || len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "introspection is turned off") {
			t.Errorf("introspection off: %.40q answered %d %v %+v", q, r.Status, r.Data, r.Errors)
		}
	}
	if d := off.do(`{ __typename organization { name } }`, nil); d["__typename"] != "Query" {
		t.Errorf("introspection off: __typename answered %v", d)
	}
	if errs := rec.errors(); len(errs) > 0 {
		t.Errorf("refused operations logged errors: %q", errs)
	}
}

// TestFieldLimitBeforeValidation: copies of one field are refused before
// gqlgen's validation compares them pairwise: the document's conflicting
// fields x are never reported.
func TestFieldLimitBeforeValidation(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	r := a.raw("Bearer "+a.key, "{ x: __typename x: organization { name }"+strings.Repeat(" __typename", graph.MaxTokens-20)+"}", nil)
	if r.Status != http.StatusBadRequest || len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "fields") {
		t.Errorf("%d copies of __typename: %d %+v", graph.MaxTokens-10, r.Status, r.Errors)
	}
}
