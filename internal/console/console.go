// Package console serves memberbind's admin console at /console: the
// "Member account management" page of an organization, a frontend of the
// public GraphQL API at /graphql. An admin pastes the organization's API key
// once (or opens /console#key=mb_…) and creates, invites, binds, activates,
// rebinds and removes member accounts without writing a query.
//
// The console is plain HTML, CSS and JavaScript modules with no build step,
// embedded in the binary, and runs under a strict Content-Security-Policy:
// no inline script or style, no eval, and no origin other than its own. The
// scripts build the page with createElement and textContent only, so every
// value from the API is shown as text, never parsed as markup.
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// Endpoint is the path of the GraphQL endpoint the console sends its
// requests to, on the console's own origin.
const Endpoint = "/graphql"

// PagePath is where the console page is served (also with a trailing
// slash).
const PagePath = "/console"

// AssetPrefix is the path under which the console's scripts and stylesheet
// are served.
const AssetPrefix = "/console/assets/"

// ContentSecurityPolicy is the policy of the console page. Scripts are the
// console's own module files; styles are its own stylesheet (the scripts
// never set a style attribute: they toggle classes and the hidden
// attribute); connect-src 'self' lets them post to Endpoint; img-src data:
// is for the page's empty favicon, so the browser asks for no
// /favicon.ico. TestConsoleInBrowser fails on any violation of it.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

//go:embed assets
var assetFiles embed.FS

//go:embed index.html
var pageSource string

// Handler returns the handler of the console page and its assets. It serves
// the page at /console and /console/, and the assets under AssetPrefix;
// every other path is 404, and methods other than GET and HEAD are 405. It
// reads the full request path, so mount it without http.StripPrefix:
//
//	h := console.Handler()
//	mux.Handle("/console", h)
//	mux.Handle("/console/", h)
func Handler() http.Handler {
	return loadSite()
}

// site is the console's handler: the rendered page and the assets.
type site struct {
	page   []byte           // rendered once: it holds no per-request value
	assets map[string]asset // by the path after AssetPrefix, plain and hashed
}

// asset is an embedded file under one of its two names.
type asset struct {
	*file
	// immutable is set for the hashed name: the content under that name
	// never changes, so browsers may keep it for good. The plain name is
	// revalidated on each use; the modules import each other by it.
	immutable bool
}

// file is one embedded file.
type file struct {
	body        []byte
	contentType string
	etag        string

	gzipOnce sync.Once
	gzipBody []byte
}

// pageData is what index.html is rendered with.
type pageData struct {
	Endpoint string
}

// loadSite builds the handler once; the embedded files never change.
var loadSite = sync.OnceValue(func() *site {
	s := &site{assets: make(map[string]asset)}
	hashed := make(map[string]string) // plain name -> hashed URL
	err := fs.WalkDir(assetFiles, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assetFiles.ReadFile(p)
		if err != nil {
			return err
		}
		hash := contentHash(body)
		name := strings.TrimPrefix(p, "assets/")
		f := &file{body: body, contentType: contentType(name), etag: `"` + hash + `"`}
		s.assets[name] = asset{file: f}
		s.assets[hashedName(name, hash)] = asset{file: f, immutable: true}
		hashed[name] = AssetPrefix + hashedName(name, hash)
		return nil
	})
	if err != nil {
		panic("console: read embedded assets: " + err.Error())
	}
	tmpl := template.Must(template.New("index.html").Funcs(template.FuncMap{
		"asset": func(name string) (string, error) {
			u, ok := hashed[name]
			if !ok {
				return "", fmt.Errorf("no asset %s", name)
			}
			return u, nil
		},
	}).Parse(pageSource))
	// Rendered now, so that a page naming a missing asset fails at start
	// (and in tests) rather than on a request.
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, pageData{Endpoint: Endpoint}); err != nil {
		panic("console: render page: " + err.Error())
	}
	s.page = buf.Bytes()
	return s
})

// contentHash is a short hex digest of body, for hashed names and ETags.
func contentHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])[:12]
}

// hashedName puts a content hash before the extension of name: app.js
// becomes app.<hash>.js.
func hashedName(name, hash string) string {
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hash + ext
}

// contentType is by extension, from a fixed table rather than the system's
// MIME database, so it does not depend on the machine.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default:
		return "text/plain; charset=utf-8"
	}
}

// ServeHTTP implements http.Handler.
func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	page := p == PagePath || p == PagePath+"/"
	var a asset
	if name, ok := strings.CutPrefix(p, AssetPrefix); ok {
		a = s.assets[name]
	}
	if !page && a.file == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if page {
		s.servePage(w, r)
		return
	}
	a.serve(w, r)
}

func (s *site) servePage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// no-store: the page is where an API key is typed; nothing of it is
	// kept by the browser or a proxy.
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(s.page))
}

func (a asset) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	if a.immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	body, etag := a.body, a.etag
	if len(a.body) >= 1024 {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body = a.gzipped()
			etag = strings.TrimSuffix(a.etag, `"`) + `-gzip"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// gzipped compresses the asset on first use and keeps the result.
func (f *file) gzipped() []byte {
	f.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(f.body) // writes to a bytes.Buffer do not fail
		zw.Close()
		f.gzipBody = buf.Bytes()
	})
	return f.gzipBody
}

// acceptsGzip reports whether an Accept-Encoding header value accepts gzip.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, found := strings.CutPrefix(strings.TrimSpace(params), "q=")
		return !found || strings.TrimRight(strings.TrimSpace(q), "0.") != ""
	}
	return false
}
