package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strings"
)

// plainCalls finds, in the generated source, the graphql.ResolveField
// calls of plain fields and returns the offset of each call's
// "graphql.ResolveField", for apply to point at resolvePlainField
// (graph/plainfield.go). A plain field is one whose value a context-free
// read of the parent gives, and whose type has no fields of its own:
//
//   - its field context is a scalar's (graphql.NewScalarFieldContext) and
//     not a resolver's (the fourth argument is false);
//   - its resolver function is a single return that never mentions ctx:
//     `return obj.Name, nil` or `return obj.NextResendAllowedAt()`;
//   - no directive wraps it (the middleware argument is nil).
func plainCalls(src []byte) ([]int, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "generated.go", src, 0)
	if err != nil {
		return nil, err
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
	var offsets []int
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
		if !contextFree(call.Args[4]) {
			continue
		}
		if id, ok := call.Args[5].(*ast.Ident); !ok || id.Name != "nil" {
			continue
		}
		offsets = append(offsets, fset.Position(call.Fun.Pos()).Offset)
	}
	if len(offsets) == 0 {
		return nil, fmt.Errorf("found no plain field's graphql.ResolveField call: gqlgen writes something else now")
	}
	sort.Ints(offsets)
	return offsets, nil
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

// contextFree reports whether e is a resolver literal whose body is one
// return, of a value and nil or of one call, that never mentions ctx.
func contextFree(e ast.Expr) bool {
	lit, ok := e.(*ast.FuncLit)
	if !ok || len(lit.Body.List) != 1 {
		return false
	}
	ret, ok := lit.Body.List[0].(*ast.ReturnStmt)
	if !ok {
		return false
	}
	switch len(ret.Results) {
	case 1:
		if _, ok := ret.Results[0].(*ast.CallExpr); !ok {
			return false
		}
	case 2:
		if id, ok := ret.Results[1].(*ast.Ident); !ok || id.Name != "nil" {
			return false
		}
	default:
		return false
	}
	free := true
	ast.Inspect(lit.Body, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id.Name == "ctx" {
			free = false
		}
		return free
	})
	return free
}
