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
