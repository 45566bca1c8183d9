package bus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aam-mesh/aam/events"
)

// Rejection describes a request the runtime refused: undecodable, missing
// attributes, a type not accepted on its subject, or invalid data.
type Rejection struct {
	// RequestID, RequestSource and RequestType are the request's attributes
	// when they could be read.
	RequestID     string
	RequestSource string
	RequestType   string
	TraceParent   string
	// Subject, Stream and Sequence locate the message.
	Subject  string
	Stream   string
	Sequence uint64
	// Reason and Field say what was wrong.
	Reason string
	Field  string
}

// Key returns the inbox key of the rejected request: its source and id when
// it had them, else its stream and sequence.
func (r Rejection) Key() (source, id string) {
	if r.RequestSource != "" && r.RequestID != "" {
		return r.RequestSource, r.RequestID
	}
	return "nats:" + r.Stream, fmt.Sprint(r.Sequence)
}

// Fact returns the request.rejected event for r, from source, with an id
// derived from the request so that recording it twice yields one event.
func (r Rejection) Fact(source string) (eventID string, data events.RequestRejected) {
	ks, kid := r.Key()
	return events.DeterministicID(ks, kid, events.TypeRequestRejected), events.RequestRejected{
		RequestID: r.RequestID, RequestType: r.RequestType, RequestSource: r.RequestSource,
		Subject: r.Subject, Reason: r.Reason, Field: r.Field, StreamSequence: r.Sequence,
	}
}

// Ledger records terminal outcomes durably (package outbox implements it on
// the registry: inbox row + outbox fact in one transaction).
type Ledger interface {
	// Outcome returns the recorded outcome of a request (OutcomeNone when
	// there is none).
	Outcome(ctx context.Context, source, id string) (RequestOutcome, error)
	// Reject records a rejected request and its request.rejected fact.
	Reject(ctx context.Context, r Rejection) error
}

// directLedger is used when no Ledger is configured: it publishes the
// request.rejected fact straight to JetStream (de-duplicated by id) and
// remembers nothing.
type directLedger struct {
	pub    *Publisher
	source string
}

func (d directLedger) Outcome(context.Context, string, string) (RequestOutcome, error) {
	return OutcomeNone, nil
}

func (d directLedger) Reject(ctx context.Context, r Rejection) error {
	id, data := r.Fact(d.source)
	opts := []events.Option{events.WithID(id), events.WithTraceParent(r.TraceParent)}
	if r.RequestID != "" {
		opts = append(opts, events.WithCorrelationID(r.RequestID))
	}
	e, err := events.New(events.TypeRequestRejected, d.source, data, opts...)
	if err != nil {
		return err
	}
	_, err = d.pub.Publish(ctx, events.SubjectRequestRejected, e, events.Binary)
	return err
}

var _ Ledger = directLedger{}

// NewDirectLedger returns a Ledger that publishes rejections directly to
// JetStream without recording outcomes.
func NewDirectLedger(js jetstream.JetStream, source string) Ledger {
	return directLedger{pub: NewPublisher(js), source: source}
}
