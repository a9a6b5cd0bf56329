package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"memberbind/internal/testenv"
)

// TestTraces: a bind request is one trace of an HTTP span, the GraphQL
// operation's span and a span per SQL statement; the worker's SMTP send,
// a trace of its own, links to it through the outbox row. No span holds
// the member's email, the link's token or the API key. The spans are recorded by the SDK's in-memory
// recorder installed as the global provider, where the instrumentation
// looks (so this test does not run in parallel).
func TestTraces(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev); tp.Shutdown(t.Context()) })

	mp := testenv.Mailpit(t)
	dsn := testenv.MySQL(t)
	key := orgCreate(t, dsn, "Acme")
	inst := serveFor(t, map[string]string{envDatabaseDSN: dsn, envSMTPURL: mp.SMTPURL})
	const email = "trace.me@example.com"
	data := graphql(t, inst.URL, key, `mutation { createMember(input: {name: "Tracy"}) { member { id } } }`, nil)
	id := data["createMember"].(map[string]any)["member"].(map[string]any)["id"]
	graphql(t, inst.URL, key, `mutation Bind($id: ID!, $email: String!) { bindSecurityInfo(input: {memberId: $id, email: $email, countryCode: "86", phone: "13800138000"}) {
		member { bindStatus } } }`, map[string]any{"id": id, "email": email})
	msgs := mp.WaitMessages(t, 1, 15*time.Second)
	link := activationLink.FindString(mp.Message(t, msgs[0].ID).Text)
	token := link[strings.Index(link, "token=")+len("token="):]
	if status, _ := get(t, link); status != http.StatusOK {
		t.Fatalf("opening the link: %d", status)
	}

	var bind sdktrace.ReadOnlySpan
	var send sdktrace.ReadOnlySpan
	eventually(t, 15*time.Second, "the GraphQL span of Bind and the SMTP send's span", func() bool {
		for _, s := range rec.Ended() {
			switch s.Name() {
			case "graphql.mutation Bind":
				bind = s
			case "smtp.send":
				send = s
			}
		}
		return bind != nil && send != nil
	})
	tid := bind.SpanContext().TraceID()
	var httpSpan, sqlSpans int
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID() != tid {
			continue
		}
		switch {
		case s.Name() == "POST /graphql" && s.SpanKind() == trace.SpanKindServer:
			httpSpan++
		case s.InstrumentationScope().Name == "github.com/XSAM/otelsql":
			sqlSpans++
		}
	}
	if httpSpan != 1 || sqlSpans < 3 {
		t.Errorf("the bind's trace has %d HTTP server spans and %d SQL spans, want 1 and several", httpSpan, sqlSpans)
	}
	if send.SpanContext().TraceID() == tid {
		t.Errorf("the send is in the request's trace; want a trace of its own, linked")
	}
	linked := false
	for _, l := range send.Links() {
		linked = linked || l.SpanContext.TraceID() == tid
	}
	if !linked {
		t.Errorf("the send's span does not link to the bind's trace %s: links %v", tid, send.Links())
	}
	for _, s := range rec.Ended() {
		for _, a := range s.Attributes() {
			if v := a.Value.String(); strings.Contains(v, email) || strings.Contains(v, token) || strings.Contains(v, key) {
				t.Errorf("span %q attribute %s holds the member's email, the link's token or the API key: %s", s.Name(), a.Key, v)
			}
		}
	}
}
