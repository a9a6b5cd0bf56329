// Package requestlog makes every log line written while serving a request
// say which request it belongs to: Handler adds the request id and, once
// the request is authenticated, its organization, to each record logged
// with the request's context. The access log reads the same per-request
// fields (Fields) to write its one line when the request ends.
package requestlog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/trace"

	"memberbind/internal/requestid"
)

// Formats are the values of MEMBERBIND_LOG_FORMAT.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// New returns the logger that writes records of at least level to w as
// format (FormatText or FormatJSON), each record with its request's
// fields (Handler).
func New(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch format {
	case FormatText, "":
		h = slog.NewTextHandler(w, opts)
	case FormatJSON:
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q is neither %s nor %s", format, FormatText, FormatJSON)
	}
	return slog.New(NewHandler(h)), nil
}

// ParseLevel reads a level name: debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		l = slog.LevelDebug
	case "info", "":
		l = slog.LevelInfo
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return l, fmt.Errorf("log level %q is not one of debug, info, warn, error", s)
	}
	return l, nil
}

// Handler is a slog.Handler that adds to every record logged with a
// request's context that request's request_id, and its org_id once
// known, before passing it on.
type Handler struct{ next slog.Handler }

// NewHandler wraps next.
func NewHandler(next slog.Handler) *Handler { return &Handler{next: next} }

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := requestid.From(ctx); id != "" {
			r.AddAttrs(slog.String("request_id", id))
		}
		if f := from(ctx); f != nil {
			if org, ok := f.Org(); ok {
				r.AddAttrs(slog.Int64("org_id", org))
			}
		}
		// The trace, when there is one, so that a line leads to its spans.
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r.AddAttrs(slog.String("trace_id", sc.TraceID().String()))
		}
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(as)}
}

// WithGroup implements slog.Handler. The request's fields stay at the top
// level, where a log search looks for them (slog adds them inside the
// group; accepted, since memberbind logs no groups).
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name)}
}

// Fields are what is learnt about a request while it is served, for its
// log lines and its access line. The handlers that learn them write them
// (SetOrg, SetOperation); they are safe for concurrent use, since gqlgen
// resolves fields concurrently.
type Fields struct {
	mu        sync.Mutex
	org       int64
	hasOrg    bool
	operation string
}

type fieldsKey struct{}

// Start returns ctx carrying fresh Fields for one request.
func Start(ctx context.Context) (context.Context, *Fields) {
	f := &Fields{}
	return context.WithValue(ctx, fieldsKey{}, f), f
}

func from(ctx context.Context) *Fields {
	f, _ := ctx.Value(fieldsKey{}).(*Fields)
	return f
}

// SetOrg records the organization the request was authenticated for.
// Without Start it does nothing.
func SetOrg(ctx context.Context, id int64) {
	if f := from(ctx); f != nil {
		f.mu.Lock()
		f.org, f.hasOrg = id, true
		f.mu.Unlock()
	}
}

// SetOperation records the GraphQL operation name the request executes.
// Without Start it does nothing.
func SetOperation(ctx context.Context, name string) {
	if f := from(ctx); f != nil {
		f.mu.Lock()
		f.operation = name
		f.mu.Unlock()
	}
}

// Org returns the organization, if the request got as far as knowing it.
func (f *Fields) Org() (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.org, f.hasOrg
}

// Operation returns the GraphQL operation name, "" if none.
func (f *Fields) Operation() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.operation
}
