package observability

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/aam-mesh/aam/pkg/buildinfo"
)

// Tracing configures OpenTelemetry tracing.
type Tracing struct {
	// Endpoint is the OTLP/HTTP collector (OTEL_EXPORTER_OTLP_ENDPOINT,
	// e.g. http://otel-collector:4318). Empty: spans are created (so trace
	// context flows through events) but not exported.
	Endpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
}

// SetupTracing installs the process's tracer provider and the W3C trace
// context propagator. The returned function flushes and stops exporting.
func SetupTracing(ctx context.Context, cfg Tracing, service string) (func(context.Context) error, error) {
	res := resource.NewSchemaless(
		attribute.String("service.name", service),
		attribute.String("service.version", buildinfo.Version),
	)
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if cfg.Endpoint != "" {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint))
		if err != nil {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, nil
}
