package tracing

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// This file is memberbind's OTLP/HTTP span exporter: spans as binary
// protobuf (http/protobuf), POSTed to the collector's /v1/traces.
//
// memberbind keeps its own rather than the SDK's otlptracehttp, which is
// what it used before: that exporter links google.golang.org/grpc (69
// packages, for configuration types it shares with the gRPC exporter, and
// through the collector's service package, whose gateway code imports
// grpc-gateway), whether tracing is on or not. That was 3.5 MB of the
// binary and 2.2 MB of its resident memory from the first second, a
// twentieth of the 40 MB the service is meant to run in
// (open-telemetry/opentelemetry-go#2579; a grpc-free otlptracehttp v2 is
// planned there, #5247: go back to it when it ships). The messages are
// the OTLP project's own generated types, which do not import grpc, and
// TestExporterMatchesOTLPTraceHTTP checks that a collector receives from
// this exporter the same spans as from otlptracehttp.

// The defaults of the OTLP exporter specification.
const (
	defaultOTLPTimeout = 10 * time.Second
	tracesPath         = "v1/traces"
)

// Retries of a failed export, as otlptracehttp's: the first after about
// 5 s, then twice as long each time up to 30 s, none past a minute from
// the first attempt (nor past the batch's deadline, 30 s by default).
const (
	retryFirst   = 5 * time.Second
	retryMax     = 30 * time.Second
	retryElapsed = time.Minute
)

// maxResponseBody bounds what is read of a collector's answer.
const maxResponseBody = 64 << 10

// otlpConfig is where and how spans are exported.
type otlpConfig struct {
	URL         string
	Headers     map[string]string
	Timeout     time.Duration // of one attempt
	Gzip        bool
	TLS         *tls.Config // nil: the system's roots, no client certificate
	retryFirst  time.Duration
	retryMax    time.Duration
	retryWithin time.Duration
}

// otlpConfigFromEnv reads the OTLP exporter's standard variables, each
// OTEL_EXPORTER_OTLP_TRACES_* before its OTEL_EXPORTER_OTLP_* twin:
// ENDPOINT (the traces one is the full URL; the other is a base, to which
// v1/traces is added), HEADERS (k=v,k2=v2, values percent-encoded),
// TIMEOUT (milliseconds), COMPRESSION (gzip or none), and CERTIFICATE,
// CLIENT_CERTIFICATE and CLIENT_KEY (PEM files). A value it cannot use is
// an error naming the variable.
func otlpConfigFromEnv(getenv func(string) string) (otlpConfig, error) {
	c := otlpConfig{Timeout: defaultOTLPTimeout, retryFirst: retryFirst, retryMax: retryMax, retryWithin: retryElapsed}
	lookup := func(name string) (string, string) {
		for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_" + name, "OTEL_EXPORTER_OTLP_" + name} {
			if s := strings.TrimSpace(getenv(v)); s != "" {
				return v, s
			}
		}
		return "", ""
	}

	if s := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")); s != "" {
		u, err := endpointURL(s)
		if err != nil {
			return c, fmt.Errorf("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: %w", err)
		}
		c.URL = u.String()
	} else if s := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); s != "" {
		u, err := endpointURL(s)
		if err != nil {
			return c, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + "/" + tracesPath
		c.URL = u.String()
	}

	if name, s := lookup("HEADERS"); s != "" {
		h, err := parseHeaders(s)
		if err != nil {
			return c, fmt.Errorf("%s: %w", name, err)
		}
		c.Headers = h
	}
	if name, s := lookup("TIMEOUT"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms <= 0 || ms > math.MaxInt64/int64(time.Millisecond) {
			return c, fmt.Errorf("%s: %q is not a positive number of milliseconds", name, s)
		}
		c.Timeout = time.Duration(ms) * time.Millisecond
	}
	if name, s := lookup("COMPRESSION"); s != "" {
		switch s {
		case "gzip":
			c.Gzip = true
		case "none":
		default:
			return c, fmt.Errorf("%s: %q is neither gzip nor none", name, s)
		}
	}

	caName, ca := lookup("CERTIFICATE")
	certName, cert := lookup("CLIENT_CERTIFICATE")
	keyName, key := lookup("CLIENT_KEY")
	if ca != "" || cert != "" || key != "" {
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return c, fmt.Errorf("%s: %w", caName, err)
		}
		c.TLS.RootCAs = x509.NewCertPool()
		if !c.TLS.RootCAs.AppendCertsFromPEM(pem) {
			return c, fmt.Errorf("%s: %s holds no PEM certificate", caName, ca)
		}
	}
	if (cert == "") != (key == "") {
		return c, errors.New("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY go together (or their TRACES_ forms)")
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return c, fmt.Errorf("%s, %s: %w", certName, keyName, err)
		}
		c.TLS.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// endpointURL parses an endpoint variable: an http or https URL. Its
// errors show the URL without its password.
func endpointURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		// Not err: it quotes s, password and all.
		return nil, errors.New("not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http:// or https:// URL", u.Redacted())
	}
	return u, nil
}

// redactedURL is raw without its password, for errors.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the collector"
	}
	return u.Redacted()
}

// parseHeaders parses k=v,k2=v2 with percent-encoded values. Its errors
// name a pair by its position, never by its text: the values are
// credentials (an API key, a bearer token), and a pair written wrong, as
// "Authorization: Bearer ..." is, holds its value in what looks like its
// name.
func parseHeaders(s string) (map[string]string, error) {
	h := make(map[string]string)
	i := 0
	for pair := range strings.SplitSeq(s, ",") {
		i++
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) }) {
			return nil, fmt.Errorf("item %d of the comma-separated list is not a header=value pair (not shown: it may hold a secret)", i)
		}
		value, err := url.PathUnescape(v)
		if err != nil {
			// Not err: it quotes the bad escape, a part of the value.
			return nil, fmt.Errorf("header %s: the value is not percent-encoded (not shown: it may hold a secret)", k)
		}
		h[k] = strings.TrimSpace(value)
	}
	return h, nil
}

// exporter is an sdktrace.SpanExporter that posts each batch to an
// OTLP/HTTP collector.
type exporter struct {
	cfg    otlpConfig
	client *http.Client

	// stop ends exports in progress at Shutdown.
	stopped context.Context
	stop    context.CancelFunc
}

// newExporter makes the exporter cfg describes.
func newExporter(cfg otlpConfig) *exporter {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.TLS != nil {
		tr.TLSClientConfig = cfg.TLS
	}
	stopped, stop := context.WithCancel(context.Background())
	return &exporter{cfg: cfg, client: &http.Client{Transport: tr, Timeout: cfg.Timeout}, stopped: stopped, stop: stop}
}

var errShutdown = errors.New("OTLP exporter is shut down")

// ExportSpans sends spans in one request, retried while the collector
// answers that it is busy or cannot be reached, until ctx ends.
func (e *exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.stopped.Err() != nil {
		return errShutdown
	}
	rs := resourceSpans(spans)
	if len(rs) == 0 {
		return nil
	}
	// TracesData is the collector's ExportTraceServiceRequest on the wire:
	// both are field 1, repeated ResourceSpans, and the OTLP project keeps
	// them in step.
	body, err := proto.Marshal(&tracepb.TracesData{ResourceSpans: rs})
	if err != nil {
		return fmt.Errorf("OTLP: encode spans: %w", err)
	}
	if e.cfg.Gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body) // writes to a bytes.Buffer do not fail
		zw.Close()
		body = buf.Bytes()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(e.stopped, cancel)()

	start := time.Now()
	wait := e.cfg.retryFirst
	for {
		err := e.post(ctx, body)
		var busy *retryableError
		if err == nil || !errors.As(err, &busy) {
			return err
		}
		// Jitter of ±50%, so that instances do not retry in step.
		d := wait/2 + rand.N(wait+1)
		d = max(d, busy.after)
		if time.Since(start)+d > e.cfg.retryWithin {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(d):
		}
		wait = min(2*wait, e.cfg.retryMax)
	}
}

// retryableError is a failed attempt worth repeating: the collector
// could not be reached or answered that it is busy; after is its
// Retry-After.
type retryableError struct {
	err   error
	after time.Duration
}

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// post makes one attempt.
func (e *exporter) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("OTLP: %w", err)
	}
	for k, v := range e.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if e.cfg.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	res, err := e.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("OTLP: %w", err)
		}
		return &retryableError{err: fmt.Errorf("OTLP: %w", err)}
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBody))
	if err != nil {
		return fmt.Errorf("OTLP: read the collector's answer: %w", err)
	}
	if res.StatusCode >= 200 && res.StatusCode <= 299 {
		if res.Header.Get("Content-Type") == "application/x-protobuf" {
			if rejected, msg := partialSuccess(answer); rejected != 0 || msg != "" {
				otel.Handle(fmt.Errorf("OTLP partial success: %d spans rejected: %s", rejected, msg))
			}
		}
		return nil
	}
	text := strings.TrimSpace(string(answer))
	if text == "" {
		text = "(empty)"
	}
	err = fmt.Errorf("OTLP: %s answered %s: %s", redactedURL(e.cfg.URL), res.Status, text)
	switch res.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return &retryableError{err: err, after: retryAfter(res.Header.Get("Retry-After"))}
	}
	return err
}

// retryAfter is a Retry-After header's wait: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 {
		return time.Duration(min(s, int64(math.MaxInt64/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// partialSuccess reads an ExportTraceServiceResponse: field 1, its
// partial_success, holds rejected_spans (1) and error_message (2).
func partialSuccess(b []byte) (rejected int64, msg string) {
	fields(b, func(num protowire.Number, _ uint64, ps []byte) {
		if num != 1 {
			return
		}
		fields(ps, func(num protowire.Number, v uint64, s []byte) {
			switch num {
			case 1:
				rejected = int64(v)
			case 2:
				msg = string(s)
			}
		})
	})
	return rejected, msg
}

// fields calls fn with each field of a protobuf message: its number and,
// by its wire type, its varint or its bytes. It stops at a malformed one.
func fields(b []byte, fn func(num protowire.Number, varint uint64, bytes []byte)) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return
		}
		b = b[n:]
		var v uint64
		var bs []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			bs, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return
		}
		b = b[n:]
		fn(num, v, bs)
	}
}

// Shutdown ends the exports in progress; later ones fail.
func (e *exporter) Shutdown(ctx context.Context) error {
	e.stop()
	return ctx.Err()
}

// resourceSpans groups spans by resource, then by instrumentation scope,
// each in the order first seen.
func resourceSpans(spans []sdktrace.ReadOnlySpan) []*tracepb.ResourceSpans {
	type scopeKey struct {
		res   attribute.Distinct
		scope instrumentation.Scope
	}
	var out []*tracepb.ResourceSpans
	byRes := make(map[attribute.Distinct]*tracepb.ResourceSpans)
	byScope := make(map[scopeKey]*tracepb.ScopeSpans)
	for _, s := range spans {
		if s == nil {
			continue
		}
		res := s.Resource()
		rk := res.Equivalent()
		rs := byRes[rk]
		if rs == nil {
			rs = &tracepb.ResourceSpans{Resource: resourceProto(res), SchemaUrl: res.SchemaURL()}
			byRes[rk] = rs
			out = append(out, rs)
		}
		scope := s.InstrumentationScope()
		sk := scopeKey{rk, scope}
		ss := byScope[sk]
		if ss == nil {
			ss = &tracepb.ScopeSpans{Scope: scopeProto(scope), Spans: []*tracepb.Span{}, SchemaUrl: scope.SchemaURL}
			byScope[sk] = ss
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		ss.Spans = append(ss.Spans, spanProto(s))
	}
	return out
}

func resourceProto(r *resource.Resource) *resourcepb.Resource {
	if r == nil {
		return nil
	}
	return &resourcepb.Resource{Attributes: keyValues(r.Iter())}
}

func scopeProto(s instrumentation.Scope) *commonpb.InstrumentationScope {
	if s == (instrumentation.Scope{}) {
		return nil
	}
	return &commonpb.InstrumentationScope{Name: s.Name, Version: s.Version, Attributes: keyValues(s.Attributes.Iter())}
}

func spanProto(s sdktrace.ReadOnlySpan) *tracepb.Span {
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	status := s.Status()
	p := &tracepb.Span{
		TraceId:                tid[:],
		SpanId:                 sid[:],
		TraceState:             sc.TraceState().String(),
		Flags:                  spanFlags(sc.TraceFlags(), s.Parent()),
		Name:                   s.Name(),
		Kind:                   spanKind(s.SpanKind()),
		StartTimeUnixNano:      unixNano(s.StartTime()),
		EndTimeUnixNano:        unixNano(s.EndTime()),
		Attributes:             attrs(s.Attributes()),
		DroppedAttributesCount: count(s.DroppedAttributes()),
		DroppedEventsCount:     count(s.DroppedEvents()),
		DroppedLinksCount:      count(s.DroppedLinks()),
		Status:                 &tracepb.Status{Code: statusCode(status.Code), Message: status.Description},
	}
	if psid := s.Parent().SpanID(); psid.IsValid() {
		p.ParentSpanId = psid[:]
	}
	for _, e := range s.Events() {
		p.Events = append(p.Events, &tracepb.Span_Event{
			Name:                   e.Name,
			TimeUnixNano:           unixNano(e.Time),
			Attributes:             attrs(e.Attributes),
			DroppedAttributesCount: count(e.DroppedAttributeCount),
		})
	}
	for _, l := range s.Links() {
		tid, sid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		p.Links = append(p.Links, &tracepb.Span_Link{
			TraceId:                tid[:],
			SpanId:                 sid[:],
			TraceState:             l.SpanContext.TraceState().String(),
			Attributes:             attrs(l.Attributes),
			DroppedAttributesCount: count(l.DroppedAttributeCount),
			Flags:                  spanFlags(l.SpanContext.TraceFlags(), l.SpanContext),
		})
	}
	return p
}

// spanFlags are the W3C trace flags, and whether the parent (or the
// linked span) is remote, with the bit that says that this is known.
func spanFlags(f trace.TraceFlags, parent trace.SpanContext) uint32 {
	flags := uint32(f) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
	if parent.IsRemote() {
		flags |= uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
	}
	return flags
}

func spanKind(k trace.SpanKind) tracepb.Span_SpanKind {
	switch k {
	case trace.SpanKindInternal:
		return tracepb.Span_SPAN_KIND_INTERNAL
	case trace.SpanKindServer:
		return tracepb.Span_SPAN_KIND_SERVER
	case trace.SpanKindClient:
		return tracepb.Span_SPAN_KIND_CLIENT
	case trace.SpanKindProducer:
		return tracepb.Span_SPAN_KIND_PRODUCER
	case trace.SpanKindConsumer:
		return tracepb.Span_SPAN_KIND_CONSUMER
	}
	return tracepb.Span_SPAN_KIND_UNSPECIFIED
}

func statusCode(c codes.Code) tracepb.Status_StatusCode {
	switch c {
	case codes.Ok:
		return tracepb.Status_STATUS_CODE_OK
	case codes.Error:
		return tracepb.Status_STATUS_CODE_ERROR
	}
	return tracepb.Status_STATUS_CODE_UNSET
}

func unixNano(t time.Time) uint64 { return uint64(max(0, t.UnixNano())) }

func count(n int) uint32 { return uint32(min(max(n, 0), math.MaxUint32)) }

func attrs(kvs []attribute.KeyValue) []*commonpb.KeyValue {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, len(kvs))
	for i, kv := range kvs {
		out[i] = &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)}
	}
	return out
}

func keyValues(it attribute.Iterator) []*commonpb.KeyValue {
	if it.Len() == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, 0, it.Len())
	for it.Next() {
		kv := it.Attribute()
		out = append(out, &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)})
	}
	return out
}

// anyValue is an attribute's value; slices become arrays, maps key-value
// lists.
func anyValue(v attribute.Value) *commonpb.AnyValue {
	a := &commonpb.AnyValue{}
	switch v.Type() {
	case attribute.BOOL:
		a.Value = &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}
	case attribute.INT64:
		a.Value = &commonpb.AnyValue_IntValue{IntValue: v.AsInt64()}
	case attribute.FLOAT64:
		a.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat64()}
	case attribute.STRING:
		a.Value = &commonpb.AnyValue_StringValue{StringValue: v.AsString()}
	case attribute.BYTESLICE:
		a.Value = &commonpb.AnyValue_BytesValue{BytesValue: v.AsByteSlice()}
	case attribute.BOOLSLICE:
		a.Value = array(v.AsBoolSlice(), func(b bool) *commonpb.AnyValue {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: b}}
		})
	case attribute.INT64SLICE:
		a.Value = array(v.AsInt64Slice(), func(n int64) *commonpb.AnyValue {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: n}}
		})
	case attribute.FLOAT64SLICE:
		a.Value = array(v.AsFloat64Slice(), func(f float64) *commonpb.AnyValue {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
		})
	case attribute.STRINGSLICE:
		a.Value = array(v.AsStringSlice(), func(s string) *commonpb.AnyValue {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
		})
	case attribute.SLICE:
		a.Value = array(v.AsSlice(), anyValue)
	case attribute.MAP:
		a.Value = &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: attrs(v.AsMap())}}
	case attribute.EMPTY:
	default:
		a.Value = &commonpb.AnyValue_StringValue{StringValue: "INVALID"}
	}
	return a
}

func array[T any](vs []T, conv func(T) *commonpb.AnyValue) *commonpb.AnyValue_ArrayValue {
	out := make([]*commonpb.AnyValue, len(vs))
	for i, v := range vs {
		out[i] = conv(v)
	}
	return &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: out}}
}

var _ sdktrace.SpanExporter = (*exporter)(nil)
