// Package playground serves a GraphiQL IDE for memberbind's GraphQL API at /
// and /playground. Everything it needs is embedded in the binary (GraphiQL and
// React are vendored by vendor.sh), so it works without internet access, and
// the page runs under a strict Content-Security-Policy: no inline script, no
// eval, no third-party origin.
package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// Endpoint is the path of the GraphQL endpoint the playground sends its
// requests to.
const Endpoint = "/graphql"

// AssetPrefix is the path under which the playground's scripts, stylesheets
// and license files are served.
const AssetPrefix = "/playground/assets/"

// contentSecurityPolicy is the page's policy; %s is the per-request nonce for
// style elements. TestPlaygroundInBrowser runs GraphiQL under it and fails on
// any violation.
//
// script-src 'self': the four scripts are files, loaded in order with defer;
// no eval (GraphiQL 3's UMD bundle has no eval or new Function).
//
// style-src 'self' 'nonce-…': GraphiQL's stylesheet is a file, and React,
// CodeMirror and Radix set styles through the CSSOM (element.style), which CSP
// does not govern. The only inline styles are the <style> elements that
// react-remove-scroll adds while a dialog or menu is open. Their text holds
// run-time values, so a hash cannot allow them; they carry the nonce that
// playground.js hands to them through __webpack_nonce__. So no
// 'unsafe-inline' (without the nonce, opening the settings dialog is a
// violation).
//
// img-src and font-src data: GraphiQL's stylesheet inlines its fonts and
// CodeMirror's lint markers as data: URLs, and the page's empty favicon is
// data:, (so the browser asks for no /favicon.ico). connect-src 'self': the
// fetcher posts to Endpoint on the same origin.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-%s'; " +
	"connect-src 'self'; img-src 'self' data:; font-src 'self' data:; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

//go:embed assets
var assetFiles embed.FS

//go:embed index.html
var pageSource string

// Handler returns the handler of the playground page and its assets. It
// serves the page at /, /playground and /playground/, and the assets under
// AssetPrefix; every other path is 404, and methods other than GET and HEAD
// are 405. It reads the full request path, so mount it without
// http.StripPrefix:
//
//	mux.Handle("/", playground.Handler())
//	mux.Handle("/playground", playground.Handler())
//	mux.Handle("/playground/", playground.Handler())
func Handler() http.Handler {
	return loadSite()
}

// site is the playground's handler: the page template and the assets.
type site struct {
	page   *template.Template
	assets map[string]asset // by the path after AssetPrefix, plain and hashed
}

// asset is an embedded file under one of its two names.
type asset struct {
	*file
	// immutable is set for the hashed name: the content under that name never
	// changes, so browsers may keep it for good. The plain name is
	// revalidated on each use.
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
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])[:12]
		name := strings.TrimPrefix(p, "assets/")
		f := &file{body: body, contentType: contentType(name), etag: `"` + hash + `"`}
		s.assets[name] = asset{file: f}
		s.assets[hashedName(name, hash)] = asset{file: f, immutable: true}
		hashed[name] = AssetPrefix + hashedName(name, hash)
		return nil
	})
	if err != nil {
		panic("playground: read embedded assets: " + err.Error())
	}
	s.page = template.Must(template.New("index.html").Funcs(template.FuncMap{
		"asset": func(name string) (string, error) {
			u, ok := hashed[name]
			if !ok {
				return "", fmt.Errorf("no asset %s", name)
			}
			return u, nil
		},
	}).Parse(pageSource))
	// Render once now, so that a page naming a missing asset fails at start
	// (and in tests) rather than on a request.
	if err := s.page.Execute(io.Discard, pageData{Endpoint: Endpoint, StyleNonce: "check"}); err != nil {
		panic("playground: render page: " + err.Error())
	}
	return s
})

// hashedName puts a content hash before the extension of name:
// graphiql.min.js becomes graphiql.min.<hash>.js.
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
	default: // LICENSE files and notices
		return "text/plain; charset=utf-8"
	}
}

// ServeHTTP implements http.Handler.
func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	page := p == "/" || p == "/playground" || p == "/playground/"
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

// pageData is what index.html is rendered with.
type pageData struct {
	Endpoint   string
	StyleNonce string
}

func (s *site) servePage(w http.ResponseWriter, r *http.Request) {
	// A fresh nonce per response; the page is never cached, so it is never
	// reused. rand.Text is base32, which CSP accepts as a nonce.
	nonce := rand.Text()
	var buf bytes.Buffer
	if err := s.page.Execute(&buf, pageData{Endpoint: Endpoint, StyleNonce: nonce}); err != nil {
		slog.ErrorContext(r.Context(), "playground: render page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", fmt.Sprintf(contentSecurityPolicy, nonce))
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(buf.Bytes()))
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

// gzipped compresses the asset on first use and keeps the result: the
// vendored bundles shrink to about a third.
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
