package landing_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"memberbind/internal/landing"
	"memberbind/internal/member"
)

// failingActivator fails the test if the handler asks the store anything.
type failingActivator struct{ t *testing.T }

// stopped is a clock that stands still, for handlers whose limiter must
// not refill during a test however slowly the machine runs it.
func stopped() time.Time { return t0 }

func (a failingActivator) InspectLink(_ context.Context, token string) (*member.LinkView, error) {
	a.t.Errorf("InspectLink(%q) reached the store", token)
	return &member.LinkView{State: member.LinkUnknown}, nil
}

func (a failingActivator) Activate(_ context.Context, token string) (*member.LinkView, error) {
	a.t.Errorf("Activate(%q) reached the store", token)
	return &member.LinkView{State: member.LinkUnknown}, nil
}

// fixedActivator answers every well-formed token with view, or err.
type fixedActivator struct {
	view *member.LinkView
	err  error
}

func (a fixedActivator) InspectLink(context.Context, string) (*member.LinkView, error) {
	return a.view, a.err
}

func (a fixedActivator) Activate(context.Context, string) (*member.LinkView, error) {
	return a.view, a.err
}

// wellFormed is a token of the right shape that no store knows.
const wellFormed = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"

// TestMalformedTokensNeverReachStore refuses tokens that cannot be tokens
// in the handler, before any store call.
func TestMalformedTokensNeverReachStore(t *testing.T) {
	t.Parallel()
	h := landing.New(landing.Options{Now: stopped, Activator: failingActivator{t}, MissBurst: 1000})
	for _, tok := range []string{
		"", "abc", wellFormed[:42], wellFormed + "C", wellFormed[:42] + "=", wellFormed[:42] + "+",
		wellFormed[:42] + "/", wellFormed[:21] + " " + wellFormed[:21], wellFormed[:41] + "é",
		strings.Repeat("C", 1000),
	} {
		for _, res := range []response{get(h, tok), head(h, tok), post(h, tok), get(h, tok, withAccept("application/json"))} {
			if res.Status != http.StatusNotFound {
				t.Errorf("token %.50q = %d, want 404", tok, res.Status)
			}
			checkHeaders(t, res)
		}
	}
	// A POST without any token field.
	res := serve(h, http.MethodPost, "/activate", "application/x-www-form-urlencoded", strings.NewReader("other=1"))
	if res.Status != http.StatusNotFound {
		t.Errorf("POST without token = %d, want 404", res.Status)
	}
	// The token must come in the body: one in the query of a POST is not read.
	res = serve(h, http.MethodPost, "/activate?token="+wellFormed, "application/x-www-form-urlencoded", strings.NewReader(""))
	if res.Status != http.StatusNotFound {
		t.Errorf("POST with the token in the query = %d, want 404", res.Status)
	}
}

// TestStoreError answers a store failure with a bare 500 page.
func TestStoreError(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	h := landing.New(landing.Options{Now: stopped,
		Activator: fixedActivator{err: errors.New("dial tcp 10.0.0.5:3306: secret detail")},
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
	})
	for _, res := range []response{get(h, wellFormed), post(h, wellFormed)} {
		if res.Status != http.StatusInternalServerError {
			t.Errorf("status = %d, want 500", res.Status)
		}
		checkHeaders(t, res)
		checkPage(t, res, "en")
		if strings.Contains(res.Body, "secret detail") || !strings.Contains(res.Body, "Something went wrong") {
			t.Errorf("500 page:\n%s", res.Body)
		}
	}
	res := get(h, wellFormed, withAccept("application/json"))
	if res.Status != http.StatusInternalServerError || strings.TrimSpace(res.Body) != `{"status":"error"}` {
		t.Errorf("JSON 500 = %d %s", res.Status, res.Body)
	}
	if !strings.Contains(logs.String(), "secret detail") {
		t.Errorf("the error was not logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), wellFormed) {
		t.Errorf("the token was logged:\n%s", logs.String())
	}

	// A store error does not count as a miss.
	h = landing.New(landing.Options{Now: stopped, Activator: fixedActivator{err: errors.New("down")}, MissBurst: 1, Logger: slog.New(slog.DiscardHandler)})
	for range 3 {
		if res := get(h, wellFormed); res.Status != http.StatusInternalServerError {
			t.Errorf("status = %d, want 500", res.Status)
		}
	}
}

// TestMethods refuses what is not GET, HEAD or POST.
func TestMethods(t *testing.T) {
	t.Parallel()
	h := landing.New(landing.Options{Now: stopped, Activator: failingActivator{t}})
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, "PROPFIND"} {
		res := serve(h, m, "/activate?token="+wellFormed, "", nil)
		if res.Status != http.StatusMethodNotAllowed {
			t.Errorf("%s = %d, want 405", m, res.Status)
		}
		if got := res.Header.Get("Allow"); got != "GET, HEAD, POST" {
			t.Errorf("%s: Allow = %q", m, got)
		}
		checkHeaders(t, res)
		checkPage(t, res, "en")
	}
	res := serve(h, http.MethodDelete, "/activate", "", nil, withAccept("application/json"))
	if res.Status != http.StatusMethodNotAllowed || strings.TrimSpace(res.Body) != `{"status":"method_not_allowed"}` {
		t.Errorf("JSON 405 = %d %s", res.Status, res.Body)
	}
}

// TestBadPosts refuses bodies the page's form would never send.
func TestBadPosts(t *testing.T) {
	t.Parallel()
	h := landing.New(landing.Options{Now: stopped, Activator: failingActivator{t}})
	for _, c := range []struct {
		name, contentType, body string
		status                  int
	}{
		{"plain text", "text/plain", "token=" + wellFormed, http.StatusUnsupportedMediaType},
		{"no content type", "", "token=" + wellFormed, http.StatusUnsupportedMediaType},
		{"multipart", "multipart/form-data; boundary=x", "--x--", http.StatusUnsupportedMediaType},
		{"too big form", "application/x-www-form-urlencoded", "token=" + wellFormed + "&pad=" + strings.Repeat("a", 5000), http.StatusRequestEntityTooLarge},
		{"too big JSON", "application/json", `{"token":"` + strings.Repeat("a", 5000) + `"}`, http.StatusRequestEntityTooLarge},
		{"bad JSON", "application/json", `{"token":`, http.StatusBadRequest},
		{"bad form", "application/x-www-form-urlencoded", "token=%zz", http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := serve(h, http.MethodPost, "/activate", c.contentType, strings.NewReader(c.body))
			if res.Status != c.status {
				t.Errorf("status = %d, want %d\n%s", res.Status, c.status, res.Body)
			}
			checkHeaders(t, res)
			checkPage(t, res, "en")
			res = serve(h, http.MethodPost, "/activate", c.contentType, strings.NewReader(c.body), withAccept("application/json"))
			if res.Status != c.status || strings.TrimSpace(res.Body) != `{"status":"bad_request"}` {
				t.Errorf("JSON = %d %s", res.Status, res.Body)
			}
		})
	}
}

// TestOtherPaths answers nothing but /activate.
func TestOtherPaths(t *testing.T) {
	t.Parallel()
	h := landing.New(landing.Options{Now: stopped, Activator: failingActivator{t}})
	for _, p := range []string{"/activate/", "/activate/style.css", "/", "/activate/x?token=" + wellFormed} {
		res := serve(h, http.MethodGet, p, "", nil)
		if res.Status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, res.Status)
		}
		checkHeaders(t, res)
	}
}

// TestLanguageFallback uses Accept-Language when the store gives no
// language the pages have.
func TestLanguageFallback(t *testing.T) {
	t.Parallel()
	expires := time.Date(2026, 5, 16, 8, 5, 0, 0, time.UTC)
	for _, orgLang := range []string{"", "fr", "zh-TW"} {
		view := &member.LinkView{State: member.LinkValid, OrgName: "Acme", OrgLang: orgLang, MemberName: "Alice",
			Email: "alice@example.com", Phone: "+14155552671", ExpiresAt: &expires}
		h := landing.New(landing.Options{Now: stopped, Activator: fixedActivator{view: view}})
		res := get(h, wellFormed, withAcceptLanguage("zh-CN,zh;q=0.9,en;q=0.8"))
		checkPage(t, res, "zh-CN")
		if !strings.Contains(res.Body, "2026年5月16日 08:05 (UTC)") || !strings.Contains(text(res), "+1 41****2671") {
			t.Errorf("org lang %q:\n%s", orgLang, res.Body)
		}
		res = get(h, wellFormed)
		checkPage(t, res, "en")
		if !strings.Contains(res.Body, "16 May 2026, 08:05 (UTC)") {
			t.Errorf("org lang %q:\n%s", orgLang, res.Body)
		}
	}
}

// TestUnexpectedState answers a link state this package does not know
// with a 500, not with a guess.
func TestUnexpectedState(t *testing.T) {
	t.Parallel()
	h := landing.New(landing.Options{Now: stopped,
		Activator: fixedActivator{view: &member.LinkView{State: "SOMETHING_NEW"}},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if res := get(h, wellFormed); res.Status != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", res.Status)
	}
	h = landing.New(landing.Options{Now: stopped, Activator: fixedActivator{}, Logger: slog.New(slog.DiscardHandler)})
	if res := get(h, wellFormed); res.Status != http.StatusInternalServerError {
		t.Errorf("nil view: status = %d, want 500", res.Status)
	}
}
