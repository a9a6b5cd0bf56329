package middleware_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"memberbind/internal/middleware"
	"memberbind/internal/requestid"
	"memberbind/internal/requestlog"
)

// TestAccessLogAndMetrics: one access line per request, with the request
// id, the organization and operation the handler learnt, the route
// pattern and never the raw path; the metrics see the same route and
// status.
func TestAccessLogAndMetrics(t *testing.T) {
	var out bytes.Buffer
	log, err := requestlog.New(&out, requestlog.FormatJSON, slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /members/{id}", func(w http.ResponseWriter, r *http.Request) {
		requestlog.SetOrg(r.Context(), 42)
		requestlog.SetOperation(r.Context(), "Member")
		log.InfoContext(r.Context(), "inside")
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("short and stout"))
	})
	type seen struct {
		route string
		code  int
	}
	var observed []seen
	route := middleware.RouteOf(mux)
	var h http.Handler = mux
	h = middleware.Metrics(func(r string, c int, _ time.Duration) { observed = append(observed, seen{r, c}) }, route)(h)
	h = middleware.AccessLog(log, route)(h)
	h = requestid.Middleware(h)

	mux.HandleFunc("POST /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	for _, path := range []string{"/members/secret-123?token=abc", "/nowhere/secret-456"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the handler's panic did not reach the server")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/boom", nil))
	}()
	want := []seen{{"GET /members/{id}", http.StatusTeapot}, {middleware.Unmatched, http.StatusNotFound}, {"POST /boom", http.StatusInternalServerError}}
	if len(observed) != 3 || observed[0] != want[0] || observed[1] != want[1] || observed[2] != want[2] {
		t.Errorf("metrics saw %v, want %v", observed, want)
	}
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		lines = append(lines, m)
	}
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4 (inside, and three access lines):\n%s", len(lines), out.String())
	}
	if lines[3]["status"] != float64(500) {
		t.Errorf("access line of a panic: %v, want status 500", lines[3])
	}
	inside, access := lines[0], lines[1]
	if inside["request_id"] == nil || inside["request_id"] != access["request_id"] || inside["org_id"] != float64(42) {
		t.Errorf("the handler's line lacks the request id or org: %v / %v", inside, access)
	}
	for k, v := range map[string]any{"msg": "request", "method": "GET", "route": "GET /members/{id}", "status": float64(418),
		"bytes": float64(15), "operation": "Member", "org_id": float64(42)} {
		if access[k] != v {
			t.Errorf("access line %s = %v, want %v", k, access[k], v)
		}
	}
	if !bytes.Contains(out.Bytes(), []byte(`"route":"unmatched"`)) || bytes.Contains(out.Bytes(), []byte("secret-")) {
		t.Errorf("raw paths in the log, or no unmatched route:\n%s", out.String())
	}
}
