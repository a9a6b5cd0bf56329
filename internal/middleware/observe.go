package middleware

import (
	"log/slog"
	"net/http"
	"time"

	"memberbind/internal/requestlog"
)

// Unmatched is the route of a request no pattern of the mux matched (a
// 404), so that scanners probing random paths add one label value, not
// one per path.
const Unmatched = "unmatched"

// RouteOf returns the route label of r: the ServeMux pattern that serves
// it, never its raw path, so that the labels of metrics and access lines
// are few and known in advance. mux.Handler finds the pattern without
// serving, before the mux has set r.Pattern on its own copy of r.
func RouteOf(mux *http.ServeMux) func(*http.Request) string {
	return func(r *http.Request) string {
		if _, p := mux.Handler(r); p != "" {
			return p
		}
		return Unmatched
	}
}

// recorder remembers the status and size of an answer. It unwraps to the
// ResponseWriter it wraps, so that http.ResponseController (flushes,
// deadlines, hijacking) reaches the server's.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// code is the answer's status; a handler that wrote nothing answered 200.
func (w *recorder) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// AccessLog writes one line per request when it ends: method, route,
// status, duration, bytes written, and what the handlers learnt on the
// way (the organization, the GraphQL operation; requestlog.Fields). It
// starts those fields, so it goes outside every handler that sets them.
// The raw path is not logged: its query may hold an activation token.
func AccessLog(log *slog.Logger, route func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ctx, fields := requestlog.Start(r.Context())
			rec := &recorder{ResponseWriter: w}
			rt := route(r)
			defer func() {
				code := rec.code()
				if p := recover(); p != nil {
					// The server answers a panic by dropping the
					// connection; count it as the 500 it is, then let
					// the server see the panic.
					code = http.StatusInternalServerError
					defer panic(p)
				}
				attrs := []slog.Attr{
					slog.String("method", r.Method),
					slog.String("route", rt),
					slog.Int("status", code),
					slog.Duration("duration", time.Since(start)),
					slog.Int64("bytes", rec.bytes),
				}
				if op := fields.Operation(); op != "" {
					attrs = append(attrs, slog.String("operation", op))
				}
				// org_id and request_id come from the context
				// (requestlog.Handler).
				log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
			}()
			next.ServeHTTP(rec, r.WithContext(ctx))
		})
	}
}

// Metrics tells observe, when each request ends, its route, status and
// how long it took.
func Metrics(observe func(route string, code int, d time.Duration), route func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &recorder{ResponseWriter: w}
			rt := route(r)
			defer func() {
				code := rec.code()
				if p := recover(); p != nil {
					code = http.StatusInternalServerError // as AccessLog
					defer panic(p)
				}
				observe(rt, code, time.Since(start))
			}()
			next.ServeHTTP(rec, r)
		})
	}
}
