package layout

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// module is the module path of memberbind.
const module = "memberbind"

// allowed lists, for each package of the module, the packages of the module
// its non-test files may import. A package missing from it, or an import
// missing from its list, fails the test: add it here and to the README's
// Layout section in the same change, so the two stay one description.
var allowed = map[string][]string{
	"cmd/memberbind":       {"*"}, // wiring: it knows everything
	"cmd/memberbind-bench": {"*"}, // measures the whole service
	"graph":                {"graph/model", "internal/contact", "internal/member", "internal/requestid", "internal/requestlog"},
	"graph/genpatch":       {},
	"graph/model":          {"internal/member"},
	"internal/console":     {"internal/webasset"},
	"internal/contact":     {"internal/member"},
	"internal/devstack":    {},
	"internal/landing":     {"internal/member", "internal/options", "internal/ratelimit", "internal/webpage"},
	"internal/layout":      {},
	"internal/mail":        {"internal/member", "internal/options"},
	"internal/webhook":     {"internal/member", "internal/options"},
	"internal/member":      {},
	"internal/metrics":     {},
	"internal/middleware":  {"internal/requestid", "internal/requestlog"},
	"internal/mysql":       {"internal/contact", "internal/member", "migrations"},
	"internal/options":     {},
	"internal/playground":  {"internal/webasset"},
	"internal/ratelimit":   {},
	"internal/requestid":   {},
	"internal/requestlog":  {"internal/requestid"},
	"internal/signin":      {"internal/contact", "internal/member", "internal/options", "internal/ratelimit", "internal/webpage"},
	"internal/testenv":     {"internal/contact", "internal/devstack", "internal/member", "internal/mysql"},
	"internal/tracing":     {},
	"internal/webasset":    {},
	"internal/webpage":     {"internal/member"},
	"migrations":           {},
}

// TestImports checks every package's imports against allowed, under the
// build tags of both builds (the default and noembed).
func TestImports(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	reported := map[string]bool{} // each fault once, not once a build
	for _, tags := range [][]string{nil, {"noembed"}} {
		ctx := build.Default
		ctx.BuildTags = tags
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				return nil
			}
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules" || name == "artifacts") {
				return filepath.SkipDir
			}
			pkg, err := ctx.ImportDir(path, 0)
			if err != nil {
				if _, ok := err.(*build.NoGoError); ok {
					return nil
				}
				return err
			}
			rel, _ := filepath.Rel(root, path)
			rel = filepath.ToSlash(rel)
			seen[rel] = true
			for _, fault := range faults(rel, pkg.Imports) {
				if !reported[fault] {
					reported[fault] = true
					t.Error(fault)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var stale []string
	for p := range allowed {
		if !seen[p] {
			stale = append(stale, p)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("allowed names packages that do not exist any more: %v", stale)
	}
}

// faults says what is wrong with pkg importing imports.
func faults(pkg string, imports []string) []string {
	rules, ok := allowed[pkg]
	if !ok {
		return []string{"package " + pkg + " is not in the layout: add it to allowed and to the README's Layout"}
	}
	if slices.Contains(rules, "*") {
		return nil
	}
	var out []string
	for _, imp := range imports {
		if imp == module+"/internal/testenv" {
			out = append(out, pkg+" imports internal/testenv outside its tests")
			continue
		}
		dep, ok := strings.CutPrefix(imp, module+"/")
		if ok && !slices.Contains(rules, dep) {
			out = append(out, pkg+" imports "+dep+", which the layout does not allow: adapters do not import one another")
		}
	}
	return out
}
