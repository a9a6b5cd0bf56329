package middleware

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestTimeout(t *testing.T) {
	var left time.Duration
	var had bool
	h := Timeout(3 * time.Second)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var deadline time.Time
		deadline, had = r.Context().Deadline()
		left = time.Until(deadline)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !had || left <= 0 || left > 3*time.Second {
		t.Errorf("handler saw deadline %v in %s, want one within 3s", had, left)
	}
}

func TestStrictTransportSecurity(t *testing.T) {
	h := StrictTransportSecurity(http.NotFoundHandler())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if got := rec.Header().Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("Strict-Transport-Security %q", got)
	}
}

func TestCORS(t *testing.T) {
	var reached []string
	h := CORS([]string{"https://app.example.com", "http://localhost:5173"})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = append(reached, r.Method+" "+r.Header.Get("Origin"))
		w.WriteHeader(http.StatusUnauthorized) // as /graphql without a key
	}))
	do := func(method, origin string, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/graphql", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		for i := 0; i < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	preflight := []string{"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type,idempotency-key"}

	// A preflight from an allowed origin is answered here, without
	// reaching the handler (which would want a key).
	w := do("OPTIONS", "https://app.example.com", preflight...)
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("preflight: %d, Allow-Origin %q", w.Code, w.Header().Get("Access-Control-Allow-Origin"))
	}
	if got := w.Header().Get("Access-Control-Allow-Headers"); got != "authorization,content-type,idempotency-key" {
		t.Errorf("Access-Control-Allow-Headers %q", got)
	}
	if got := w.Header().Get("Access-Control-Max-Age"); got != "600" {
		t.Errorf("Access-Control-Max-Age %q", got)
	}
	if len(reached) != 0 {
		t.Errorf("a preflight reached the handler: %q", reached)
	}
	// Other origins, and headers not allowed, get no grant.
	for _, c := range []struct {
		name, origin string
		header       []string
	}{
		{"other origin", "https://evil.example", preflight},
		{"other port", "https://app.example.com:8443", preflight},
		{"other scheme", "http://app.example.com", preflight},
		{"a header not allowed", "https://app.example.com", []string{"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-admin"}},
		{"a method not allowed", "https://app.example.com", []string{"Access-Control-Request-Method", "DELETE"}},
	} {
		w := do("OPTIONS", c.origin, c.header...)
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("%s: preflight granted %q", c.name, got)
		}
	}
	// The request itself is granted to the allowed origin, with what it
	// may read, and varies by Origin; not to another.
	w = do("POST", "http://localhost:5173")
	if w.Header().Get("Access-Control-Allow-Origin") != "http://localhost:5173" || w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("request: Allow-Origin %q, Allow-Credentials %q", w.Header().Get("Access-Control-Allow-Origin"), w.Header().Get("Access-Control-Allow-Credentials"))
	}
	if got := w.Header().Get("Access-Control-Expose-Headers"); got != "X-Request-Id, Idempotent-Replayed, Retry-After" {
		t.Errorf("Access-Control-Expose-Headers %q", got)
	}
	for _, origin := range []string{"https://evil.example", ""} {
		w = do("POST", origin)
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("request from %q granted %q", origin, got)
		}
		if got := w.Header().Values("Vary"); len(got) == 0 || got[0] != "Origin" {
			t.Errorf("request from %q: Vary %q, want Origin", origin, got)
		}
	}
	// An OPTIONS that is no preflight is the handler's.
	reached = nil
	do("OPTIONS", "https://app.example.com")
	if len(reached) != 1 {
		t.Errorf("a plain OPTIONS did not reach the handler")
	}

	// No origins: no CORS at all.
	none := CORS(nil)(http.NotFoundHandler())
	r := httptest.NewRequest("OPTIONS", "/graphql", nil)
	r.Header.Set("Origin", "https://app.example.com")
	r.Header.Set("Access-Control-Request-Method", "POST")
	rec := httptest.NewRecorder()
	none.ServeHTTP(rec, r)
	if rec.Code != http.StatusNotFound || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("no origins: %d, Allow-Origin %q", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
	}
}
