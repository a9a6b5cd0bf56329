package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strings"
)

// plainField is a plain field's resolution in the generated source: where
// its function's body starts, and the fast path to put there.
type plainField struct {
	Func   string // "_Member_name"
	Offset int    // just after the body's opening brace
	Insert string
}

// plainFields finds, in the generated source, the fields whose value a
// context-free read of the parent gives and whose type has no fields of
// its own, and writes for each the fast path that apply puts at the top
// of its function (graph/plainfield.go says why). Such a field:
//
//   - has a scalar's field context (graphql.NewScalarFieldContext) that
//     is not a resolver's (the fourth argument is false);
//   - is resolved by a single return that never mentions ctx:
//     `return obj.Name, nil` or `return obj.NextResendAllowedAt()`;
//   - has no directive wrapping it (the middleware argument is nil).
//
// The fast path reads the value as the resolver does and, when
// plainResult and plainOK let it, writes it with the field's own
// marshaler; otherwise the function goes on to gqlgen's ResolveField:
//
//	if v, ok := plainResult[string](obj.Name, nil); ok && plainOK(v, true) {
//		return ec.marshalNString2string(ctx, field.Selections, v)
//	}
func plainFields(src []byte) ([]plainField, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "generated.go", src, 0)
	if err != nil {
		return nil, err
	}
	text := func(n ast.Node) string {
		return string(src[fset.Position(n.Pos()).Offset:fset.Position(n.End()).Offset])
	}
	scalarNotResolver := map[string]bool{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || !strings.HasPrefix(fn.Name.Name, "fieldContext_") {
			continue
		}
		call := singleReturnCall(fn.Body)
		if call == nil || !isSelector(call.Fun, "graphql", "NewScalarFieldContext") || len(call.Args) != 5 {
			continue
		}
		if id, ok := call.Args[3].(*ast.Ident); ok && id.Name == "false" {
			scalarNotResolver[fn.Name.Name] = true
		}
	}
	var out []plainField
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || !strings.HasPrefix(fn.Name.Name, "_") {
			continue
		}
		call := singleReturnCall(fn.Body)
		if call == nil || !isSelector(call.Fun, "graphql", "ResolveField") || len(call.Args) != 9 {
			continue
		}
		if !scalarNotResolver["fieldContext"+fn.Name.Name] || !callsMethod(call.Args[3], "fieldContext"+fn.Name.Name) {
			continue
		}
		results := contextFree(call.Args[4])
		if results == nil {
			continue
		}
		if id, ok := call.Args[5].(*ast.Ident); !ok || id.Name != "nil" {
			continue
		}
		typ, marshal := marshaler(call.Args[6])
		nonNull, ok := call.Args[8].(*ast.Ident)
		if typ == nil || marshal == nil || !ok || (nonNull.Name != "true" && nonNull.Name != "false") {
			continue
		}
		var args []string
		for _, r := range results {
			args = append(args, text(r))
		}
		m := text(marshal)
		m = strings.Replace(m, "selections", "field.Selections", 1)
		insert := fmt.Sprintf("\n\tif v, ok := plainResult[%s](%s); ok && plainOK(v, %s) {\n\t\treturn %s\n\t}",
			text(typ), strings.Join(args, ", "), nonNull.Name, m)
		out = append(out, plainField{Func: fn.Name.Name, Offset: fset.Position(fn.Body.Lbrace).Offset + 1, Insert: insert})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("found no plain field's graphql.ResolveField call: gqlgen writes something else now")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	return out, nil
}

// marshaler is the value type and the marshal call of a marshal literal
// `func(ctx context.Context, selections ast.SelectionSet, v T) graphql.Marshaler { return <call> }`.
func marshaler(e ast.Expr) (ast.Expr, *ast.CallExpr) {
	lit, ok := e.(*ast.FuncLit)
	if !ok || len(lit.Type.Params.List) != 3 {
		return nil, nil
	}
	p := lit.Type.Params.List
	if len(p[1].Names) != 1 || p[1].Names[0].Name != "selections" || len(p[2].Names) != 1 || p[2].Names[0].Name != "v" {
		return nil, nil
	}
	return p[2].Type, singleReturnCall(lit.Body)
}

// singleReturnCall is the call of a body that is `return call(...)`.
func singleReturnCall(body *ast.BlockStmt) *ast.CallExpr {
	if body == nil || len(body.List) != 1 {
		return nil
	}
	ret, ok := body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return nil
	}
	call, _ := ret.Results[0].(*ast.CallExpr)
	return call
}

func isSelector(e ast.Expr, pkg, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == pkg
}

// callsMethod reports whether e is a function literal returning
// ec.<name>(...).
func callsMethod(e ast.Expr, name string) bool {
	lit, ok := e.(*ast.FuncLit)
	if !ok {
		return false
	}
	call := singleReturnCall(lit.Body)
	return call != nil && isSelector(call.Fun, "ec", name)
}

// contextFree returns the results of a resolver literal whose body is one
// return, of a value and nil or of one call, that never mentions ctx; nil
// for any other.
func contextFree(e ast.Expr) []ast.Expr {
	lit, ok := e.(*ast.FuncLit)
	if !ok || len(lit.Body.List) != 1 {
		return nil
	}
	ret, ok := lit.Body.List[0].(*ast.ReturnStmt)
	if !ok {
		return nil
	}
	switch len(ret.Results) {
	case 1:
		if _, ok := ret.Results[0].(*ast.CallExpr); !ok {
			return nil
		}
	case 2:
		if id, ok := ret.Results[1].(*ast.Ident); !ok || id.Name != "nil" {
			return nil
		}
	default:
		return nil
	}
	free := true
	ast.Inspect(lit.Body, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id.Name == "ctx" {
			free = false
		}
		return free
	})
	if !free {
		return nil
	}
	return ret.Results
}
