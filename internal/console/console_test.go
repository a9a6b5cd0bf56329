package console

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// get runs one request through Handler.
func get(t *testing.T, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, r)
	return w
}

var (
	assetRef  = regexp.MustCompile(`(?:src|href)="(/console/assets/[^"]+)"`)
	importRef = regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^'"]*?from\s+'(\./[^']+)'`)
)

const wantCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func TestPage(t *testing.T) {
	if ContentSecurityPolicy != wantCSP {
		t.Fatalf("ContentSecurityPolicy = %q, want %q", ContentSecurityPolicy, wantCSP)
	}
	for _, p := range []string{"/console", "/console/", "/console?x=1"} {
		t.Run(p, func(t *testing.T) {
			w := get(t, http.MethodGet, p, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", p, w.Code)
			}
			for name, want := range map[string]string{
				"Content-Type":               "text/html; charset=utf-8",
				"Cache-Control":              "no-store",
				"Content-Security-Policy":    wantCSP,
				"Referrer-Policy":            "no-referrer",
				"X-Content-Type-Options":     "nosniff",
				"Cross-Origin-Opener-Policy": "same-origin",
			} {
				if got := w.Header().Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			body := w.Body.String()
			// Nothing inline: every script is an empty element with a src,
			// and there is no style element or attribute, no event handler
			// attribute and no javascript: URL.
			for _, tag := range regexp.MustCompile(`<script[^>]*>[^<]*</script>`).FindAllString(body, -1) {
				if !strings.Contains(tag, ` src="`) || !strings.HasSuffix(tag, `"></script>`) {
					t.Errorf("inline script: %s", tag)
				}
			}
			if n, m := strings.Count(body, "<script"), strings.Count(body, "</script>"); n != m || n == 0 {
				t.Errorf("%d <script> tags, %d closed", n, m)
			}
			for _, bad := range []*regexp.Regexp{
				regexp.MustCompile(`(?i)<style`),
				regexp.MustCompile(`(?i)\sstyle=`),
				regexp.MustCompile(`(?i)\son[a-z]+=`),
				regexp.MustCompile(`(?i)javascript:`),
			} {
				if m := bad.FindString(body); m != "" {
					t.Errorf("page has inline code or style: %q", m)
				}
			}
			if !regexp.MustCompile(`<script type="module" src="/console/assets/app\.[0-9a-f]{12}\.js"></script>`).MatchString(body) {
				t.Errorf("page does not load app.js as a module by its hashed name:\n%s", body)
			}
			if !strings.Contains(body, `data-endpoint="/graphql"`) {
				t.Errorf("page does not name the endpoint /graphql")
			}
		})
	}
}

func TestHead(t *testing.T) {
	for _, p := range []string{"/console", "/console/assets/app.js"} {
		w := get(t, http.MethodHead, p, nil)
		if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Type") == "" {
			t.Errorf("HEAD %s = %d with %d body bytes, Content-Type %q; want 200, no body, a type",
				p, w.Code, w.Body.Len(), w.Header().Get("Content-Type"))
		}
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/", http.StatusNotFound},
		{"GET", "/graphql", http.StatusNotFound},
		{"GET", "/consoles", http.StatusNotFound},
		{"GET", "/console/index.html", http.StatusNotFound},
		{"GET", "/console/members", http.StatusNotFound},
		{"GET", "/console/assets", http.StatusNotFound},
		{"GET", "/console/assets/", http.StatusNotFound},
		{"GET", "/console/assets/nope.js", http.StatusNotFound},
		{"GET", "/console/assets/../index.html", http.StatusNotFound},
		{"GET", "/console/assets/app.000000000000.js", http.StatusNotFound},
		{"GET", "/favicon.ico", http.StatusNotFound},
		{"POST", "/console/nope", http.StatusNotFound},
		{"POST", "/console", http.StatusMethodNotAllowed},
		{"PUT", "/console/", http.StatusMethodNotAllowed},
		{"DELETE", "/console", http.StatusMethodNotAllowed},
		{"OPTIONS", "/console", http.StatusMethodNotAllowed},
		{"POST", "/console/assets/app.js", http.StatusMethodNotAllowed},
	} {
		w := get(t, tc.method, tc.path, nil)
		if w.Code != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, w.Code, tc.want)
		}
		if tc.want == http.StatusMethodNotAllowed && w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow = %q, want GET, HEAD", tc.method, tc.path, w.Header().Get("Allow"))
		}
	}
}

// TestPageAssets fetches every asset the page links to, by its hashed
// name. How such a name is cached, gzipped and revalidated is
// internal/webasset's to test.
func TestPageAssets(t *testing.T) {
	page := get(t, http.MethodGet, "/console", nil).Body.String()
	refs := assetRef.FindAllStringSubmatch(page, -1)
	if len(refs) != 2 {
		t.Fatalf("page links %d assets, want 2 (console.css, app.js):\n%s", len(refs), page)
	}
	for _, ref := range refs {
		w := get(t, http.MethodGet, ref[1], nil)
		if w.Code != http.StatusOK || w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s = %d, Cache-Control %q; want 200, immutable", ref[1], w.Code, w.Header().Get("Cache-Control"))
		}
	}
}

// TestModuleImports follows the modules' relative imports: each must be
// served under its plain name, revalidated on each use, since the module
// that imports it may be cached for good under its hashed name.
func TestModuleImports(t *testing.T) {
	seen := map[string]bool{}
	queue := []string{"app.js"}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		w := get(t, http.MethodGet, AssetPrefix+name, nil)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s%s = %d, want 200", AssetPrefix, name, w.Code)
			continue
		}
		if got := w.Header().Get("Content-Type"); got != "text/javascript; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", name, got)
		}
		if got := w.Header().Get("Cache-Control"); got != "no-cache" {
			t.Errorf("%s: Cache-Control %q, want no-cache", name, got)
		}
		for _, m := range importRef.FindAllStringSubmatch(w.Body.String(), -1) {
			queue = append(queue, strings.TrimPrefix(m[1], "./"))
		}
	}
	var all []string
	fs.WalkDir(assetFiles, "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".js") {
			all = append(all, strings.TrimPrefix(p, "assets/"))
		}
		return err
	})
	for _, name := range all {
		if !seen[name] {
			t.Errorf("module %s is embedded but nothing imports it", name)
		}
	}
	if !slices.Contains(all, "i18n.js") || !seen["dialogs.js"] {
		t.Errorf("modules reached from app.js: %v; embedded: %v", seen, all)
	}
}

// TestNoUnsafeSinks keeps the scripts off the APIs that parse strings as
// markup or code, and off inline styles, which the policy would block.
func TestNoUnsafeSinks(t *testing.T) {
	banned := regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setTimeout\(\s*['"` + "`" + `]|\.style\.|\.cssText|setAttribute\(\s*'style'|createContextualFragment|DOMParser`)
	err := fs.WalkDir(assetFiles, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		body, err := assetFiles.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(body), "\n") {
			if m := banned.FindString(line); m != "" {
				t.Errorf("%s:%d uses %s: %s", p, i+1, m, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUnhashedAssetsRevalidate(t *testing.T) {
	for path, wantType := range map[string]string{
		"/console/assets/app.js":      "text/javascript; charset=utf-8",
		"/console/assets/api.js":      "text/javascript; charset=utf-8",
		"/console/assets/i18n.js":     "text/javascript; charset=utf-8",
		"/console/assets/console.css": "text/css; charset=utf-8",
	} {
		w := get(t, http.MethodGet, path, nil)
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != wantType || w.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s = %d, Content-Type %q, Cache-Control %q; want 200, %q, no-cache",
				path, w.Code, w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"), wantType)
		}
	}
}

// TestMount checks the recommended mount on a ServeMux next to /graphql.
func TestMount(t *testing.T) {
	mux := http.NewServeMux()
	h := Handler()
	mux.Handle("/console", h)
	mux.Handle("/console/", h)
	mux.Handle("/graphql", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	for path, want := range map[string]int{
		"/console":                    200,
		"/console/":                   200,
		"/console/assets/app.js":      200,
		"/console/assets/console.css": 200,
		"/console/other":              404,
		"/graphql":                    http.StatusTeapot,
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != want {
			t.Errorf("GET %s = %d, want %d", path, w.Code, want)
		}
	}
}

// catalogKeys reads the keys of each language's catalog in i18n.js.
func catalogKeys(t *testing.T) map[string]map[string]bool {
	t.Helper()
	src, err := assetFiles.ReadFile("assets/i18n.js")
	if err != nil {
		t.Fatal(err)
	}
	body := string(src)
	start := strings.Index(body, "export const catalogs = {")
	zh := strings.Index(body, "\n  'zh-CN': {")
	end := strings.Index(body, "\n};\n")
	if start < 0 || zh < start || end < zh {
		t.Fatal("i18n.js: cannot find the en and zh-CN catalogs")
	}
	key := regexp.MustCompile(`(?m)^    '([\w.]+)':`)
	read := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, k := range key.FindAllStringSubmatch(s, -1) {
			m[k[1]] = true
		}
		return m
	}
	return map[string]map[string]bool{"en": read(body[start:zh]), "zh-CN": read(body[zh:end])}
}

// schemaEnum reads the values of an enum of schema.graphqls.
func schemaEnum(t *testing.T, schema, name string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?s)\benum ` + name + ` \{(.*?)\}`).FindStringSubmatch(schema)
	if m == nil {
		t.Fatalf("schema.graphqls has no enum %s", name)
	}
	var values []string
	for _, line := range strings.Split(m[1], "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, `"`) || strings.HasPrefix(line, "#") {
			continue
		}
		values = append(values, strings.Fields(line)...)
	}
	return values
}

// TestCatalog checks that English and Chinese have the same strings, that
// every string the scripts and the page name exists, and that every value
// of the schema's enums the console shows has its words.
func TestCatalog(t *testing.T) {
	cats := catalogKeys(t)
	en, zh := cats["en"], cats["zh-CN"]
	if len(en) < 100 {
		t.Fatalf("only %d English strings read from i18n.js", len(en))
	}
	for k := range en {
		if !zh[k] {
			t.Errorf("zh-CN lacks %s", k)
		}
	}
	for k := range zh {
		if !en[k] {
			t.Errorf("en lacks %s", k)
		}
	}

	// Literal keys in the scripts (in t(), tn(), and ternaries feeding
	// them) and data-i18n attributes of the page.
	prefixes := map[string]bool{}
	for k := range en {
		prefixes[strings.SplitN(k, ".", 2)[0]] = true
	}
	literal := regexp.MustCompile(`'([a-z]+)\.([A-Za-z][\w.]*)'`)
	fs.WalkDir(assetFiles, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") || p == "assets/i18n.js" {
			return err
		}
		body, _ := assetFiles.ReadFile(p)
		for _, m := range literal.FindAllStringSubmatch(string(body), -1) {
			if k := m[1] + "." + m[2]; prefixes[m[1]] && !en[k] {
				t.Errorf("%s names the string %s, which the catalog lacks", p, k)
			}
		}
		return nil
	})
	for _, m := range regexp.MustCompile(`data-i18n(?:-[a-z-]+)?="([^"]+)"`).FindAllStringSubmatch(pageSource, -1) {
		if !en[m[1]] {
			t.Errorf("index.html names the string %s, which the catalog lacks", m[1])
		}
	}

	schema, err := os.ReadFile("../../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	for enum, prefix := range map[string]string{
		"BindStatus":         "status.",
		"MemberType":         "type.",
		"MemberEventKind":    "event.",
		"MailDeliveryStatus": "delivery.",
		"UserErrorCode":      "error.",
	} {
		for _, v := range schemaEnum(t, string(schema), enum) {
			if !en[prefix+v] {
				t.Errorf("the catalog has no %s%s for %s.%s", prefix, v, enum, v)
			}
		}
	}
}
