package graph

import (
	"context"
	"crypto/sha256"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// Limits of one GraphQL document, checked before anything executes.
const (
	// MaxTokens caps the tokens the parser reads of one document. The
	// playground's introspection query is about 300, the console's
	// largest query under 200.
	MaxTokens = 5000
	// MaxFields caps the fields one operation selects, each fragment
	// counted every time it is spread, so that a document cannot fan out
	// into more work than it spells out. It is checked before gqlgen
	// validates the document, since validation compares the fields of one
	// response key pairwise: 4,900 copies of __typename took it 5.7 s. The
	// playground's introspection query selects 226 fields, the console's
	// page of members under 60.
	MaxFields = 500
	// MaxAliases caps the aliased fields of one operation: aliases are how
	// one document asks for the same expensive field thousands of times.
	MaxAliases = 100
	// IntrospectionValuesPerPoint is how many values of an introspection
	// answer cost one point of complexity. An introspection value is a
	// name or a flag read from the schema in memory, some 25 bytes of
	// JSON; a point of a member page holds about 300 bytes. The
	// playground's full introspection query costs about a tenth of the
	// complexity limit.
	IntrospectionValuesPerPoint = 10
)

// codeTooComplex marks an operation refused for its size or cost: a
// validation rule of this server's own, which the GraphQL-over-HTTP
// specification counts as validation (400 in
// application/graphql-response+json; see httpTransport). It is registered
// as a protocol error for gqlgen's other transports.
const codeTooComplex = "COMPLEXITY_LIMIT_EXCEEDED"

func init() { errcode.RegisterErrorType(codeTooComplex, errcode.KindProtocol) }

// operationLimits refuses an operation before it executes when it selects
// too many fields or aliases, costs more than MaxComplexity, or asks for
// the schema while introspection is off; it records the cost for
// limitCost. It replaces gqlgen's FixedComplexityLimit, which counts
// nothing below __schema: one request of thousands of aliased __schema
// fields answered 26.7 MB for a cost of 0.
type operationLimits struct {
	es            graphql.ExecutableSchema
	introspection bool
	// sized holds the documents already found within MaxFields and
	// MaxAliases, so that a client's usual queries are parsed once, as
	// gqlgen's query cache does for execution.
	sized *lru.LRU[struct{}]
}

func newOperationLimits(introspection bool) *operationLimits {
	return &operationLimits{introspection: introspection, sized: lru.New[struct{}](1000)}
}

var _ interface {
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
	graphql.HandlerExtension
} = (*operationLimits)(nil)

// ExtensionName implements graphql.HandlerExtension.
func (*operationLimits) ExtensionName() string { return "memberbind operation limits" }

// Validate implements graphql.HandlerExtension.
func (l *operationLimits) Validate(es graphql.ExecutableSchema) error {
	l.es = es
	return nil
}

// costStats is what operationLimits records of an operation.
type costStats struct{ Complexity int }

const costExtension = "memberbind cost"

// MutateOperationParameters implements graphql.OperationParameterMutator:
// it refuses a document with too many fields or aliases before gqlgen
// parses and validates it. A document that does not parse is left to
// gqlgen, which says why.
func (l *operationLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	sum := sha256.Sum256([]byte(p.Query))
	id := string(sum[:]) // not the query itself: documents run up to a megabyte
	if _, ok := l.sized.Get(ctx, id); ok || p.Query == "" {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, MaxTokens)
	if err != nil {
		return nil
	}
	c := newSelectionCounter(doc)
	for _, op := range doc.Operations {
		n := c.count(op.SelectionSet)
		switch {
		case n.fields > MaxFields:
			return tooComplex("the operation selects %d fields (fragments counted each time they are spread); at most %d are allowed", n.fields, MaxFields)
		case n.aliases > MaxAliases:
			return tooComplex("the operation uses %d aliases; at most %d are allowed", n.aliases, MaxAliases)
		}
	}
	l.sized.Add(ctx, id, struct{}{})
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator.
func (l *operationLimits) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	op := opCtx.Operation
	if op == nil {
		return nil
	}
	n := newSelectionCounter(opCtx.Doc).count(op.SelectionSet)
	if n.introspection > 0 && !l.introspection {
		err := gqlerror.Errorf("introspection is turned off on this server: __schema and __type are not available")
		errcode.Set(err, errcode.ValidationFailed)
		return err
	}

	cost := complexity.Calculate(ctx, l.es, op, opCtx.Variables)
	if n.introspection > 0 {
		w := introspectionWalker{
			ast:    l.es.Schema(),
			schema: introspection.WrapSchema(l.es.Schema()),
			vars:   opCtx.Variables,
			limit:  (MaxComplexity - cost + 1) * IntrospectionValuesPerPoint,
		}
		w.selection(op.SelectionSet, w.root)
		cost += (w.values + IntrospectionValuesPerPoint - 1) / IntrospectionValuesPerPoint
	}
	opCtx.Stats.SetExtension(costExtension, &costStats{Complexity: cost})
	if cost > MaxComplexity {
		return tooComplex("operation has complexity %d, which exceeds the limit of %d", cost, MaxComplexity)
	}
	return nil
}

func tooComplex(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, codeTooComplex)
	return err
}

// operationCost is the operation's cost as operationLimits computed it, 0
// when it was not: a request refused before it had an operation (a body
// that is not a GraphQL request, a parse error) reaches the response
// middleware without an operation context.
func operationCost(ctx context.Context) int64 {
	if !graphql.HasOperationContext(ctx) {
		return 0
	}
	if s, ok := graphql.GetOperationContext(ctx).Stats.GetExtension(costExtension).(*costStats); ok {
		return int64(s.Complexity)
	}
	return 0
}

// selections counts what an operation selects.
type selections struct {
	fields, aliases, introspection int
}

func (s *selections) add(o selections) {
	s.fields = saturatingAdd(s.fields, o.fields)
	s.aliases = saturatingAdd(s.aliases, o.aliases)
	s.introspection = saturatingAdd(s.introspection, o.introspection)
}

func saturatingAdd(a, b int) int {
	const most = 1 << 40
	return min(a+b, most)
}

// selectionCounter counts each fragment once and reuses the count at every
// spread, so that counting takes the document's size in time however much
// it fans out. Validation has already refused fragment cycles.
type selectionCounter struct {
	doc       *ast.QueryDocument
	fragments map[string]selections
}

func newSelectionCounter(doc *ast.QueryDocument) *selectionCounter {
	return &selectionCounter{doc: doc, fragments: map[string]selections{}}
}

func (c *selectionCounter) count(set ast.SelectionSet) selections {
	var n selections
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n.fields = saturatingAdd(n.fields, 1)
			if s.Alias != "" && s.Alias != s.Name {
				n.aliases = saturatingAdd(n.aliases, 1)
			}
			if s.Name == "__schema" || s.Name == "__type" {
				n.introspection = saturatingAdd(n.introspection, 1)
			}
			n.add(c.count(s.SelectionSet))
		case *ast.InlineFragment:
			n.add(c.count(s.SelectionSet))
		case *ast.FragmentSpread:
			f, ok := c.fragments[s.Name]
			if !ok {
				if def := c.doc.Fragments.ForName(s.Name); def != nil {
					c.fragments[s.Name] = selections{} // a cycle, had validation missed one, counts nothing
					f = c.count(def.SelectionSet)
				}
				c.fragments[s.Name] = f
			}
			n.add(f)
		}
	}
	return n
}

// introspectionWalker counts the values an introspection selection would
// answer, walking gqlgen's own introspection types over the schema, and
// stops as soon as it has counted past limit: its work is bounded by the
// limit, not by what the query asks.
type introspectionWalker struct {
	ast    *ast.Schema
	schema *introspection.Schema
	vars   map[string]any
	limit  int
	values int
}

// selection walks set, calling visit for each field, fragments included,
// and reports whether the limit still holds.
func (w *introspectionWalker) selection(set ast.SelectionSet, visit func(*ast.Field) bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			w.values++
			if w.values > w.limit || !visit(s) {
				return false
			}
		case *ast.InlineFragment:
			if !w.selection(s.SelectionSet, visit) {
				return false
			}
		case *ast.FragmentSpread:
			if s.Definition != nil && !w.selection(s.Definition.SelectionSet, visit) {
				return false
			}
		}
	}
	return true
}

// root visits an operation's top-level fields: only __schema and __type
// answer from the schema; complexity.Calculate counts the others.
func (w *introspectionWalker) root(f *ast.Field) bool {
	switch f.Name {
	case "__schema":
		return w.selection(f.SelectionSet, w.schemaField)
	case "__type":
		name, _ := f.ArgumentMap(w.vars)["name"].(string)
		return w.typ(f.SelectionSet, introspection.WrapTypeFromDef(w.ast, w.ast.Types[name]))
	}
	return true
}

func (w *introspectionWalker) schemaField(f *ast.Field) bool {
	switch f.Name {
	case "types":
		types := w.schema.Types()
		for i := range types {
			if !w.typ(f.SelectionSet, &types[i]) {
				return false
			}
		}
	case "queryType":
		return w.typ(f.SelectionSet, w.schema.QueryType())
	case "mutationType":
		return w.typ(f.SelectionSet, w.schema.MutationType())
	case "subscriptionType":
		return w.typ(f.SelectionSet, w.schema.SubscriptionType())
	case "directives":
		for _, d := range w.schema.Directives() {
			if !w.inputValues(f.SelectionSet, "args", d.Args) {
				return false
			}
		}
	}
	return true
}

// inputValues walks set once per value, for a field (args) that answers
// a list of input values; any other field of set is a scalar.
func (w *introspectionWalker) inputValues(set ast.SelectionSet, field string, values []introspection.InputValue) bool {
	return w.selection(set, func(f *ast.Field) bool {
		if f.Name != field {
			return true
		}
		return w.inputList(f.SelectionSet, values)
	})
}

// inputList walks set, the selection of a list of input values (args,
// inputFields), once per value; a value's type is its only field that is
// not a scalar.
func (w *introspectionWalker) inputList(set ast.SelectionSet, values []introspection.InputValue) bool {
	for i := range values {
		if !w.selection(set, func(f *ast.Field) bool {
			if f.Name == "type" {
				return w.typ(f.SelectionSet, values[i].Type)
			}
			return true
		}) {
			return false
		}
	}
	return true
}

func (w *introspectionWalker) typ(set ast.SelectionSet, t *introspection.Type) bool {
	if t == nil {
		return true
	}
	return w.selection(set, func(f *ast.Field) bool {
		var each []introspection.Type
		switch f.Name {
		case "ofType":
			return w.typ(f.SelectionSet, t.OfType())
		case "interfaces":
			each = t.Interfaces()
		case "possibleTypes":
			each = t.PossibleTypes()
		case "enumValues":
			for range t.EnumValues(true) {
				if !w.selection(f.SelectionSet, func(*ast.Field) bool { return true }) {
					return false
				}
			}
		case "inputFields":
			return w.inputList(f.SelectionSet, t.InputFields())
		case "fields":
			for _, fd := range t.Fields(true) {
				if !w.selection(f.SelectionSet, func(g *ast.Field) bool {
					switch g.Name {
					case "type":
						return w.typ(g.SelectionSet, fd.Type)
					case "args":
						return w.inputList(g.SelectionSet, fd.Args)
					}
					return true
				}) {
					return false
				}
			}
		}
		for i := range each {
			if !w.typ(f.SelectionSet, &each[i]) {
				return false
			}
		}
		return true
	})
}
