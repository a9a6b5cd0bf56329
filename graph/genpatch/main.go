// Command genpatch rewrites calls in the code gqlgen generates for
// memberbind (graph/generated.go) to the graph package's stand-ins for
// them (graph/fieldset.go and graph/plainfield.go say what each saves):
// those of rewrites below, and a fast path at the top of each plain
// field's function (plainFields). `go generate ./graph` runs it right after gqlgen, so the
// file is still all generated: nobody edits it, and regenerating
// reproduces it byte for byte.
//
//	go run ./genpatch generated.go
//
// Each rewrite names the exact text gqlgen v0.17.98 writes. A gqlgen that
// writes something else makes genpatch fail, naming the rewrite that
// found nothing, rather than leave the file half rewritten: look at what
// gqlgen writes now, and at whether the stand-in is still needed.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
)

// rewrite replaces every occurrence of Old with New.
type rewrite struct {
	Old, New string
	Why      string
}

var rewrites = []rewrite{
	{
		Old: "graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {",
		New: "marshalSlice(ctx, len(v), func(ctx context.Context, i int) graphql.Marshaler {",
		Why: "a list's elements, one after the other instead of a goroutine each",
	},
	{
		Old: "out := graphql.NewFieldSet(fields)",
		New: "out := newFieldSet(fields)",
		Why: "an object's fields, written out without a map and a heap copy per field",
	},
	{
		Old: "var buf bytes.Buffer\n\t\t\tdata.MarshalGQL(&buf)\n\t\t\tresponse.Data = buf.Bytes()",
		New: "response.Data = marshalData(opCtx.Operation, data)",
		Why: "a query's answer written into a buffer of the size its last answer had",
	},
	{
		Old: "var buf bytes.Buffer\n\t\t\tdata.MarshalGQL(&buf)\n\n\t\t\treturn &graphql.Response{\n\t\t\t\tData: buf.Bytes(),\n\t\t\t}",
		New: "return &graphql.Response{Data: marshalData(opCtx.Operation, data)}",
		Why: "a mutation's answer written into a buffer of the size its last answer had",
	},
	{
		Old: "deferred := graphql.NewDeferredGroup(ctx)",
		New: "deferred := newDeferredGroup(ctx, fields)",
		Why: "no deferred group built for an object nobody deferred a field of",
	},
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genpatch FILE")
		os.Exit(2)
	}
	if err := patch(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "genpatch:", err)
		os.Exit(1)
	}
}

func patch(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := apply(src)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}

// apply makes every rewrite in src and formats the result.
func apply(src []byte) ([]byte, error) {
	// The plain fields' fast paths first, by offset, from the last to
	// the first so that each offset still holds when its turn comes.
	fields, err := plainFields(src)
	if err != nil {
		return nil, err
	}
	for i := len(fields) - 1; i >= 0; i-- {
		o := fields[i].Offset
		src = append(src[:o:o], append([]byte(fields[i].Insert), src[o:]...)...)
	}
	for _, r := range rewrites {
		if !bytes.Contains(src, []byte(r.Old)) {
			return nil, fmt.Errorf("found no %q to rewrite (%s): gqlgen writes something else now", r.Old, r.Why)
		}
		src = bytes.ReplaceAll(src, []byte(r.Old), []byte(r.New))
	}
	return format.Source(src)
}
