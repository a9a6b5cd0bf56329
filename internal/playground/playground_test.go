package playground

import (
	"net/http"
	"net/http/httptest"
	"regexp"
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
	nonceAttr = regexp.MustCompile(`nonce="([^"]+)"`)
	assetRef  = regexp.MustCompile(`(?:src|href)="(/playground/assets/[^"]+)"`)
)

func TestPage(t *testing.T) {
	for _, p := range []string{"/", "/playground", "/playground/"} {
		t.Run(p, func(t *testing.T) {
			w := get(t, http.MethodGet, p, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", p, w.Code)
			}
			body := w.Body.String()
			m := nonceAttr.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("page has no style nonce:\n%s", body)
			}
			wantCSP := "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-" + m[1] + "'; " +
				"connect-src 'self'; img-src 'self' data:; font-src 'self' data:; " +
				"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
			for name, want := range map[string]string{
				"Content-Type":            "text/html; charset=utf-8",
				"Cache-Control":           "no-store",
				"Content-Security-Policy": wantCSP,
				"Referrer-Policy":         "no-referrer",
				"X-Content-Type-Options":  "nosniff",
			} {
				if got := w.Header().Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if strings.Contains(body, "<script>") || regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).MatchString(body) {
				t.Errorf("page has an inline script:\n%s", body)
			}
			if !strings.Contains(body, `data-endpoint="/graphql"`) {
				t.Errorf("page does not name the endpoint /graphql:\n%s", body)
			}
		})
	}
}

func TestPageNonceIsFresh(t *testing.T) {
	a := nonceAttr.FindStringSubmatch(get(t, http.MethodGet, "/", nil).Body.String())
	b := nonceAttr.FindStringSubmatch(get(t, http.MethodGet, "/", nil).Body.String())
	if a == nil || b == nil || a[1] == b[1] || len(a[1]) < 22 {
		t.Errorf("nonces %q and %q: want two different ones of 128 bits or more", a, b)
	}
}

func TestHead(t *testing.T) {
	for _, p := range []string{"/", "/playground/assets/playground.js"} {
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
		{"GET", "/index.html", http.StatusNotFound},
		{"GET", "/graphql", http.StatusNotFound}, // mounted at "/", it must not swallow other paths
		{"GET", "/favicon.ico", http.StatusNotFound},
		{"GET", "/playground/index.html", http.StatusNotFound},
		{"GET", "/playground/assets/", http.StatusNotFound},
		{"GET", "/playground/assets/nope.js", http.StatusNotFound},
		{"GET", "/playground/assets/licenses", http.StatusNotFound},
		{"GET", "/playground/assets/../index.html", http.StatusNotFound},
		{"POST", "/nope", http.StatusNotFound},
		{"POST", "/", http.StatusMethodNotAllowed},
		{"PUT", "/playground", http.StatusMethodNotAllowed},
		{"DELETE", "/playground/", http.StatusMethodNotAllowed},
		{"POST", "/playground/assets/playground.js", http.StatusMethodNotAllowed},
		{"OPTIONS", "/", http.StatusMethodNotAllowed},
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
	page := get(t, http.MethodGet, "/", nil).Body.String()
	refs := assetRef.FindAllStringSubmatch(page, -1)
	if len(refs) != 6 {
		t.Fatalf("page links %d assets, want 6 (2 stylesheets, 4 scripts):\n%s", len(refs), page)
	}
	for _, ref := range refs {
		w := get(t, http.MethodGet, ref[1], nil)
		if w.Code != http.StatusOK || w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s = %d, Cache-Control %q; want 200, immutable", ref[1], w.Code, w.Header().Get("Cache-Control"))
		}
	}
}

func TestUnhashedAssetsRevalidate(t *testing.T) {
	for path, wantType := range map[string]string{
		"/playground/assets/graphiql.min.js":               "text/javascript; charset=utf-8",
		"/playground/assets/graphiql.min.css":              "text/css; charset=utf-8",
		"/playground/assets/react.production.min.js":       "text/javascript; charset=utf-8",
		"/playground/assets/react-dom.production.min.js":   "text/javascript; charset=utf-8",
		"/playground/assets/playground.js":                 "text/javascript; charset=utf-8",
		"/playground/assets/playground.css":                "text/css; charset=utf-8",
		"/playground/assets/licenses/graphiql.LICENSE":     "text/plain; charset=utf-8",
		"/playground/assets/licenses/react.LICENSE":        "text/plain; charset=utf-8",
		"/playground/assets/licenses/react-dom.LICENSE":    "text/plain; charset=utf-8",
		"/playground/assets/licenses/graphiql-bundled.txt": "text/plain; charset=utf-8",
	} {
		w := get(t, http.MethodGet, path, nil)
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != wantType || w.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s = %d, Content-Type %q, Cache-Control %q; want 200, %q, no-cache",
				path, w.Code, w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"), wantType)
		}
	}
}

// TestMount checks both ways of mounting on a ServeMux: with /playground
// registered the page is served there directly, without it the mux
// redirects /playground to /playground/.
func TestMount(t *testing.T) {
	for _, tc := range []struct {
		name     string
		patterns []string
		want     map[string]int
	}{
		{"recommended", []string{"/", "/playground", "/playground/"},
			map[string]int{"/": 200, "/playground": 200, "/playground/": 200, "/playground/assets/playground.js": 200, "/other": 404, "/playground/other": 404}},
		{"minimal", []string{"/", "/playground/"},
			map[string]int{"/": 200, "/playground": 307, "/playground/": 200, "/playground/assets/playground.js": 200, "/other": 404, "/playground/other": 404}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			h := Handler()
			for _, p := range tc.patterns {
				mux.Handle(p, h)
			}
			mux.Handle("/graphql", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusTeapot)
			}))
			tc.want["/graphql"] = http.StatusTeapot
			for path, want := range tc.want {
				w := httptest.NewRecorder()
				mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
				if w.Code != want {
					t.Errorf("GET %s = %d, want %d", path, w.Code, want)
				}
			}
		})
	}
}
