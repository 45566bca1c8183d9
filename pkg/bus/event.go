package bus

import (
	"context"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/aam-mesh/aam/events"
)

// Event is a decoded request handed to a Handler.
type Event[T any] struct {
	// ID, Source, Type, Subject and Time are the CloudEvent attributes.
	ID      string
	Source  string
	Type    string
	Subject string
	Time    time.Time
	// TraceParent is the request's traceparent extension, if any.
	TraceParent string
	// Data is the decoded payload.
	Data T
	// CloudEvent is the whole request.
	CloudEvent event.Event
	// Msg describes the JetStream message that carried the request.
	Msg MsgInfo
}

// MsgInfo describes a delivered JetStream message.
type MsgInfo struct {
	Subject      string
	Stream       string
	Consumer     string
	Sequence     uint64
	NumDelivered uint64
	// Arrived is when the stream stored the message (the NATS server's
	// clock); zero when unknown.
	Arrived time.Time
	// Last is true on the last delivery the consumer allows (MaxDeliver).
	Last bool
	Mode events.Mode
}

// Handler handles one request. It returns nil when the request's effect is
// committed, Permanent(err) when it can never succeed, RetryAfter(d, err) to
// be redelivered after d, or any other error to be retried with backoff.
type Handler[T any] func(ctx context.Context, ev Event[T]) error

// FailFunc records the end of a request that did not succeed: a permanent
// error, or a retryable one on its last delivery. It writes the failure fact
// (for example connection.onboard_failed) and the inbox entry, idempotently.
// When it returns an error the message is redelivered and FailFunc is called
// again later.
type FailFunc[T any] func(ctx context.Context, ev Event[T], cause error) error
