package events

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
)

// Option adjusts an event built by New.
type Option func(*event.Event)

// WithID sets the event id (default: a new UUIDv7). Publishers that retry
// must reuse the id: AAM treats source+id as the idempotency key.
func WithID(id string) Option { return func(e *event.Event) { e.SetID(id) } }

// WithSubject sets the CloudEvent subject (AAM: the registry connection id).
func WithSubject(subject string) Option { return func(e *event.Event) { e.SetSubject(subject) } }

// WithTime sets the event time (default: now, UTC).
func WithTime(t time.Time) Option { return func(e *event.Event) { e.SetTime(t.UTC()) } }

// WithCorrelationID sets the correlationid extension.
func WithCorrelationID(id string) Option {
	return func(e *event.Event) {
		if id != "" {
			e.SetExtension(ExtCorrelationID, id)
		}
	}
}

// WithTraceParent sets the traceparent extension (W3C trace context).
func WithTraceParent(tp string) Option {
	return func(e *event.Event) {
		if tp != "" {
			e.SetExtension(ExtTraceParent, tp)
		}
	}
}

// New builds a CloudEvent of the given type from source with data encoded as
// JSON. For a type in the catalog the dataschema attribute is set to its
// schema URI.
func New(eventType, source string, data any, opts ...Option) (event.Event, error) {
	e := event.New()
	e.SetID(uuid.Must(uuid.NewV7()).String())
	e.SetType(eventType)
	e.SetSource(source)
	e.SetTime(time.Now().UTC())
	if d, ok := Lookup(eventType); ok {
		e.SetDataSchema(d.DataSchema())
	}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return event.Event{}, fmt.Errorf("encode %s data: %w", eventType, err)
		}
		if err := e.SetData(MediaTypeJSON, json.RawMessage(b)); err != nil {
			return event.Event{}, fmt.Errorf("set %s data: %w", eventType, err)
		}
	}
	for _, opt := range opts {
		opt(&e)
	}
	if err := e.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("new %s: %w", eventType, err)
	}
	return e, nil
}

// CorrelationID returns the correlationid extension of e, or "".
func CorrelationID(e event.Event) string { return stringExt(e, ExtCorrelationID) }

// TraceParent returns the traceparent extension of e, or "".
func TraceParent(e event.Event) string { return stringExt(e, ExtTraceParent) }

func stringExt(e event.Event, name string) string {
	v, ok := e.Extensions()[name]
	if !ok {
		return ""
	}
	s, _ := v.(string)
	if s == "" {
		s = fmt.Sprint(v)
	}
	return s
}

// DeterministicID derives a stable event id from the request it answers and
// the fact type, so that a fact emitted twice for one request has one id.
func DeterministicID(requestSource, requestID, factType string) string {
	return uuid.NewSHA1(idNamespace, []byte(requestSource+"\x00"+requestID+"\x00"+factType)).String()
}

var idNamespace = uuid.MustParse("8f5d2c1e-6b0a-4c3e-9a57-2f1d0b7e4a90")
