package webpage

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"

	"memberbind/internal/member"
)

// Frame is what the layout reads from every page's data. A package's page
// data embeds it, so that the layout's fields are one definition.
type Frame struct {
	Lang string       // the page's language: en or zh-CN
	Tone string       // the colour of the card's top stripe: info, ok, warn or bad; "" takes the page's
	CSS  template.CSS // Style, which the policy allows by its hash
}

// NewFrame is the frame of a page in lang.
func NewFrame(lang string) Frame {
	return Frame{Lang: lang, CSS: template.CSS(Style)}
}

func (f *Frame) frame() *Frame { return f }

// Data is what Pages.Write renders: a pointer to a struct that embeds
// Frame.
type Data interface{ frame() *Frame }

// Pages are a package's pages: one template per language and page name,
// each on the shared layout, and the tone of each page.
type Pages struct {
	fsys  fs.FS
	tones map[string]string
	pages map[pageKey]*page
}

type pageKey struct{ lang, name string }

// page is one language's page, parsed on first use.
type page struct {
	once sync.Once
	t    *template.Template
	err  error
}

// ParsePages makes the pages of fsys, one per language and name: the
// shared layout, the language's templates/LANG/common.html and the page's
// templates/LANG/NAME.html, which must define "title" and "body". tones
// colours the pages; a page not in it is "bad". It panics on a missing
// file: pages are embedded, so that is a build fault.
//
// Each page is parsed when it is first rendered: the 50 pages of the
// activation and sign-in packages took 0.6 MB of heap at start, though
// an instance serves only the few its members see (tests render them
// all).
func ParsePages(fsys fs.FS, names []string, tones map[string]string) *Pages {
	p := &Pages{fsys: fsys, tones: tones, pages: make(map[pageKey]*page)}
	for _, lang := range member.Langs {
		for _, name := range names {
			for _, f := range pageFiles(lang, name) {
				if _, err := fs.Stat(fsys, f); err != nil {
					panic(fmt.Sprintf("page %s/%s: %v", lang, name, err))
				}
			}
			p.pages[pageKey{lang, name}] = &page{}
		}
	}
	return p
}

func pageFiles(lang, name string) []string {
	return []string{"templates/" + lang + "/common.html", "templates/" + lang + "/" + name + ".html"}
}

// Template is the page name in lang, or nil when there is none or it
// does not parse.
func (p *Pages) Template(lang, name string) *template.Template {
	t, _ := p.template(lang, name)
	return t
}

// template parses the page name in lang on its first use.
func (p *Pages) template(lang, name string) (*template.Template, error) {
	pg := p.pages[pageKey{lang, name}]
	if pg == nil {
		return nil, fmt.Errorf("no page %q in %q", name, lang)
	}
	pg.once.Do(func() {
		pg.t, pg.err = Layout().ParseFS(p.fsys, pageFiles(lang, name)...)
		for _, part := range []string{"title", "body"} {
			if pg.err == nil && pg.t.Lookup(part) == nil {
				pg.err = fmt.Errorf("templates/%s/%s.html defines no %q", lang, name, part)
			}
		}
		if pg.err != nil {
			pg.t = nil
		}
	})
	return pg.t, pg.err
}

// Write renders the page name in its data's language whole before
// sending it, so that a template error is a clean 500 (logged to log)
// rather than half a page.
func (p *Pages) Write(w http.ResponseWriter, r *http.Request, log *slog.Logger, status int, name string, d Data) {
	f := d.frame()
	if f.Tone == "" {
		f.Tone = p.tones[name]
		if f.Tone == "" {
			f.Tone = "bad"
		}
	}
	var buf bytes.Buffer
	t, err := p.template(f.Lang, name)
	if err == nil {
		err = t.Execute(&buf, d)
	}
	if err != nil {
		log.ErrorContext(r.Context(), "render page", "path", r.URL.Path, "page", name, "lang", f.Lang, "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("internal error\n")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Language", f.Lang)
	}
	Send(w, r, status, buf.Bytes())
}
