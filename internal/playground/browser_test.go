package playground_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"memberbind/internal/playground"
	"memberbind/internal/testenv"
)

// testKey is an API key of the right shape: mb_ and 43 or more URL-safe
// characters.
const testKey = "mb_testKey0123456789abcdefghijklmnopqrstuvwxyzABCD"

//go:embed testdata/introspection.json
var introspection []byte

// cannedMembers answers every query that is not introspection.
const cannedMembers = `{"data":{"organization":{"name":"Acme Corp"},"members":{"totalCount":2,"edges":[` +
	`{"node":{"id":"bWVtYmVyOjE","name":"Alice","memberType":"CREATED","bindStatus":"PENDING",` +
	`"securityInfo":{"email":"alice@example.com","status":"PENDING","delivery":{"status":"SENT"}}}},` +
	`{"node":{"id":"bWVtYmVyOjI","name":"Bob","memberType":"INVITED","bindStatus":"UNBOUND","securityInfo":null}}]}}}`

// graphqlRequest is one request the fake endpoint received.
type graphqlRequest struct {
	Authorization string
	Query         string
}

// fakeGraphQL stands in for memberbind's /graphql: it accepts only testKey,
// answers introspection with testdata/introspection.json and anything else
// with cannedMembers, and records what it got.
type fakeGraphQL struct {
	mu       sync.Mutex
	requests []graphqlRequest
}

func (f *fakeGraphQL) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Query string `json:"query"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	auth := r.Header.Get("Authorization")
	f.mu.Lock()
	f.requests = append(f.requests, graphqlRequest{Authorization: auth, Query: body.Query})
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	switch {
	case auth != "Bearer "+testKey:
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"message":"missing or wrong API key","extensions":{"code":"UNAUTHENTICATED"}}]}`)
	case strings.Contains(body.Query, "__schema"):
		w.Write(introspection)
	default:
		fmt.Fprint(w, cannedMembers)
	}
}

// mark returns the number of requests so far, for waitFor.
func (f *fakeGraphQL) mark() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// since returns the requests received after mark.
func (f *fakeGraphQL) since(mark int) []graphqlRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]graphqlRequest(nil), f.requests[mark:]...)
}

// waitFor polls until a request received after mark satisfies ok, and
// returns it.
func (f *fakeGraphQL) waitFor(t *testing.T, mark int, what string, ok func(graphqlRequest) bool) graphqlRequest {
	t.Helper()
	var found graphqlRequest
	testenv.Eventually(t, 20*time.Second, what+" at /graphql", func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, r := range f.requests[mark:] {
			if ok(r) {
				found = r
				return nil
			}
		}
		return fmt.Errorf("none among the %d requests seen", len(f.requests))
	})
	return found
}

func isIntrospection(r graphqlRequest) bool { return strings.Contains(r.Query, "__schema") }

// tab is one browser tab on the test server, and what its pages reported.
type tab struct {
	ctx     context.Context
	console *testenv.Console
}

func newTab(t *testing.T, browser context.Context) *tab {
	t.Helper()
	ctx := testenv.Tab(t, browser)
	return &tab{ctx: ctx, console: testenv.WatchConsole(t, ctx)}
}

// do runs the actions with a deadline.
func (tb *tab) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func eval[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func screenshot(t *testing.T, tb *tab, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	testenv.SaveArtifact(t, testenv.ArtifactDir(t), name, png)
}

// checkClean fails on CSP violations, exceptions, and console errors and
// warnings other than those allowed (by substring).
func (tb *tab) checkClean(t *testing.T, allowed ...string) {
	t.Helper()
	for _, p := range tb.console.Problems(allowed...) {
		t.Error(p)
	}
}

// TestPlaygroundInBrowser loads the playground in headless Chromium under its
// real Content-Security-Policy, runs the default query with the key from the
// link, pastes a key into the header field, and overrides it from GraphiQL's
// headers editor.
func TestPlaygroundInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	browser := testenv.Browser(t)

	fake := &fakeGraphQL{}
	h := playground.Handler()
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.Handle("/playground", h)
	mux.Handle("/playground/", h)
	mux.Handle("/graphql", fake)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	t.Run("key from link", func(t *testing.T) {
		tb := newTab(t, browser)
		start := fake.mark()
		tb.do(t,
			chromedp.Navigate(srv.URL+"/#key="+testKey),
			chromedp.WaitVisible(chromedp.CSS(".graphiql-execute-button")),
		)
		if r := fake.waitFor(t, start, "introspection", isIntrospection); r.Authorization != "Bearer "+testKey {
			t.Errorf("introspection Authorization = %q, want Bearer %s", r.Authorization, testKey)
		}
		if got := eval[string](t, tb, `location.href`); got != srv.URL+"/" {
			t.Errorf("address bar = %q, want the key removed: %q", got, srv.URL+"/")
		}
		if got := eval[string](t, tb, `sessionStorage.getItem('memberbind.apiKey')`); got != testKey {
			t.Errorf("sessionStorage key = %q, want %q", got, testKey)
		}
		if got := eval[string](t, tb, `document.getElementById('mb-key').value`); got != testKey {
			t.Errorf("key field = %q, want %q", got, testKey)
		}

		tb.do(t, chromedp.Click(chromedp.CSS(".graphiql-execute-button")))
		r := fake.waitFor(t, start, "default query", func(r graphqlRequest) bool {
			return strings.Contains(r.Query, "organization") && !isIntrospection(r)
		})
		if r.Authorization != "Bearer "+testKey {
			t.Errorf("query Authorization = %q, want Bearer %s", r.Authorization, testKey)
		}
		for _, field := range []string{"members(first: 20)", "totalCount", "bindStatus", "securityInfo", "delivery"} {
			if !strings.Contains(r.Query, field) {
				t.Errorf("default query lacks %s:\n%s", field, r.Query)
			}
		}
		tb.do(t, chromedp.Poll[chromedp.Void](
			`document.querySelector('.graphiql-response') && document.querySelector('.graphiql-response').innerText.includes('Acme Corp')`,
			chromedp.WithPollingTimeout(20*time.Second)))
		screenshot(t, tb, "playground.png")

		// Dialogs add <style> elements at run time; they must carry the nonce.
		tb.do(t,
			chromedp.Click(chromedp.CSS(`button[aria-label="Open settings dialog"]`)),
			chromedp.WaitVisible(chromedp.CSS(".graphiql-dialog")),
		)
		screenshot(t, tb, "playground-settings.png")
		if n := eval[int](t, tb, `document.querySelectorAll('style[nonce]').length`); n == 0 {
			t.Error("an open dialog added no <style nonce> element: react-remove-scroll did not get the nonce")
		}
		tb.do(t,
			chromedp.Click(chromedp.CSS(`.graphiql-dialog .graphiql-dialog-close`)),
			chromedp.WaitNotPresent(chromedp.CSS(".graphiql-dialog")),
		)
		// The docs explorer renders schema descriptions as markdown.
		tb.do(t,
			chromedp.Click(chromedp.CSS(`button[aria-label="Show Documentation Explorer"]`)),
			chromedp.WaitVisible(chromedp.CSS(".graphiql-doc-explorer")),
		)
		tb.checkClean(t)
	})

	t.Run("key pasted, then set in headers editor", func(t *testing.T) {
		tb := newTab(t, browser) // a new tab has its own, empty sessionStorage
		start := fake.mark()
		tb.do(t,
			chromedp.Navigate(srv.URL+"/playground"),
			chromedp.WaitVisible(chromedp.CSS(".graphiql-execute-button")),
		)
		if got := eval[string](t, tb, `document.getElementById('mb-key').value`); got != "" {
			t.Fatalf("key field = %q in a new tab, want empty", got)
		}
		pasted := fake.mark()
		tb.do(t, chromedp.SendKeys(chromedp.ID("mb-key"), testKey))
		// A new key makes GraphiQL load the schema again, with the key.
		fake.waitFor(t, pasted, "introspection with the pasted key", func(r graphqlRequest) bool {
			return isIntrospection(r) && r.Authorization == "Bearer "+testKey
		})
		if got := eval[string](t, tb, `sessionStorage.getItem('memberbind.apiKey')`); got != testKey {
			t.Errorf("sessionStorage key = %q, want %q", got, testKey)
		}

		// A header from GraphiQL's headers editor wins over the field.
		tb.do(t,
			chromedp.Click(`//button[text()="Headers"]`),
			chromedp.WaitVisible(chromedp.CSS(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror")),
		)
		eval[bool](t, tb, `document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').CodeMirror.setValue('{"Authorization": "Bearer mb_fromHeadersEditor"}') || true`)
		tb.do(t, chromedp.Click(chromedp.CSS(".graphiql-execute-button")))
		fake.waitFor(t, pasted, "query with the headers editor's key", func(r graphqlRequest) bool {
			return !isIntrospection(r) && r.Authorization == "Bearer mb_fromHeadersEditor"
		})
		tb.do(t, chromedp.Poll[chromedp.Void](
			`document.querySelector('.graphiql-response').innerText.includes('UNAUTHENTICATED')`,
			chromedp.WithPollingTimeout(20*time.Second)))
		screenshot(t, tb, "playground-headers.png")

		if first := fake.since(start); len(first) == 0 || first[0].Authorization != "" {
			t.Errorf("first request of a tab without key: %+v, want no Authorization", first)
		}
		// Without a key the schema load is refused (401), and Chromium logs
		// that as a network error; nothing else may show.
		tb.checkClean(t, "401 (Unauthorized)")
	})
}
