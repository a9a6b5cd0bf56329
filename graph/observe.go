package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"memberbind/internal/requestlog"
)

// operationObserver is the gqlgen extension that makes each executed
// operation observable: a span, its name on the request's access line,
// and Options.OnOperation (the metrics).
//
// It is ours rather than github.com/ravilushqa/otelgqlgen, the tracing
// extension gqlgen users reach for: that one puts the operation's
// variables and raw query on the span, where they would carry members'
// emails and phone numbers into the tracing backend, and starts a span
// for every resolved field, thousands for one page of members, when a
// span per operation and one per SQL statement say where time goes.
type operationObserver struct {
	tracer trace.Tracer
	on     func(ctx context.Context, name string, ok bool)
}

func newOperationObserver(on func(ctx context.Context, name string, ok bool)) operationObserver {
	return operationObserver{tracer: otel.Tracer("memberbind/graph"), on: on}
}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = operationObserver{}

func (operationObserver) ExtensionName() string                   { return "OperationObserver" }
func (operationObserver) Validate(graphql.ExecutableSchema) error { return nil }

func (o operationObserver) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		// Refused before execution (syntax, validation, complexity):
		// gqlgen answers through the response middleware without an
		// operation. The HTTP span and metrics have it.
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	name, kind := oc.OperationName, "unknown"
	if oc.Operation != nil {
		name, kind = oc.Operation.Name, string(oc.Operation.Operation)
	}
	requestlog.SetOperation(ctx, name)
	spanName := "graphql." + kind
	if name != "" {
		spanName += " " + name
	}
	ctx, span := o.tracer.Start(ctx, spanName, trace.WithAttributes(
		attribute.String("graphql.operation.name", name),
		attribute.String("graphql.operation.type", kind),
	))
	defer span.End()
	res := next(ctx)
	ok := res == nil || len(res.Errors) == 0
	if !ok {
		// The codes only: messages may quote what the client sent.
		span.SetStatus(codes.Error, "the operation answered errors")
		span.SetAttributes(attribute.Int("graphql.errors", len(res.Errors)))
	}
	if o.on != nil {
		o.on(ctx, name, ok)
	}
	return res
}
