package graph

import (
	"bytes"
	"context"
	"hash/maphash"
	"io"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// The functions of this file, and resolvePlainField (plainfield.go),
// stand in, in generated.go, for those of gqlgen's that cost the console's
// list most of its time: graph/genpatch rewrites the calls after gqlgen
// has generated the file (see generate.go), so `go generate` still
// produces all of generated.go and nobody edits it.
// Each does what gqlgen's does, with less work per list element and per
// object; the graph package's tests run every query through them.
//
// Measured with BenchmarkConsoleMembersPage (a page of 50 members with the
// console's fields), see BENCHMARKS.md.

// marshalSlice marshals a list's elements one after the other, where
// gqlgen's MarshalSliceConcurrently starts a goroutine for each element
// of a list longer than one. Those goroutines bought nothing here: every
// resolver under a list either is a plain method or loads through the
// page's batch (batch.go), which loads every member's rows on the first
// element that asks and never waits for the others to ask. What they cost
// was their start, their stacks growing through gqlgen's deep calls
// (7% of the list's CPU), and the scheduler. As gqlgen does for an
// element, a panic in one becomes an error and a null in its place.
func marshalSlice(ctx context.Context, length int, marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	ret := make(graphql.Array, length)
	for i := range length {
		index := i
		ctx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &index})
		ret[i] = marshalElement1(ctx, i, marshalElement)
	}
	return ret
}

func marshalElement1(ctx context.Context, i int, marshalElement func(ctx context.Context, i int) graphql.Marshaler) (m graphql.Marshaler) {
	defer func() {
		if r := recover(); r != nil {
			graphql.AddError(ctx, graphql.Recover(ctx, r))
			m = graphql.Null
		}
	}()
	return marshalElement(ctx, i)
}

// fieldSet is gqlgen's FieldSet, resolved as gqlgen resolves it, written
// out without what its MarshalGQL allocates for every object: a map of
// the names written, and a copy of each collected field on the heap.
// Names are unique in a field set (CollectFields merges fields of one
// response name), so a look back over the names before is the same check
// at no cost.
type fieldSet struct {
	*graphql.FieldSet
	fields []graphql.CollectedField
}

func newFieldSet(fields []graphql.CollectedField) *fieldSet {
	return &fieldSet{FieldSet: graphql.NewFieldSet(fields), fields: fields}
}

var (
	openBrace  = []byte{'{'}
	closeBrace = []byte{'}'}
	comma      = []byte{','}
	quote      = []byte{'"'}
	quoteColon = []byte{'"', ':'}
)

// MarshalGQL implements graphql.Marshaler.
func (s *fieldSet) MarshalGQL(w io.Writer) {
	w.Write(openBrace)
	first := true
fields:
	for i := range s.fields {
		alias := s.fields[i].Alias
		for j := range i {
			if s.fields[j].Alias == alias {
				continue fields
			}
		}
		if !first {
			w.Write(comma)
		}
		first = false
		// A response name is a GraphQL name, [_A-Za-z][_0-9A-Za-z]*:
		// nothing in it needs escaping.
		w.Write(quote)
		io.WriteString(w, alias)
		w.Write(quoteColon)
		s.Values[i].MarshalGQL(w)
	}
	w.Write(closeBrace)
}

// newDeferredGroup is gqlgen's NewDeferredGroup for an object with no
// @defer'd field among its fields, which is every object of every
// operation the console and the playground send: an empty group, where
// gqlgen's would compute the object's path and make a field set and a map
// for the fields nobody deferred. With a deferred field it is gqlgen's.
func newDeferredGroup(ctx context.Context, fields []graphql.CollectedField) graphql.DeferredGroup {
	for i := range fields {
		if fields[i].IsDeferred() {
			return graphql.NewDeferredGroup(ctx)
		}
	}
	return graphql.DeferredGroup{Context: ctx}
}

// dataSizes holds, for the operations served, the size of the last answer
// each had, in slots chosen by the address of the operation's parsed
// definition, which gqlgen's query cache keeps for every request of the
// same document. Two operations sharing a slot only size each other's
// buffer wrongly.
var (
	dataSizes    [256]atomic.Int32
	dataSizeSeed = maphash.MakeSeed()
)

// maxDataHint bounds the buffer a hint asks for up front.
const maxDataHint = 1 << 20

// marshalData writes an operation's data, where gqlgen writes it into a
// buffer that starts empty and doubles: a page of 50 members (about 40 KB)
// went through eleven buffers and 128 KB, a fifth of what the page
// allocated. Here the buffer starts at the size the operation's last
// answer had, and usually is the only one.
func marshalData(op *ast.OperationDefinition, data graphql.Marshaler) []byte {
	slot := &dataSizes[maphash.Comparable(dataSizeSeed, op)%uint64(len(dataSizes))]
	hint := min(int(slot.Load()), maxDataHint)
	buf := bytes.NewBuffer(make([]byte, 0, hint+hint/8+64))
	data.MarshalGQL(buf)
	slot.Store(int32(min(buf.Len(), maxDataHint)))
	return buf.Bytes()
}
