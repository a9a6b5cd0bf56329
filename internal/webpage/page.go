package webpage

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"

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
	byLang map[string]map[string]*template.Template
	tones  map[string]string
}

// ParsePages parses one template per language and page from fsys: the
// shared layout, the language's templates/LANG/common.html and the page's
// templates/LANG/NAME.html, which must define "title" and "body". tones
// colours the pages; a page not in it is "bad". It panics on a missing
// part: pages are embedded, so that is a build fault.
func ParsePages(fsys fs.FS, names []string, tones map[string]string) *Pages {
	p := &Pages{byLang: make(map[string]map[string]*template.Template), tones: tones}
	for _, lang := range member.Langs {
		p.byLang[lang] = make(map[string]*template.Template)
		for _, name := range names {
			t := template.Must(Layout().ParseFS(fsys,
				"templates/"+lang+"/common.html", "templates/"+lang+"/"+name+".html"))
			for _, part := range []string{"title", "body"} {
				if t.Lookup(part) == nil {
					panic(fmt.Sprintf("templates/%s/%s.html defines no %q", lang, name, part))
				}
			}
			p.byLang[lang][name] = t
		}
	}
	return p
}

// Template is the page name in lang, or nil when there is none.
func (p *Pages) Template(lang, name string) *template.Template { return p.byLang[lang][name] }

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
	err := fmt.Errorf("no page %q in %q", name, f.Lang)
	if t := p.Template(f.Lang, name); t != nil {
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
