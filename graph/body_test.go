package graph_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"memberbind/graph"
	"memberbind/internal/member"
)

// logRecorder is a slog.Handler that keeps the records logged through it.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// errors returns the messages logged at ERROR or above.
func (l *logRecorder) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if r.Level >= slog.LevelError {
			line := r.Message
			r.Attrs(func(a slog.Attr) bool {
				if a.Key != "stack" {
					line += " " + a.String()
				}
				return true
			})
			out = append(out, line)
		}
	}
	return out
}

// logged returns a's API served again by a handler with o, logging to the
// returned recorder.
func (a *api) logged(o graph.Options) (*api, *logRecorder) {
	a.t.Helper()
	rec := &logRecorder{}
	o.Service, o.Logger = a.store, slog.New(rec)
	srv := httptest.NewServer(graph.NewHandler(o))
	a.t.Cleanup(srv.Close)
	b := *a
	b.srv = srv
	return &b, rec
}

// post sends body as it is to /graphql with the API key, and returns the
// status and the decoded answer.
func (a *api) post(contentType, body string, header map[string]string) (int, response, http.Header) {
	a.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+a.key)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var r response
	if err := json.Unmarshal(b, &r); err != nil {
		a.t.Fatalf("answer %d is not JSON: %s", res.StatusCode, b)
	}
	r.Status = res.StatusCode
	return res.StatusCode, r, res.Header
}

// TestMalformedBodies: a body that is not one GraphQL request gets a 400
// BAD_REQUEST error that says what is wrong with it, without a panic or
// an error in the log.
func TestMalformedBodies(t *testing.T) {
	t.Parallel()
	a, rec := newAPI(t, member.Policy{}).logged(graph.Options{Introspection: true})
	cases := []struct {
		name, body, want string
		status           int
	}{
		{"empty", "", "the request body is empty", 400},
		{"blank", "  \n", "the request body is empty", 400},
		{"truncated", `{"query": "{ organization { name } }"`, "the body is not JSON", 400},
		{"not JSON", `query { organization { name } }`, "the body is not JSON", 400},
		{"batched", `[{"query": "{ organization { name } }"}, {"query": "{ organization { id } }"}]`, "batched requests are not supported", 400},
		{"empty batch", `[]`, "batched requests are not supported", 400},
		{"a string", `"{ organization { name } }"`, "must be a JSON object", 400},
		{"null", `null`, "must be a JSON object", 400},
		{"number query", `{"query": 5}`, `"query" must be a string`, 400},
		{"array variables", `{"query": "{ organization { name } }", "variables": [1]}`, `"variables" must be an object`, 400},
		// A document that does not parse is a request error of GraphQL:
		// 400 in application/graphql-response+json, the media type of a
		// request without Accept.
		{"bad syntax", `{"query": "{ organization { name "}`, "Expected Name", 400},
		{"too many tokens", `{"query": "{ organization { name ` + strings.Repeat("name ", graph.MaxTokens) + `} }"}`, "token limit", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, r, _ := a.post("application/json", c.body, nil)
			if status != c.status {
				t.Errorf("status %d, want %d (%+v)", status, c.status, r.Errors)
			}
			if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, c.want) {
				t.Fatalf("errors %+v, want one saying %q", r.Errors, c.want)
			}
			want := "BAD_REQUEST"
			if strings.Contains(c.name, "syntax") || strings.Contains(c.name, "tokens") {
				want = "GRAPHQL_PARSE_FAILED"
			}
			if code := r.Errors[0].Extensions["code"]; code != want {
				t.Errorf("code %v, want %s", code, want)
			}
			if len(c.body) > 20 && strings.Contains(r.Errors[0].Message, c.body[:20]) {
				t.Errorf("the error quotes the body back: %q", r.Errors[0].Message)
			}
		})
	}
	if errs := rec.errors(); len(errs) > 0 {
		t.Errorf("malformed bodies logged errors: %q", errs)
	}
}
