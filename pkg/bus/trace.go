package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

var tracer = otel.Tracer("github.com/aam-mesh/aam/pkg/bus")

// startSpan starts the consumer span of a request as a child of its
// traceparent extension (W3C trace context) and returns the traceparent to
// carry on the request's facts: the request's own when it had one (the
// CloudEvents tracing extension carries the starting operation's trace),
// else the new span's, so that facts of untraced requests are traceable too.
func startSpan[T any](ctx context.Context, ev Event[T]) (context.Context, trace.Span, string) {
	carrier := propagation.MapCarrier{}
	if ev.TraceParent != "" {
		carrier.Set("traceparent", ev.TraceParent)
		ctx = propagation.TraceContext{}.Extract(ctx, carrier)
	}
	ctx, span := tracer.Start(ctx, "process "+ev.Type,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", ev.Msg.Subject),
			attribute.String("messaging.consumer.group.name", ev.Msg.Consumer),
			attribute.Int64("messaging.nats.stream_sequence", int64(ev.Msg.Sequence)),
			attribute.String("cloudevents.event_id", ev.ID),
			attribute.String("cloudevents.event_source", ev.Source),
			attribute.String("cloudevents.event_type", ev.Type),
			attribute.String("cloudevents.event_subject", ev.Subject),
		))
	tp := ev.TraceParent
	if tp == "" {
		if span.SpanContext().IsValid() {
			out := propagation.MapCarrier{}
			propagation.TraceContext{}.Inject(ctx, out)
			tp = out.Get("traceparent")
		} else {
			// No tracer provider installed: still give the request a trace.
			var id [24]byte
			_, _ = rand.Read(id[:])
			tp = "00-" + hex.EncodeToString(id[:16]) + "-" + hex.EncodeToString(id[16:]) + "-01"
		}
	}
	return ctx, span, tp
}
