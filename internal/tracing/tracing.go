// Package tracing sets up OpenTelemetry tracing for memberbind: spans are
// exported over OTLP (HTTP/protobuf, by an exporter of its own: see
// otlp.go) when the standard
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is
// set, and nothing is done otherwise: the global tracer provider stays
// OpenTelemetry's no-op one, so instrumented code costs next to nothing.
//
// The instrumentation (otelhttp, otelsql, the GraphQL extension, the mail
// worker) uses the global provider, as OpenTelemetry's contrib libraries
// do by default; tests install an SDK provider with an in-memory exporter
// there.
package tracing

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Enabled reports whether the environment asks for traces to be exported.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") ||
		strings.EqualFold(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")), "none") {
		return false
	}
	return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")) != "" ||
		strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) != ""
}

// Setup installs, when Enabled, a tracer provider that exports batches of
// spans over OTLP/HTTP, configured by the standard OTEL_* variables
// (endpoint, headers, timeout, compression, certificates, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_BSP_*), and the W3C
// trace-context propagator. The
// returned function flushes and stops it; it does nothing when tracing is
// off.
func Setup(ctx context.Context, getenv func(string) string, version string) (func(context.Context) error, error) {
	if !Enabled(getenv) {
		return func(context.Context) error { return nil }, nil
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := strings.TrimSpace(getenv(name)); p != "" {
			if p != "http/protobuf" {
				return nil, fmt.Errorf("%s: %q is not supported: memberbind exports OTLP over http/protobuf (the collector's port 4318)", name, p)
			}
			break
		}
	}
	cfg, err := otlpConfigFromEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	exp := newExporter(cfg)
	res, err := resource.New(ctx,
		resource.WithAttributes(
			attribute.String("service.name", "memberbind"),
			attribute.String("service.version", version),
		),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
		resource.WithTelemetrySDK(),
		resource.WithHost(),
	)
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, nil
}
