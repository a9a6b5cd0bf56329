package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestConsoleQueriesAreTheConsoles checks that the copies of the
// console's requests the figures send (and graph's benchmark of its list)
// are what internal/console/assets/api.js sends, but for white space: a
// change to the console's fields shows here, not in a figure that
// quietly measures another request.
func TestConsoleQueriesAreTheConsoles(t *testing.T) {
	js, err := os.ReadFile("../../internal/console/assets/api.js")
	if err != nil {
		t.Fatal(err)
	}
	consts := jsTemplates(t, string(js))
	list := consts["membersQuery"]
	// Client.mutate's query, for bindSecurityInfo.
	m := regexp.MustCompile("const query = `(mutation Console_\\$\\{name\\}[^`]*)`").FindStringSubmatch(string(js))
	if m == nil {
		t.Fatal("api.js: no mutation query in Client.mutate")
	}
	bind := expand(strings.NewReplacer("${name}", "bindSecurityInfo", "${type}", consts["mutations.bindSecurityInfo"]).Replace(m[1]), consts)

	graphList := goConst(t, "../../graph/bench_test.go", "consoleMembers")
	tests := []struct {
		name, got, want string
	}{
		{"consoleMembersQuery", consoleMembersQuery, list},
		{"consoleBindMutation", consoleBindMutation, bind},
		{"graph's consoleMembers", graphList, list},
	}
	for _, tt := range tests {
		if got, want := squeeze(tt.got), squeeze(tt.want); got != want {
			t.Errorf("%s is not api.js's:\n got %s\nwant %s", tt.name, got, want)
		}
	}
}

// jsTemplates returns api.js's string constants, `${…}` expanded, and the
// input type of each entry of its mutations map as "mutations.<name>".
func jsTemplates(t *testing.T, js string) map[string]string {
	t.Helper()
	consts := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^const (\\w+) = (?:`([^`]*)`|'([^']*)');").FindAllStringSubmatch(js, -1) {
		consts[m[1]] = expand(m[2]+m[3], consts)
	}
	body, ok := strings.CutPrefix(js[strings.Index(js, "const mutations = {"):], "const mutations = {")
	if !ok {
		t.Fatal("api.js: no mutations map")
	}
	body, _, _ = strings.Cut(body, "};")
	for _, m := range regexp.MustCompile(`(\w+): '(\w+)'`).FindAllStringSubmatch(body, -1) {
		consts["mutations."+m[1]] = m[2]
	}
	for _, name := range []string{"membersQuery", "memberFields", "payloadFields", "mutations.bindSecurityInfo"} {
		if consts[name] == "" {
			t.Fatalf("api.js: no %s", name)
		}
	}
	return consts
}

// expand replaces each ${name} in s by consts[name].
func expand(s string, consts map[string]string) string {
	return regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(s, func(ref string) string {
		if v, ok := consts[ref[2:len(ref)-1]]; ok {
			return v
		}
		return ref
	})
}

// goConst returns the string constant name declared in the Go file path.
func goConst(t *testing.T, path, name string) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			for i, n := range v.Names {
				if lit, ok := v.Values[i].(*ast.BasicLit); ok && n.Name == name {
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					return s
				}
			}
		}
	}
	t.Fatalf("%s: no string constant %s", path, name)
	return ""
}

// squeeze is s with its white space runs made one space, and none next
// to punctuation, so that the indentation of a copy does not count.
func squeeze(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return regexp.MustCompile(` ?([{}():,!]) ?`).ReplaceAllString(s, "$1")
}
