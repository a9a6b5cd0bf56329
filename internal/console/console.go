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
	"embed"
	"html/template"
	"net/http"
	"sync"

	"memberbind/internal/webasset"
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
//
// The site is built on the first request, so that an instance whose
// console nobody opens does not read its files nor parse its page.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loadSite().ServeHTTP(w, r)
	})
}

// site is the console's handler: the rendered page and the assets.
type site struct {
	page   []byte // rendered once: it holds no per-request value
	assets *webasset.Set
}

// pageData is what index.html is rendered with.
type pageData struct {
	Endpoint string
}

// loadSite builds the handler once; the embedded files never change.
var loadSite = sync.OnceValue(func() *site {
	assets, err := webasset.New(assetFiles, "assets", AssetPrefix)
	if err != nil {
		panic("console: read embedded assets: " + err.Error())
	}
	tmpl := template.Must(template.New("index.html").Funcs(template.FuncMap{
		"asset": assets.URL,
	}).Parse(pageSource))
	// Rendered now, so that a page naming a missing asset fails here, in
	// tests, rather than on some request.
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, pageData{Endpoint: Endpoint}); err != nil {
		panic("console: render page: " + err.Error())
	}
	return &site{page: buf.Bytes(), assets: assets}
})

// ServeHTTP implements http.Handler.
func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p != PagePath && p != PagePath+"/" {
		s.assets.ServeHTTP(w, r)
		return
	}
	if webasset.MethodAllowed(w, r) {
		webasset.ServePage(w, r, ContentSecurityPolicy, s.page)
	}
}
