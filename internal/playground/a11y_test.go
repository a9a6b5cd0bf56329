package playground_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"memberbind/internal/playground"
	"memberbind/internal/testenv"
)

// EnvAxe names axe-core's axe.min.js (npm install axe-core). With it,
// TestPlaygroundAccessibility runs axe-core's whole rule set on the
// playground as well; without it, only the checks written out here.
const EnvAxe = "MEMBERBIND_AXE"

// contrastJS is a JavaScript function: the contrast ratio (WCAG 2.1) of
// an element's text against what it is drawn on, its colour blended over
// the first opaque background among it and its ancestors.
const contrastJS = `(el) => {
	const rgba = (s) => { const m = s.match(/[\d.]+/g).map(Number); return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; };
	let bg = null;
	for (let e = el; e && !bg; e = e.parentElement) {
		const c = rgba(getComputedStyle(e).backgroundColor);
		if (c.a === 1) bg = c;
	}
	bg = bg || { r: 255, g: 255, b: 255, a: 1 };
	const fg = rgba(getComputedStyle(el).color);
	const mix = (k) => fg[k] * fg.a + bg[k] * (1 - fg.a);
	const lum = (r, g, b) => {
		const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
		return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
	};
	const a = lum(mix('r'), mix('g'), mix('b')), b = lum(bg.r, bg.g, bg.b);
	return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}`

// TestPlaygroundAccessibility: what axe-core found on the playground and
// our wrapper can mend. GraphiQL's editors are named after their panes,
// the response pane is a named, focusable region, its text has a
// contrast of at least 4.5:1, and the page has a heading. With EnvAxe
// set, axe-core itself finds nothing critical or serious but the one
// thing the wrapper leaves (see below).
func TestPlaygroundAccessibility(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	browser := testenv.Browser(t)
	fake := &fakeGraphQL{}
	mux := http.NewServeMux()
	mux.Handle("/", playground.Handler())
	mux.Handle("/graphql", fake)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tb := newTab(t, browser)
	tb.do(t, chromedp.Navigate(srv.URL+"/#key="+testKey), chromedp.WaitVisible(chromedp.CSS(".graphiql-execute-button")))
	tb.do(t, chromedp.Click(chromedp.CSS(".graphiql-execute-button")))
	tb.do(t, chromedp.Poll[chromedp.Void](`document.querySelector('.graphiql-response')?.innerText.includes('Acme Corp')`, chromedp.WithPollingTimeout(20*time.Second)))

	label := func(sel string) string {
		return eval[string](t, tb, `document.querySelector(`+jsString(sel)+`)?.getAttribute('aria-label') ?? 'no such element'`)
	}
	for sel, want := range map[string]string{
		".graphiql-query-editor .CodeMirror textarea":                              "Query editor",
		".graphiql-response .CodeMirror textarea":                                  "Response",
		".graphiql-response .CodeMirror-scroll":                                    "Response, scrollable",
		".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror textarea": "Variables editor",
	} {
		if got := label(sel); got != want {
			t.Errorf("%s: aria-label %q, want %q", sel, got, want)
		}
	}
	if got := eval[string](t, tb, `document.querySelector('.graphiql-response .CodeMirror-scroll').tabIndex + ' ' + document.querySelector('.graphiql-response .CodeMirror-scroll').getAttribute('role')`); got != "0 region" {
		t.Errorf("the response's scroll area: tabindex and role %q, want 0 region", got)
	}
	tb.do(t, chromedp.Click(`//button[text()="Headers"]`),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror")))
	if got := label(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror textarea"); got != "Headers editor" {
		t.Errorf("the headers editor: aria-label %q", got)
	}
	if got := eval[string](t, tb, `[...document.querySelectorAll('h1')].map(h => h.textContent).join('|')`); got != "memberbind GraphQL playground" {
		t.Errorf("h1 = %q, want the page's title", got)
	}

	// The text axe-core found too light, where it is on the page.
	contrast := eval[map[string]float64](t, tb, `(() => {
		const ratio = `+contrastJS+`;
		const out = {};
		for (const sel of ['.graphiql-logo', '.graphiql-query-editor .CodeMirror-linenumber', '.graphiql-query-editor .cm-property',
			'.graphiql-query-editor .cm-punctuation', '.graphiql-query-editor .cm-comment', '.graphiql-response .cm-property',
			'.graphiql-response .cm-string', '.graphiql-response .cm-number']) {
			const el = document.querySelector(sel);
			out[sel] = el ? ratio(el) : -1;
		}
		return out;
	})()`)
	for sel, ratio := range contrast {
		switch {
		case ratio < 0:
			t.Errorf("%s: not on the page", sel)
		case ratio < 4.5:
			t.Errorf("%s: contrast %.2f:1, want at least 4.5:1", sel, ratio)
		}
	}
	screenshot(t, tb, "playground-a11y.png")

	axePath := os.Getenv(EnvAxe)
	if axePath == "" {
		t.Logf("%s is not set: axe-core's own rules not run", EnvAxe)
		return
	}
	src, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatalf("%s: %v", EnvAxe, err)
	}
	eval[bool](t, tb, string(src)+"; true")
	// The response pane's tab is back on Variables, as a visitor finds it.
	tb.do(t, chromedp.Click(`//button[text()="Variables"]`))
	out, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`axe.run(document).then(r => JSON.stringify(r.violations.map(v =>
		({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	var violations []struct {
		ID, Impact string
		Nodes      []string
	}
	if err := json.Unmarshal([]byte(out), &violations); err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		if v.Impact != "critical" && v.Impact != "serious" {
			t.Logf("axe-core: %s (%s) at %v", v.ID, v.Impact, v.Nodes)
			continue
		}
		// Left on purpose: the query editor scrolls as its caret moves,
		// from its textarea, which axe-core does not see as inside the
		// scroll area; a second tab stop on the area would only be in
		// the way of a keyboard user.
		if v.ID == "scrollable-region-focusable" && len(v.Nodes) == 1 && strings.Contains(v.Nodes[0], ".graphiql-query-editor") {
			continue
		}
		t.Errorf("axe-core: %s (%s) at %v", v.ID, v.Impact, v.Nodes)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
