package graph_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/codegen/config"
	gqlast "github.com/vektah/gqlparser/v2/ast"

	"memberbind/graph"
)

// memberPkg is the import path the schema's enums bind to.
const memberPkg = "memberbind/internal/member"

// TestEnumsAreTheDomains holds the schema's enums to internal/member: each
// binds, through gqlgen.yml's enum_values, to a type of the domain, each
// value to the constant of that type which spells it, and every constant of
// that type is a value of the enum. A code added to the domain but not to
// the schema would otherwise reach clients as an empty enum value; one
// added to the schema but not to gqlgen.yml already fails go generate.
func TestEnumsAreTheDomains(t *testing.T) {
	f, err := os.Open("../gqlgen.yml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := config.ReadConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	consts := domainConstants(t, "../internal/member")
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	enums := 0
	for _, def := range schema.Types {
		if def.Kind != gqlast.Enum || strings.HasPrefix(def.Name, "__") {
			continue
		}
		enums++
		t.Run(def.Name, func(t *testing.T) {
			entry := cfg.Models[def.Name]
			typ, ok := strings.CutPrefix(strings.Join(entry.Model, ","), memberPkg+".")
			if !ok || len(entry.EnumValues) == 0 {
				t.Fatalf("gqlgen.yml binds enum %s to %q without enum_values; want a type of %s and its constants", def.Name, entry.Model, memberPkg)
			}
			byValue := consts[typ]
			if len(byValue) == 0 {
				t.Fatalf("%s.%s has no constants", memberPkg, typ)
			}
			inSchema := map[string]bool{}
			for _, v := range def.EnumValues {
				inSchema[v.Name] = true
				name, ok := byValue[v.Name]
				if !ok {
					t.Errorf("schema value %s.%s has no constant of member.%s", def.Name, v.Name, typ)
					continue
				}
				if got, want := entry.EnumValues[v.Name].Value, memberPkg+"."+name; got != want {
					t.Errorf("gqlgen.yml binds %s.%s to %s, want %s", def.Name, v.Name, got, want)
				}
			}
			for value, name := range byValue {
				if !inSchema[value] {
					t.Errorf("member.%s (member.%s %q) is not a value of the schema's enum %s: add it to schema.graphqls and gqlgen.yml", name, typ, value, def.Name)
				}
			}
		})
	}
	if enums == 0 {
		t.Fatal("the schema has no enums")
	}
}

// domainConstants returns, for each named type of the Go package in dir,
// its string constants by value: {"Code": {"ALREADY_BOUND":
// "CodeAlreadyBound", ...}, ...}. It reads the source rather than a list
// the package keeps, so that no constant can be left out of the check.
func domainConstants(t *testing.T, dir string) map[string]map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := map[string]map[string]string{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				typ, ok := vs.Type.(*ast.Ident)
				if !ok || len(vs.Values) != len(vs.Names) {
					continue
				}
				for i, name := range vs.Names {
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					value, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					if out[typ.Name] == nil {
						out[typ.Name] = map[string]string{}
					}
					if prev, dup := out[typ.Name][value]; dup {
						t.Fatalf("%s and %s are both %s %q", prev, name.Name, typ.Name, value)
					}
					out[typ.Name][value] = name.Name
				}
			}
		}
	}
	if len(out["Code"]) == 0 {
		t.Fatalf("no member.Code constants found in %s", dir)
	}
	return out
}
