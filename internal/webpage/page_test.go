package webpage

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

type testPage struct {
	Frame
	Name string
}

func testPages() *Pages {
	fsys := fstest.MapFS{}
	for _, lang := range []string{"en", "zh-CN"} {
		fsys["templates/"+lang+"/common.html"] = &fstest.MapFile{Data: []byte(`{{define "who"}}{{.Name}}{{end}}`)}
		fsys["templates/"+lang+"/hello.html"] = &fstest.MapFile{Data: []byte(`{{define "title"}}Hi{{end}}{{define "body"}}<h1 id="heading">` + lang + ` {{template "who" .}}</h1>{{end}}`)}
		fsys["templates/"+lang+"/broken.html"] = &fstest.MapFile{Data: []byte(`{{define "title"}}Hi{{end}}{{define "body"}}{{.Missing}}{{end}}`)}
	}
	return ParsePages(fsys, []string{"hello", "broken"}, map[string]string{"hello": "ok"})
}

// TestPagesWrite renders a whole page in the data's language with its
// tone, and a template fault as a clean 500 that names nothing.
func TestPagesWrite(t *testing.T) {
	p := testPages()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	r := httptest.NewRequest(http.MethodGet, "/x", nil)

	w := httptest.NewRecorder()
	p.Write(w, r, log, http.StatusGone, "hello", &testPage{Frame: NewFrame("zh-CN"), Name: "<b>"})
	body := w.Body.String()
	if w.Code != http.StatusGone || w.Header().Get("Content-Language") != "zh-CN" ||
		!strings.Contains(body, `<h1 id="heading">zh-CN &lt;b&gt;</h1>`) || !strings.Contains(body, "tone-ok") ||
		!strings.Contains(body, "<style>"+Style+"</style>") {
		t.Errorf("%d %v\n%s", w.Code, w.Header(), body)
	}

	w = httptest.NewRecorder()
	d := &testPage{Frame: NewFrame("en")}
	p.Write(w, r, log, http.StatusOK, "broken", d)
	if w.Code != http.StatusInternalServerError || w.Body.String() != "internal error\n" || !strings.Contains(logs.String(), "page=broken") {
		t.Errorf("broken page: %d %q; log %s", w.Code, w.Body.String(), logs.String())
	}
	if d.Tone != "bad" {
		t.Errorf("tone of a page without one = %q, want bad", d.Tone)
	}

	w = httptest.NewRecorder()
	p.Write(w, r, log, http.StatusOK, "hello", &testPage{Frame: NewFrame("fr")})
	if w.Code != http.StatusInternalServerError {
		t.Errorf("page in an unknown language: %d", w.Code)
	}
}

// TestPagesParsedOnUse: a page is parsed when first rendered, so one that
// does not define its parts is a 500 then; a missing file is a fault at
// once.
func TestPagesParsedOnUse(t *testing.T) {
	fsys := fstest.MapFS{}
	for _, lang := range []string{"en", "zh-CN"} {
		fsys["templates/"+lang+"/common.html"] = &fstest.MapFile{Data: []byte(``)}
		fsys["templates/"+lang+"/nobody.html"] = &fstest.MapFile{Data: []byte(`{{define "title"}}Hi{{end}}`)}
	}
	p := ParsePages(fsys, []string{"nobody"}, nil)
	if p.Template("en", "nobody") != nil {
		t.Errorf("a page without a body parsed")
	}
	var logs bytes.Buffer
	w := httptest.NewRecorder()
	p.Write(w, httptest.NewRequest(http.MethodGet, "/x", nil), slog.New(slog.NewTextHandler(&logs, nil)), http.StatusOK, "nobody", &testPage{Frame: NewFrame("en")})
	if w.Code != http.StatusInternalServerError || !strings.Contains(logs.String(), `defines no \"body\"`) {
		t.Errorf("page without a body: %d; log %s", w.Code, logs.String())
	}

	defer func() {
		if recover() == nil {
			t.Errorf("ParsePages of a missing file did not panic")
		}
	}()
	ParsePages(fsys, []string{"missing"}, nil)
}
