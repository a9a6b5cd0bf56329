// Package playground serves a GraphiQL IDE for memberbind's GraphQL API at /
// and /playground. Everything it needs is embedded in the binary (GraphiQL and
// React are vendored by vendor.sh), so it works without internet access, and
// the page runs under a strict Content-Security-Policy: no inline script, no
// eval, no third-party origin.
package playground

import (
	"bytes"
	"crypto/rand"
	"embed"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"memberbind/internal/webasset"
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
//
// The site is built on the first request: an instance whose playground
// nobody opens never reads (hashes) the 1.6 MB of bundles, which would
// stay resident, nor parses the page.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loadSite().ServeHTTP(w, r)
	})
}

// site is the playground's handler: the page template and the assets.
type site struct {
	page   *template.Template
	assets *webasset.Set
}

// pageData is what index.html is rendered with.
type pageData struct {
	Endpoint   string
	StyleNonce string
}

// loadSite builds the handler once; the embedded files never change.
var loadSite = sync.OnceValue(func() *site {
	assets, err := webasset.New(assetFiles, "assets", AssetPrefix)
	if err != nil {
		panic("playground: read embedded assets: " + err.Error())
	}
	page := template.Must(template.New("index.html").Funcs(template.FuncMap{
		"asset": assets.URL,
	}).Parse(pageSource))
	// Render once now, so that a page naming a missing asset fails here,
	// in tests, rather than on some request.
	if err := page.Execute(io.Discard, pageData{Endpoint: Endpoint, StyleNonce: "check"}); err != nil {
		panic("playground: render page: " + err.Error())
	}
	return &site{page: page, assets: assets}
})

// ServeHTTP implements http.Handler.
func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p != "/" && p != "/playground" && p != "/playground/" {
		s.assets.ServeHTTP(w, r)
		return
	}
	if webasset.MethodAllowed(w, r) {
		s.servePage(w, r)
	}
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
	webasset.ServePage(w, r, fmt.Sprintf(contentSecurityPolicy, nonce), buf.Bytes())
}
