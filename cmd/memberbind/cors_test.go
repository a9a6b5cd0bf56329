package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"memberbind/internal/testenv"
)

// TestCORSOriginsConfig: MEMBERBIND_CORS_ORIGINS is a comma-separated
// list of origins, none by default, normalized as browsers send them;
// every bad entry is named in the error.
func TestCORSOriginsConfig(t *testing.T) {
	cfg, err := loadConfig(env(map[string]string{}))
	if err != nil || len(cfg.CORSOrigins) != 0 {
		t.Errorf("default CORS origins %q, %v; want none", cfg.CORSOrigins, err)
	}
	for in, want := range map[string][]string{
		"https://app.example.com":                                            {"https://app.example.com"},
		" https://App.Example.COM , http://localhost:5173,":                  {"https://app.example.com", "http://localhost:5173"},
		"https://app.example.com:443, http://a.example:80":                   {"https://app.example.com", "http://a.example"},
		"http://[::1]:3000, http://127.0.0.1:8081":                           {"http://[::1]:3000", "http://127.0.0.1:8081"},
		"https://xn--bcher-kva.example, https://a.example,https://a.example": {"https://xn--bcher-kva.example", "https://a.example"},
		"":    nil,
		" , ": nil,
	} {
		cfg, err := loadConfig(env(map[string]string{envCORSOrigins: in}))
		if err != nil {
			t.Errorf("%s=%q: %v", envCORSOrigins, in, err)
			continue
		}
		if !slices.Equal(cfg.CORSOrigins, want) {
			t.Errorf("%s=%q: %q, want %q", envCORSOrigins, in, cfg.CORSOrigins, want)
		}
	}
	bad := []string{"*", "https://*.example.com", "app.example.com", "ftp://app.example.com", "https://app.example.com/",
		"https://app.example.com/console", "https://user:pw@app.example.com", "https://app.example.com?x=1",
		"https://app.example.com:99999", "https://bücher.example", "null"}
	_, err = loadConfig(env(map[string]string{envCORSOrigins: "https://ok.example, " + strings.Join(bad, ", ")}))
	if err == nil {
		t.Fatalf("%s with bad entries accepted", envCORSOrigins)
	}
	for _, b := range bad {
		if !strings.Contains(err.Error(), fmt.Sprintf("%s: %q is not an origin", envCORSOrigins, b)) {
			t.Errorf("the error does not name %q: %v", b, err)
		}
	}
	if strings.Contains(err.Error(), "ok.example") {
		t.Errorf("the error names the good entry: %v", err)
	}
}

// corsPage is a frontend page: callAPI fetches the API with a bearer key
// the way a browser GraphQL client does (POST, JSON, Authorization,
// Idempotency-Key: a preflighted request) and says what it could read.
const corsPage = `<!doctype html><title>frontend</title><script>
async function callAPI(url, key) {
  try {
    const headers = {'Content-Type': 'application/json', 'Accept': 'application/graphql-response+json, application/json;q=0.9'};
    if (key) headers['Authorization'] = 'Bearer ' + key;
    const r = await fetch(url, {method: 'POST', headers, body: JSON.stringify({query: '{ organization { name } }'})});
    return JSON.stringify({status: r.status, requestId: r.headers.get('X-Request-Id') || '', body: await r.json()});
  } catch (e) {
    return 'blocked: ' + e;
  }
}
</script>`

// TestCORSInBrowser: in Chromium, a page served from an origin in
// MEMBERBIND_CORS_ORIGINS calls /graphql with the API key and reads the
// answer and its X-Request-Id (its preflight answered before any key is
// asked for, as a preflight carries none), and reads a 401 without a key;
// a page from another origin (another port) is blocked by the browser.
func TestCORSInBrowser(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	browser := testenv.Browser(t)
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, corsPage)
	})
	allowed := httptest.NewServer(page)
	t.Cleanup(allowed.Close)
	other := httptest.NewServer(page)
	t.Cleanup(other.Close)

	inst := serveFor(t, map[string]string{envCORSOrigins: allowed.URL})
	m := regexp.MustCompile(`API key:\s+(mb_\S+)`).FindStringSubmatch(inst.Output.String())
	if m == nil {
		t.Fatalf("no API key in the start-up message:\n%s", inst.Output.String())
	}
	key, api := m[1], inst.URL+"/graphql"
	call := func(pageURL, key string) string {
		t.Helper()
		tab := newTourTab(t, browser, testenv.ArtifactDir(t))
		tab.do(chromedp.Navigate(pageURL))
		return tourEval[string](tab, fmt.Sprintf("callAPI(%s, %s)", tourJS(api), tourJS(key)))
	}
	type answer struct {
		Status    int
		RequestID string
		Body      struct {
			Data   struct{ Organization struct{ Name string } }
			Errors []struct{ Extensions struct{ Code string } }
		}
	}
	read := func(s string) answer {
		t.Helper()
		var a answer
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			t.Fatalf("the page could not read the answer: %s", s)
		}
		return a
	}

	a := read(call(allowed.URL, key))
	if a.Status != 200 || a.Body.Data.Organization.Name != "Demo organization" || a.RequestID == "" {
		t.Errorf("from the allowed origin: %+v, want 200, the organization and its X-Request-Id", a)
	}
	a = read(call(allowed.URL, ""))
	if a.Status != 401 || len(a.Body.Errors) != 1 || a.Body.Errors[0].Extensions.Code != "UNAUTHENTICATED" {
		t.Errorf("from the allowed origin without a key: %+v, want a readable 401 UNAUTHENTICATED", a)
	}
	if got := call(other.URL, key); !strings.HasPrefix(got, "blocked: TypeError") {
		t.Errorf("from another origin (%s): %s, want the browser to block it", other.URL, got)
	}
}
