package mail

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"memberbind/internal/member"
)

// startSendSpan starts the span of one SMTP send. The send runs in the
// worker, long after (and maybe on another instance than) the request
// that queued the mail, so it is its own trace, linked to that request's
// span through the W3C traceparent the outbox row kept. The span carries
// ids only: the recipient's address is not put on it.
func (w *Worker) startSendSpan(ctx context.Context, m member.OutboxMessage, kind member.OutboxKind, attempt int) (context.Context, trace.Span) {
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithNewRoot(),
		trace.WithAttributes(
			attribute.Int64("memberbind.outbox.id", m.ID),
			attribute.String("memberbind.mail.kind", string(kind)),
			attribute.Int("memberbind.mail.attempt", attempt),
		),
	}
	if link, ok := queuedBy(m.TraceParent); ok {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: link, Attributes: []attribute.KeyValue{attribute.String("memberbind.link", "queued by")}}))
	}
	// The tracer is asked for at each send, not kept from package
	// initialization, so that it is the provider installed at start.
	return otel.Tracer("memberbind/internal/mail").Start(ctx, "smtp.send", opts...)
}

// queuedBy reads the span context of a W3C traceparent header value.
func queuedBy(traceparent string) (trace.SpanContext, bool) {
	if traceparent == "" {
		return trace.SpanContext{}, false
	}
	carrier := propagation.MapCarrier{"traceparent": traceparent}
	sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), carrier))
	return sc, sc.IsValid()
}

func endSendSpan(span trace.Span, temporary bool) {
	kind := "permanent"
	if temporary {
		kind = "temporary"
	}
	span.SetAttributes(attribute.String("memberbind.mail.failure", kind))
	// Not the error's text: an SMTP reply may quote the recipient.
	span.SetStatus(codes.Error, "send failed ("+kind+")")
	span.End()
}
