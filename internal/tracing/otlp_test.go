package tracing

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// collector is a fake OTLP/HTTP collector: it keeps each request and
// answers with the statuses in answers, then 200.
type collector struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
	answers  []func(http.ResponseWriter)
}

func newCollector(t *testing.T, answers ...func(http.ResponseWriter)) *collector {
	t.Helper()
	c := &collector{answers: answers}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read the request: %v", err)
		}
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Errorf("gzip: %v", err)
				return
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Errorf("gzip: %v", err)
			}
		}
		c.mu.Lock()
		c.requests = append(c.requests, r)
		c.bodies = append(c.bodies, body)
		n := len(c.requests)
		c.mu.Unlock()
		if n <= len(c.answers) {
			c.answers[n-1](w)
		}
	}))
	t.Cleanup(c.Close)
	return c
}

// traces decodes the i-th request.
func (c *collector) traces(t *testing.T, i int) *tracepb.TracesData {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if i >= len(c.bodies) {
		t.Fatalf("the collector got %d requests, want at least %d", len(c.bodies), i+1)
	}
	var td tracepb.TracesData
	if err := proto.Unmarshal(c.bodies[i], &td); err != nil {
		t.Fatalf("request %d: %v", i, err)
	}
	return &td
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// testSpans are spans with every kind of thing a span carries: the
// attribute types, events, links to local and remote spans, statuses,
// kinds, dropped counts, a trace state, two scopes and a resource with a
// schema URL.
func testSpans(t *testing.T) []sdktrace.ReadOnlySpan {
	t.Helper()
	res := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0",
		attribute.String("service.name", "memberbind"), attribute.String("service.version", "test"))
	tid := trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	ts, err := trace.ParseTraceState("vendor=value")
	if err != nil {
		t.Fatal(err)
	}
	sc := func(sid byte, remote bool) trace.SpanContext {
		return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{sid}, TraceFlags: trace.FlagsSampled, Remote: remote})
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	http := instrumentation.Scope{Name: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", Version: "0.72.0"}
	sql := instrumentation.Scope{Name: "github.com/XSAM/otelsql", Version: "0.44.0", SchemaURL: "https://opentelemetry.io/schemas/1.24.0",
		Attributes: attribute.NewSet(attribute.String("db.system", "mysql"))}
	stubs := tracetest.SpanStubs{
		{
			Name: "POST /graphql",
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled,
				TraceState: ts}),
			Parent:    sc(9, true),
			SpanKind:  trace.SpanKindServer,
			StartTime: t0, EndTime: t0.Add(3 * time.Millisecond),
			Attributes: []attribute.KeyValue{
				attribute.String("http.request.method", "POST"),
				attribute.Int("http.response.status_code", 200),
				attribute.Bool("b", true),
				attribute.Float64("f", 1.5),
				attribute.StringSlice("ss", []string{"a", "b"}),
				attribute.Int64Slice("is", []int64{1, -2}),
				attribute.BoolSlice("bs", []bool{true, false}),
				attribute.Float64Slice("fs", []float64{0.25}),
			},
			Events: []sdktrace.Event{{Name: "exception", Time: t0.Add(time.Millisecond),
				Attributes: []attribute.KeyValue{attribute.String("exception.message", "boom")}, DroppedAttributeCount: 2}},
			Links:             []sdktrace.Link{{SpanContext: sc(7, true), Attributes: []attribute.KeyValue{attribute.String("k", "v")}, DroppedAttributeCount: 1}},
			Status:            sdktrace.Status{Code: codes.Error, Description: "internal error"},
			DroppedAttributes: 3, DroppedEvents: 4, DroppedLinks: 5,
			Resource:             res,
			InstrumentationScope: http,
		},
		{
			Name: "sql.conn.query", SpanContext: sc(2, false), Parent: sc(1, false), SpanKind: trace.SpanKindClient,
			StartTime: t0.Add(time.Millisecond), EndTime: t0.Add(2 * time.Millisecond),
			Attributes: []attribute.KeyValue{attribute.String("db.statement", "SELECT 1")},
			Links:      []sdktrace.Link{{SpanContext: sc(8, false)}},
			Status:     sdktrace.Status{Code: codes.Ok}, Resource: res, InstrumentationScope: sql,
		},
		{
			Name: "smtp.send", SpanContext: sc(3, false), SpanKind: trace.SpanKindProducer,
			StartTime: t0, EndTime: t0.Add(time.Millisecond), Resource: res, InstrumentationScope: http,
		},
		{Name: "internal", SpanContext: sc(4, false), SpanKind: trace.SpanKindInternal, StartTime: t0, EndTime: t0, Resource: res},
		{Name: "consumer", SpanContext: sc(5, false), SpanKind: trace.SpanKindConsumer, StartTime: t0, EndTime: t0, Resource: res, InstrumentationScope: sql},
	}
	return stubs.Snapshots()
}

// TestExporterMatchesOTLPTraceHTTP: a collector receives from this
// exporter the same traces as from the SDK's otlptracehttp, which
// memberbind used before. (otlptracehttp leaves out a link's trace state,
// which OTLP carries and this exporter sends; testSpans' links have
// none.)
func TestExporterMatchesOTLPTraceHTTP(t *testing.T) {
	spans := testSpans(t)
	c := newCollector(t)

	cfg, err := otlpConfigFromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": c.URL}))
	if err != nil {
		t.Fatal(err)
	}
	ours := newExporter(cfg)
	if err := ours.ExportSpans(t.Context(), spans); err != nil {
		t.Fatal(err)
	}
	theirs, err := otlptracehttp.New(t.Context(), otlptracehttp.WithEndpointURL(c.URL+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	if err := theirs.ExportSpans(t.Context(), spans); err != nil {
		t.Fatal(err)
	}
	got, want := c.traces(t, 0), c.traces(t, 1)
	if !proto.Equal(got, want) {
		t.Errorf("this exporter sent\n%v\notlptracehttp sent\n%v", got, want)
	}
	if n := len(got.ResourceSpans); n != 1 || len(got.ResourceSpans[0].ScopeSpans) != 3 {
		t.Errorf("%d resources, want 1 with 3 scopes: %v", n, got)
	}
	for i, r := range c.requests {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("request %d: %s %s, Content-Type %q", i, r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
	}
}

func TestOTLPConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want otlpConfig // URL, Headers, Timeout, Gzip
		err  string     // a part of the error; "" for none
	}{
		{"base endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			otlpConfig{URL: "http://collector:4318/v1/traces", Timeout: 10 * time.Second}, ""},
		{"base endpoint with a path", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://gateway/otlp/"},
			otlpConfig{URL: "https://gateway/otlp/v1/traces", Timeout: 10 * time.Second}, ""},
		{"traces endpoint as it is", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/custom"},
			otlpConfig{URL: "http://b:4318/custom", Timeout: 10 * time.Second}, ""},
		{"headers, timeout, gzip", map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT":    "http://c:4318",
			"OTEL_EXPORTER_OTLP_HEADERS":     "api-key=secret%20value, X-Tenant = acme",
			"OTEL_EXPORTER_OTLP_TIMEOUT":     "2500",
			"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
		}, otlpConfig{URL: "http://c:4318/v1/traces", Headers: map[string]string{"api-key": "secret value", "X-Tenant": "acme"}, Timeout: 2500 * time.Millisecond, Gzip: true}, ""},
		{"the traces variables win", map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT":           "http://c:4318",
			"OTEL_EXPORTER_OTLP_HEADERS":            "a=1",
			"OTEL_EXPORTER_OTLP_TRACES_HEADERS":     "b=2",
			"OTEL_EXPORTER_OTLP_TIMEOUT":            "1000",
			"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT":     "3000",
			"OTEL_EXPORTER_OTLP_COMPRESSION":        "gzip",
			"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "none",
		}, otlpConfig{URL: "http://c:4318/v1/traces", Headers: map[string]string{"b": "2"}, Timeout: 3 * time.Second}, ""},
		{"not a URL", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, otlpConfig{}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"not http", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "grpc://c:4317"}, otlpConfig{}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{"not http, with a password", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "grpc://u:s3cret@c:4317"}, otlpConfig{}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{"not a URL, with a password", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://u:s3cret@c:4318/%zz"}, otlpConfig{}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"bad header", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, otlpConfig{}, "OTEL_EXPORTER_OTLP_HEADERS"},
		{"header written as in HTTP", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_HEADERS": "a=1,Authorization: Bearer s3cret"}, otlpConfig{}, "OTEL_EXPORTER_OTLP_HEADERS"},
		{"header value badly escaped", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cret%zz"}, otlpConfig{}, "OTEL_EXPORTER_OTLP_HEADERS"},
		{"bad timeout", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "10s"}, otlpConfig{}, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"},
		{"bad compression", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, otlpConfig{}, "OTEL_EXPORTER_OTLP_COMPRESSION"},
		{"missing certificate", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c", "OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"}, otlpConfig{}, "OTEL_EXPORTER_OTLP_CERTIFICATE"},
		{"certificate without key", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "/nonexistent/c.pem"}, otlpConfig{}, "CLIENT_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := otlpConfigFromEnv(envOf(tc.env))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one naming %s", err, tc.err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error %q quotes a secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.URL != tc.want.URL || got.Timeout != tc.want.Timeout || got.Gzip != tc.want.Gzip || len(got.Headers) != len(tc.want.Headers) {
				t.Errorf("got URL %q, timeout %s, gzip %v, headers %v; want %q, %s, %v, %v",
					got.URL, got.Timeout, got.Gzip, got.Headers, tc.want.URL, tc.want.Timeout, tc.want.Gzip, tc.want.Headers)
			}
			for k, v := range tc.want.Headers {
				if got.Headers[k] != v {
					t.Errorf("header %s = %q, want %q", k, got.Headers[k], v)
				}
			}
		})
	}
}

// quickRetries is cfg with retries that do not wait.
func quickRetries(cfg otlpConfig) otlpConfig {
	cfg.retryFirst, cfg.retryMax = time.Nanosecond, time.Nanosecond
	return cfg
}

func status(code int, header ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		http.Error(w, http.StatusText(code), code)
	}
}

// TestExporterRetries: a busy collector (429, 502, 503, 504) is asked
// again; any other failure is reported at once.
func TestExporterRetries(t *testing.T) {
	spans := testSpans(t)[:1]
	c := newCollector(t, status(http.StatusServiceUnavailable, "Retry-After", "0"), status(http.StatusTooManyRequests), status(http.StatusBadGateway))
	cfg, err := otlpConfigFromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": c.URL}))
	if err != nil {
		t.Fatal(err)
	}
	if err := newExporter(quickRetries(cfg)).ExportSpans(t.Context(), spans); err != nil {
		t.Fatalf("after three busy answers: %v", err)
	}
	if len(c.requests) != 4 {
		t.Errorf("%d attempts, want 4", len(c.requests))
	}

	bad := newCollector(t, status(http.StatusBadRequest))
	cfg.URL = bad.URL + "/v1/traces"
	err = newExporter(quickRetries(cfg)).ExportSpans(t.Context(), spans)
	if err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("400: error %v, want it reported", err)
	}
	if len(bad.requests) != 1 {
		t.Errorf("400: %d attempts, want 1", len(bad.requests))
	}
	// A password in the endpoint (sent as basic authentication) stays
	// out of the error, which goes to OpenTelemetry's error handler and
	// the log.
	withPassword := newCollector(t, status(http.StatusBadRequest))
	cfg.URL = strings.Replace(withPassword.URL, "http://", "http://user:s3cret@", 1) + "/v1/traces"
	err = newExporter(quickRetries(cfg)).ExportSpans(t.Context(), spans)
	if err == nil || !strings.Contains(err.Error(), "400") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("400 from an endpoint with a password: error %v, want it reported without the password", err)
	}

	busy := newCollector(t, status(503), status(503), status(503))
	cfg.URL = busy.URL + "/v1/traces"
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := newExporter(cfg).ExportSpans(ctx, spans); err == nil {
		t.Errorf("a cancelled export succeeded")
	}
}

// TestExporterHeadersAndGzip: the configured headers go with each
// request, and a gzipped body decodes to the spans.
func TestExporterHeadersAndGzip(t *testing.T) {
	c := newCollector(t)
	cfg, err := otlpConfigFromEnv(envOf(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":    c.URL,
		"OTEL_EXPORTER_OTLP_HEADERS":     "Authorization=Bearer%20t0ken",
		"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := newExporter(cfg).ExportSpans(t.Context(), testSpans(t)); err != nil {
		t.Fatal(err)
	}
	r := c.requests[0]
	if r.Header.Get("Authorization") != "Bearer t0ken" || r.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("Authorization %q, Content-Encoding %q", r.Header.Get("Authorization"), r.Header.Get("Content-Encoding"))
	}
	if n := len(c.traces(t, 0).ResourceSpans); n != 1 {
		t.Errorf("%d resources, want 1", n)
	}
}

// TestExporterPartialSuccess: spans the collector says it rejected are
// reported to OpenTelemetry's error handler.
func TestExporterPartialSuccess(t *testing.T) {
	var partial []byte
	partial = protowire.AppendTag(partial, 1, protowire.VarintType)
	partial = protowire.AppendVarint(partial, 2)
	partial = protowire.AppendTag(partial, 2, protowire.BytesType)
	partial = protowire.AppendString(partial, "too old")
	var answer []byte
	answer = protowire.AppendTag(answer, 1, protowire.BytesType)
	answer = protowire.AppendBytes(answer, partial)

	c := newCollector(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(answer)
	})
	var handled []error
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { handled = append(handled, err) }))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })

	cfg, _ := otlpConfigFromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": c.URL}))
	if err := newExporter(cfg).ExportSpans(t.Context(), testSpans(t)); err != nil {
		t.Fatal(err)
	}
	if len(handled) != 1 || !strings.Contains(handled[0].Error(), "2 spans rejected: too old") {
		t.Errorf("handled %v, want the partial success", handled)
	}
}

func TestExporterShutdown(t *testing.T) {
	c := newCollector(t)
	cfg, _ := otlpConfigFromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": c.URL}))
	e := newExporter(cfg)
	if err := e.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.ExportSpans(t.Context(), testSpans(t)); !errors.Is(err, errShutdown) {
		t.Errorf("export after Shutdown: %v, want errShutdown", err)
	}
	if len(c.requests) != 0 {
		t.Errorf("%d requests after Shutdown", len(c.requests))
	}
}

// TestSetupExports: with an endpoint, Setup's provider sends the spans
// it ends to the collector, at the latest when stopped.
func TestSetupExports(t *testing.T) {
	c := newCollector(t)
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })
	stop, err := Setup(t.Context(), envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": c.URL}), "test")
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(t.Context(), "work")
	span.End()
	if err := stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	td := c.traces(t, 0)
	if s := td.ResourceSpans[0].ScopeSpans[0].Spans[0]; s.Name != "work" {
		t.Errorf("exported %q, want work", s.Name)
	}
}

// TestExporterHungCollector: a collector that takes requests and never
// answers costs an export at most its attempts' timeouts within the
// retry window, and Shutdown ends an export that waits on it at once,
// so that a stopping process does not hang on its collector.
func TestExporterHungCollector(t *testing.T) {
	hang := make(chan struct{})
	hangs := make([]func(http.ResponseWriter), 100)
	for i := range hangs {
		hangs[i] = func(http.ResponseWriter) { <-hang }
	}
	c := newCollector(t, hangs...)
	t.Cleanup(func() { close(hang) }) // before the server closes
	cfg, err := otlpConfigFromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": c.URL, "OTEL_EXPORTER_OTLP_TIMEOUT": "50"}))
	if err != nil {
		t.Fatal(err)
	}
	cfg = quickRetries(cfg)
	cfg.retryWithin = 300 * time.Millisecond
	start := time.Now()
	if err := newExporter(cfg).ExportSpans(t.Context(), testSpans(t)); err == nil {
		t.Error("an export to a collector that never answers succeeded")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the export took %s, want about the retry window (300ms)", took)
	}
	c.mu.Lock()
	attempts := len(c.requests)
	c.mu.Unlock()
	if attempts < 2 {
		t.Errorf("%d attempts, want the timed-out one retried", attempts)
	}

	cfg.Timeout, cfg.retryWithin = time.Minute, time.Minute
	e := newExporter(cfg)
	done := make(chan error, 1)
	go func() { done <- e.ExportSpans(context.Background(), testSpans(t)) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c.mu.Lock()
		n := len(c.requests)
		c.mu.Unlock()
		if n > attempts {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the export did not reach the collector within 10s")
		}
	}
	if err := e.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("an export cut by Shutdown succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Error("Shutdown did not end the export waiting on the collector")
	}
}
