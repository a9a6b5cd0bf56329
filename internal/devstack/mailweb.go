package devstack

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// MailPath is where the mail pages are meant to be mounted:
//
//	mux.Handle(devstack.MailPath, h)
//	mux.Handle(devstack.MailPath+"/", h)
//
// The handler also works behind http.StripPrefix at any path. It serves
//
//	MailPath             the list, newest first
//	MailPath/{id}        one message: headers, links, text part, HTML part
//	MailPath/{id}/html   the HTML part alone, sandboxed (the message page frames it)
//	MailPath/{id}/raw    the message as received, as text/plain
//
// The list and the message answer JSON instead of HTML for ?format=json or
// Accept: application/json: {"smtpUrl": ..., "messages": [...]} without the
// raw text, and one [Message] with it.
//
// The pages show every activation link that was mailed: mount them only
// when the embedded mail server is the one in use.
const MailPath = "/dev/mail"

// mailPages serves the mail of a mailbox; see MailPath.
type mailPages struct {
	box     *mailbox
	smtpURL string
}

// pageCSS styles the list and message pages. Its hash is what the pages'
// Content-Security-Policy allows, so it must be served exactly as is.
const pageCSS = `
:root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 60rem; padding: 1rem; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; overflow-wrap: anywhere; }
a { color: var(--accent); }
header { display: flex; flex-wrap: wrap; gap: .25rem 1rem; align-items: baseline; justify-content: space-between; border-bottom: 1px solid var(--line); margin-bottom: 1rem; }
h1 { font-size: 1.25rem; margin: .5rem 0; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
.muted, .meta { color: var(--muted); font-size: .875rem; }
ul.mails { list-style: none; margin: 0; padding: 0; }
ul.mails li { border-bottom: 1px solid var(--line); }
ul.mails a { display: block; padding: .6rem .25rem; text-decoration: none; color: inherit; }
ul.mails a:hover, ul.mails a:focus { background: rgba(127,127,127,.12); }
.subject { display: block; font-weight: 600; color: var(--accent); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; }
@media (max-width: 30rem) { dl { grid-template-columns: 1fr; } dd { margin-bottom: .4rem; } }
pre { white-space: pre-wrap; background: rgba(127,127,127,.1); padding: .75rem; border-radius: .375rem; font-size: .875rem; overflow-x: auto; }
ul.links { padding-left: 1.25rem; }
ul.links li { margin: .25rem 0; }
iframe { width: 100%; height: 70vh; border: 1px solid var(--line); border-radius: .375rem; background: #fff; resize: vertical; }
details summary { cursor: pointer; }
`

var (
	// pageCSP allows nothing but the page's own stylesheet and frames of
	// the same origin (the HTML part, which is sandboxed on its own).
	pageCSP = "default-src 'none'; style-src '" + cssHash(pageCSS) + "'; frame-src 'self'; " +
		"img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	// htmlPartCSP is the policy of the mail's HTML part: scripts never run
	// and the document gets an opaque origin (sandbox without
	// allow-same-origin), so it cannot reach the application; links may
	// open in a new, unsandboxed tab.
	htmlPartCSP = "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; " +
		"style-src 'unsafe-inline'; img-src data: https: http:; font-src data:; " +
		"form-action 'none'; frame-ancestors 'self'"
	// rawCSP is the policy of the raw message, which is text anyway.
	rawCSP = "sandbox; default-src 'none'; frame-ancestors 'none'"
)

// cssHash is the CSP source expression that allows a <style> element with
// content css.
func cssHash(css string) string {
	sum := sha256.Sum256([]byte(css))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

var pageTemplates = template.Must(template.New("page").Funcs(template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"join": strings.Join,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}} · memberbind dev mail</title>
<style>{{.CSS}}</style>
</head>
<body>
<header><h1>{{.Title}}</h1><span class="muted">{{block "nav" .}}{{end}}</span></header>
{{block "main" .}}{{end}}
</body>
</html>`))

var listTemplate = template.Must(template.Must(pageTemplates.Clone()).Parse(`
{{define "nav"}}<a href="{{.Base}}/">Refresh</a>{{end}}
{{define "main"}}
<p class="muted">Mail sent to {{.SMTPURL}} lands here. Newest first; the {{.Max}} newest are kept, in memory only.</p>
{{if .Messages}}
<ul class="mails">
{{range .Messages}}<li><a href="{{$.Base}}/{{.ID}}">
<span class="subject">{{if .Subject}}{{.Subject}}{{else}}(no subject){{end}}</span>
<span class="meta">{{time .ReceivedAt}} · to {{join .To ", "}}</span>
</a></li>
{{end}}</ul>
{{else}}
<p>No mail yet.</p>
{{end}}
{{end}}`))

var messageTemplate = template.Must(template.Must(pageTemplates.Clone()).Parse(`
{{define "nav"}}<a href="{{.Base}}/">All mail</a> · <a href="{{.Base}}/{{.M.ID}}/raw">Raw</a>{{end}}
{{define "main"}}
<dl>
<dt>From</dt><dd>{{.M.From}}</dd>
<dt>To</dt><dd>{{join .M.To ", "}}</dd>
{{with index .M.Header "To"}}<dt>To (header)</dt><dd>{{join . ", "}}</dd>{{end}}
{{with index .M.Header "Cc"}}<dt>Cc</dt><dd>{{join . ", "}}</dd>{{end}}
<dt>Subject</dt><dd>{{.M.Subject}}</dd>
<dt>Date</dt><dd>{{time .M.Date}}</dd>
<dt>Received</dt><dd>{{time .M.ReceivedAt}}</dd>
{{with .M.MessageID}}<dt>Message-ID</dt><dd>{{.}}</dd>{{end}}
{{with .M.EnvelopeFrom}}<dt>Return path</dt><dd>{{.}}</dd>{{end}}
</dl>
<details><summary class="muted">All headers</summary>
<dl>{{range .Headers}}<dt>{{.Name}}</dt><dd>{{.Value}}</dd>{{end}}</dl>
</details>
{{with .M.ParseError}}<p><strong>Could not fully decode this mail:</strong> {{.}}</p>{{end}}
{{if .M.Links}}<h2>Links</h2>
<ul class="links">{{range .M.Links}}<li><a href="{{.}}" rel="noreferrer">{{.}}</a></li>{{end}}</ul>
{{end}}
{{if .M.Text}}<h2>Text part</h2>
<pre>{{range .Text}}{{if .URL}}<a href="{{.URL}}" rel="noreferrer">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{end}}</pre>
{{end}}
{{if .M.HTML}}<h2>HTML part</h2>
<iframe src="{{.Base}}/{{.M.ID}}/html" sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer" title="HTML part of the mail"></iframe>
{{end}}
{{with .M.Attachments}}<h2>Attachments</h2>
<ul>{{range .}}<li>{{if .Filename}}{{.Filename}}{{else}}(unnamed){{end}} <span class="muted">{{.ContentType}}, {{.Size}} bytes</span></li>{{end}}</ul>
{{end}}
{{end}}`))

var notFoundTemplate = template.Must(template.Must(pageTemplates.Clone()).Parse(`
{{define "nav"}}<a href="{{.Base}}/">All mail</a>{{end}}
{{define "main"}}<p>There is no such mail here. Old mail is forgotten once 1000 newer messages have arrived, and all of it when the program stops.</p>{{end}}`))

// textSegment is a run of a text body: a link when URL is set.
type textSegment struct{ Text, URL string }

// headerLine is one header of a message, for display.
type headerLine struct{ Name, Value string }

// ServeHTTP implements http.Handler.
func (p *mailPages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Vary", "Accept")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	base, rest := mountPoint(r)
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	switch {
	case rest == "" || rest == "/":
		p.serveList(w, r, base)
	case len(parts) == 1:
		p.serveMessage(w, r, base, parts[0])
	case len(parts) == 2 && parts[1] == "html":
		p.serveHTMLPart(w, r, base, parts[0])
	case len(parts) == 2 && parts[1] == "raw":
		p.serveRaw(w, r, base, parts[0])
	default:
		p.notFound(w, r, base)
	}
}

// mountPoint splits the request path into the path the pages are mounted
// at and the rest. Under MailPath the handler sees full paths; behind
// http.StripPrefix the stripped part is what the original request path has
// in front of r.URL.Path.
func mountPoint(r *http.Request) (base, rest string) {
	if r.URL.Path == MailPath || strings.HasPrefix(r.URL.Path, MailPath+"/") {
		return MailPath, r.URL.Path[len(MailPath):]
	}
	orig := r.RequestURI
	if i := strings.IndexByte(orig, '?'); i >= 0 {
		orig = orig[:i]
	}
	if strings.HasSuffix(orig, r.URL.Path) {
		return strings.TrimSuffix(orig[:len(orig)-len(r.URL.Path)], "/"), r.URL.Path
	}
	return MailPath, r.URL.Path
}

// wantsJSON reports whether the client asked for JSON rather than a page.
func wantsJSON(r *http.Request) bool {
	if f := r.URL.Query().Get("format"); f != "" {
		return f == "json"
	}
	for _, a := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(a)); err == nil && mt == "application/json" {
			return true
		}
	}
	return false
}

func (p *mailPages) serveList(w http.ResponseWriter, r *http.Request, base string) {
	msgs := p.box.list()
	if wantsJSON(r) {
		for i := range msgs {
			msgs[i].Raw = "" // the list stays small; one message has it
		}
		writeJSON(w, http.StatusOK, struct {
			SMTPURL  string    `json:"smtpUrl"`
			Messages []Message `json:"messages"`
		}{p.smtpURL, msgs})
		return
	}
	writePage(w, http.StatusOK, listTemplate, map[string]any{
		"Title": "Mail", "Base": base, "SMTPURL": p.smtpURL, "Max": maxMessages, "Messages": msgs,
	})
}

func (p *mailPages) serveMessage(w http.ResponseWriter, r *http.Request, base, id string) {
	m, ok := p.box.get(id)
	if !ok {
		p.notFound(w, r, base)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, m)
		return
	}
	var headers []headerLine
	for _, name := range slices.Sorted(maps.Keys(m.Header)) {
		for _, v := range m.Header[name] {
			headers = append(headers, headerLine{name, v})
		}
	}
	title := m.Subject
	if title == "" {
		title = "(no subject)"
	}
	writePage(w, http.StatusOK, messageTemplate, map[string]any{
		"Title": title, "Base": base, "M": m, "Headers": headers, "Text": linkify(m.Text),
	})
}

func (p *mailPages) serveHTMLPart(w http.ResponseWriter, r *http.Request, base, id string) {
	m, ok := p.box.get(id)
	if !ok || m.HTML == "" {
		p.notFound(w, r, base)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", htmlPartCSP)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(withBaseTarget(m.HTML)))
}

func (p *mailPages) serveRaw(w http.ResponseWriter, r *http.Request, base, id string) {
	m, ok := p.box.get(id)
	if !ok {
		p.notFound(w, r, base)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", rawCSP)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(m.Raw))
}

func (p *mailPages) notFound(w http.ResponseWriter, r *http.Request, base string) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such message"})
		return
	}
	writePage(w, http.StatusNotFound, notFoundTemplate, map[string]any{"Title": "No such mail", "Base": base})
}

// writePage renders t with data, which gets the page's CSS added.
func writePage(w http.ResponseWriter, status int, t *template.Template, data map[string]any) {
	data["CSS"] = template.CSS(pageCSS)
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// linkify splits a text body into plain runs and http(s) links.
func linkify(text string) []textSegment {
	var out []textSegment
	last := 0
	for _, r := range findTextLinks(text) {
		if r[0] > last {
			out = append(out, textSegment{Text: text[last:r[0]]})
		}
		u := text[r[0]:r[1]]
		out = append(out, textSegment{Text: u, URL: u})
		last = r[1]
	}
	if last < len(text) {
		out = append(out, textSegment{Text: text[last:]})
	}
	return out
}

var (
	headTag = regexp.MustCompile(`(?i)<head(\s[^>]*)?>`)
	doctype = regexp.MustCompile(`(?i)^\s*<!doctype[^>]*>`)
)

// withBaseTarget makes every link of an HTML document open in a new
// browsing context: inside the sandboxed frame a link would otherwise
// navigate the frame itself, where many sites refuse to load.
func withBaseTarget(doc string) string {
	const base = `<base target="_blank">`
	if loc := headTag.FindStringIndex(doc); loc != nil {
		return doc[:loc[1]] + base + doc[loc[1]:]
	}
	// Before a doctype the base element would put the page in quirks mode.
	if loc := doctype.FindStringIndex(doc); loc != nil {
		return doc[:loc[1]] + base + doc[loc[1]:]
	}
	return base + doc
}
