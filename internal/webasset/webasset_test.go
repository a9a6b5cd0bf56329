package webasset

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
)

const prefix = "/site/assets/"

// bigScript is large enough to be served gzipped, and compresses well as
// real scripts do.
var bigScript = strings.Repeat("export const greeting = 'hello';\n", 64)

// testSet is a Set of files as the console's and the playground's are: a
// script and a stylesheet of 1 KiB or more, a small script, and license
// texts in a subdirectory.
func testSet(t *testing.T) *Set {
	t.Helper()
	s, err := New(fstest.MapFS{
		"assets/app.js":                {Data: []byte(bigScript)},
		"assets/site.css":              {Data: []byte(strings.Repeat("body { margin: 0; }\n", 64))},
		"assets/small.js":              {Data: []byte("export const x = 1;\n")},
		"assets/licenses/lib.LICENSE":  {Data: []byte("MIT License\n")},
		"assets/licenses/NOTICE":       {Data: []byte("notice\n")},
		"other/not-an-asset.js":        {Data: []byte("nope\n")},
		"assets/licenses/extra/dir.js": {Data: []byte("export {};\n")},
	}, "assets", prefix)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// get runs one request through h.
func get(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// hashedURL is s.URL(name), which must exist.
func hashedURL(t *testing.T, s *Set, name string) string {
	t.Helper()
	u, err := s.URL(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestURL(t *testing.T) {
	s := testSet(t)
	for name, want := range map[string]string{
		"app.js":                `^/site/assets/app\.[0-9a-f]{12}\.js$`,
		"site.css":              `^/site/assets/site\.[0-9a-f]{12}\.css$`,
		"licenses/lib.LICENSE":  `^/site/assets/licenses/lib\.[0-9a-f]{12}\.LICENSE$`,
		"licenses/NOTICE":       `^/site/assets/licenses/NOTICE\.[0-9a-f]{12}$`,
		"licenses/extra/dir.js": `^/site/assets/licenses/extra/dir\.[0-9a-f]{12}\.js$`,
	} {
		if u := hashedURL(t, s, name); !regexp.MustCompile(want).MatchString(u) {
			t.Errorf("URL(%q) = %q, want it to match %s", name, u, want)
		}
	}
	for _, name := range []string{"nope.js", "assets/app.js", "not-an-asset.js", "licenses", ""} {
		if u, err := s.URL(name); err == nil {
			t.Errorf("URL(%q) = %q, want an error", name, u)
		}
	}
}

// TestHashedAssets fetches files by their hashed names, as a page links
// them: cached for good, gzipped for clients that accept it, 304 on a
// matching ETag.
func TestHashedAssets(t *testing.T) {
	s := testSet(t)
	for _, name := range []string{"app.js", "site.css"} {
		u := hashedURL(t, s, name)
		t.Run(u, func(t *testing.T) {
			w := get(t, s, http.MethodGet, u, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s = %d", u, w.Code)
			}
			wantType := "text/javascript; charset=utf-8"
			if strings.HasSuffix(u, ".css") {
				wantType = "text/css; charset=utf-8"
			}
			for name, want := range map[string]string{
				"Content-Type":           wantType,
				"Cache-Control":          "public, max-age=31536000, immutable",
				"X-Content-Type-Options": "nosniff",
				"Content-Encoding":       "",
				"Vary":                   "Accept-Encoding",
			} {
				if got := w.Header().Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			plain := w.Body.Bytes()
			etag := w.Header().Get("ETag")
			if !regexp.MustCompile(`^"[0-9a-f]{12}"$`).MatchString(etag) {
				t.Errorf("ETag = %q, want the quoted content hash", etag)
			}

			gz := get(t, s, http.MethodGet, u, http.Header{"Accept-Encoding": {"br, gzip"}})
			if gz.Header().Get("Content-Encoding") != "gzip" || gz.Header().Get("Vary") != "Accept-Encoding" {
				t.Fatalf("with Accept-Encoding gzip: Content-Encoding %q, Vary %q",
					gz.Header().Get("Content-Encoding"), gz.Header().Get("Vary"))
			}
			if gz.Body.Len() >= len(plain) {
				t.Errorf("gzip body %d bytes, plain %d", gz.Body.Len(), len(plain))
			}
			zr, err := gzip.NewReader(gz.Body)
			if err != nil {
				t.Fatal(err)
			}
			unzipped, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(unzipped, plain) {
				t.Errorf("gzip body does not decompress to the asset (err %v)", err)
			}
			gzETag := gz.Header().Get("ETag")
			if gzETag == etag {
				t.Errorf("gzip and identity share the ETag %s", etag)
			}

			again := get(t, s, http.MethodGet, u, http.Header{"If-None-Match": {etag}})
			if again.Code != http.StatusNotModified {
				t.Errorf("If-None-Match %s = %d, want 304", etag, again.Code)
			}
			again = get(t, s, http.MethodGet, u, http.Header{"If-None-Match": {gzETag}, "Accept-Encoding": {"gzip"}})
			if again.Code != http.StatusNotModified {
				t.Errorf("If-None-Match %s with gzip = %d, want 304", gzETag, again.Code)
			}
		})
	}
}

// TestSmallAssetNotGzipped: below 1 KiB a file is sent as it is, and the
// answer does not vary by Accept-Encoding.
func TestSmallAssetNotGzipped(t *testing.T) {
	s := testSet(t)
	w := get(t, s, http.MethodGet, hashedURL(t, s, "small.js"), http.Header{"Accept-Encoding": {"gzip"}})
	if w.Code != http.StatusOK || w.Header().Get("Content-Encoding") != "" || w.Header().Get("Vary") != "" ||
		w.Body.String() != "export const x = 1;\n" {
		t.Errorf("GET small.js with gzip = %d, Content-Encoding %q, Vary %q, body %q; want 200, the plain body, no Vary",
			w.Code, w.Header().Get("Content-Encoding"), w.Header().Get("Vary"), w.Body.String())
	}
}

// TestUnhashedAssetsRevalidate: under its plain name a file is revalidated
// on each use, since what imports it by that name may be cached for good.
func TestUnhashedAssetsRevalidate(t *testing.T) {
	s := testSet(t)
	for p, wantType := range map[string]string{
		prefix + "app.js":                "text/javascript; charset=utf-8",
		prefix + "small.js":              "text/javascript; charset=utf-8",
		prefix + "site.css":              "text/css; charset=utf-8",
		prefix + "licenses/lib.LICENSE":  "text/plain; charset=utf-8",
		prefix + "licenses/NOTICE":       "text/plain; charset=utf-8",
		prefix + "licenses/extra/dir.js": "text/javascript; charset=utf-8",
	} {
		w := get(t, s, http.MethodGet, p, nil)
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != wantType || w.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s = %d, Content-Type %q, Cache-Control %q; want 200, %q, no-cache",
				p, w.Code, w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"), wantType)
		}
	}
}

func TestHead(t *testing.T) {
	s := testSet(t)
	for _, p := range []string{prefix + "app.js", hashedURL(t, s, "site.css")} {
		w := get(t, s, http.MethodHead, p, nil)
		if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Type") == "" {
			t.Errorf("HEAD %s = %d with %d body bytes, Content-Type %q; want 200, no body, a type",
				p, w.Code, w.Body.Len(), w.Header().Get("Content-Type"))
		}
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	s := testSet(t)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/", http.StatusNotFound},
		{"GET", "/site", http.StatusNotFound},
		{"GET", "/site/assets", http.StatusNotFound},
		{"GET", prefix, http.StatusNotFound},
		{"GET", prefix + "nope.js", http.StatusNotFound},
		{"GET", prefix + "licenses", http.StatusNotFound},
		{"GET", prefix + "licenses/", http.StatusNotFound},
		{"GET", prefix + "../other/not-an-asset.js", http.StatusNotFound},
		{"GET", prefix + "app.000000000000.js", http.StatusNotFound},
		{"GET", "/other/assets/app.js", http.StatusNotFound},
		{"POST", prefix + "nope.js", http.StatusNotFound},
		{"POST", prefix + "app.js", http.StatusMethodNotAllowed},
		{"PUT", prefix + "site.css", http.StatusMethodNotAllowed},
		{"DELETE", prefix + "app.js", http.StatusMethodNotAllowed},
		{"OPTIONS", prefix + "app.js", http.StatusMethodNotAllowed},
	} {
		w := get(t, s, tc.method, tc.path, nil)
		if w.Code != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, w.Code, tc.want)
		}
		if tc.want == http.StatusMethodNotAllowed && w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow = %q, want GET, HEAD", tc.method, tc.path, w.Header().Get("Allow"))
		}
	}
}

func TestServePage(t *testing.T) {
	const csp = "default-src 'none'"
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if MethodAllowed(w, r) {
			ServePage(w, r, csp, []byte("<!doctype html><title>t</title>"))
		}
	})
	w := get(t, page, http.MethodGet, "/", nil)
	if w.Code != http.StatusOK || w.Body.String() != "<!doctype html><title>t</title>" {
		t.Fatalf("GET = %d %q", w.Code, w.Body.String())
	}
	for name, want := range map[string]string{
		"Content-Type":               "text/html; charset=utf-8",
		"Cache-Control":              "no-store",
		"Content-Security-Policy":    csp,
		"Referrer-Policy":            "no-referrer",
		"X-Content-Type-Options":     "nosniff",
		"Cross-Origin-Opener-Policy": "same-origin",
	} {
		if got := w.Header().Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if w := get(t, page, http.MethodHead, "/", nil); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD = %d with %d body bytes, want 200 and none", w.Code, w.Body.Len())
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions} {
		w := get(t, page, m, "/", nil)
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" || w.Header().Get("Content-Security-Policy") != "" {
			t.Errorf("%s = %d, Allow %q; want 405, GET, HEAD, and no page", m, w.Code, w.Header().Get("Allow"))
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                        false,
		"gzip":                    true,
		"GZIP":                    true,
		"deflate, gzip;q=1.0, br": true,
		"gzip;q=0.5":              true,
		"gzip;q=0":                false,
		"gzip; q=0.000":           false,
		"br, deflate":             false,
		"x-gzip":                  false,
		"identity":                false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

func TestHashedName(t *testing.T) {
	for name, want := range map[string]string{
		"app.js":                    "app.0123abcd.js",
		"console.css":               "console.0123abcd.css",
		"NOTICE":                    "NOTICE.0123abcd",
		"graphiql.min.js":           "graphiql.min.0123abcd.js",
		"licenses/graphiql.LICENSE": "licenses/graphiql.0123abcd.LICENSE",
		"licenses/NOTICE":           "licenses/NOTICE.0123abcd",
	} {
		if got := hashedName(name, "0123abcd"); got != want {
			t.Errorf("hashedName(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestNewReadsInPlace: a file the FS can read at an offset (an embed.FS's,
// here an fstest.MapFS's) is served from the FS, not copied to the heap.
func TestNewReadsInPlace(t *testing.T) {
	const size = 1 << 20
	fsys := fstest.MapFS{"assets/big.js": {Data: bytes.Repeat([]byte("x"), size)}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := New(fsys, "assets", prefix)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n >= size/4 {
		t.Errorf("New allocated %d bytes for a file of %d", n, size)
	}
	w := get(t, s, http.MethodGet, prefix+"big.js", nil)
	if w.Code != http.StatusOK || w.Body.Len() != size {
		t.Errorf("GET big.js = %d with %d bytes, want 200 and %d", w.Code, w.Body.Len(), size)
	}
}
