package testenv

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWatchConsole checks that a watched tab reports what a browser test
// fails on, and lets through what it allows.
func TestWatchConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/clean":
			w.Header().Set("Content-Security-Policy", "default-src 'none'")
			w.Write([]byte(`<!doctype html><title>clean</title><p>clean</p>`))
		case "/dirty":
			// The inline script may run; the image it adds may not load.
			w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'")
			w.Write([]byte(`<!doctype html><title>dirty</title><body><script>
console.log('a log line');
console.warn('allowed warning');
console.error('boom');
const img = document.createElement('img'); img.src = '/pixel.png'; document.body.append(img);
</script>`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	tab := Tab(t, Browser(t))
	c := WatchConsole(t, tab)
	tab, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()

	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+"/clean")); err != nil {
		t.Fatal(err)
	}
	if p := c.Problems(); len(p) != 0 {
		t.Errorf("clean page: problems %q, want none", p)
	}

	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+"/dirty"), chromedp.WaitReady(chromedp.CSS("img"))); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 5*time.Second, "the dirty page's problems", func() error {
		// The violation and the console messages come a moment after the
		// page is ready.
		problems := strings.Join(c.Problems("allowed warning"), "\n")
		for _, want := range []string{"CSP violation: img-src blocked", "console error", "boom"} {
			if !strings.Contains(problems, want) {
				return fmt.Errorf("no %q in:\n%s", want, problems)
			}
		}
		return nil
	})
	problems := strings.Join(c.Problems("allowed warning"), "\n")
	if strings.Contains(problems, "allowed warning") || strings.Contains(problems, "a log line") {
		t.Errorf("problems include what is allowed or no problem:\n%s", problems)
	}
}
