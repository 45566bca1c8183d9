// Package outbox connects the registry to the bus: Encode turns CloudEvents
// into the registry's outbox rows (binary mode NATS messages), the Relay
// publishes the rows committed in the registry's outbox to JetStream, and
// Ledger records request outcomes (inbox) for the worker runtime.
package outbox

import (
	"context"
	"errors"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/registry"
)

// Request identifies the request a fact answers.
type Request struct {
	Source      string
	ID          string
	TraceParent string
}

// RequestOf returns the Request of a delivered event.
func RequestOf[T any](ev bus.Event[T]) Request {
	return Request{Source: ev.Source, ID: ev.ID, TraceParent: ev.TraceParent}
}

// NewFact builds a completion event of factType from source about a
// connection, answering req: correlationid = req.ID, the request's
// traceparent carried over, subject = connectionID, and an id derived from
// the request and the fact type so that one request yields one event of
// each type.
func NewFact(factType, source, connectionID string, req Request, data any) (event.Event, error) {
	opts := []events.Option{
		events.WithID(events.DeterministicID(req.Source, req.ID, factType)),
		events.WithCorrelationID(req.ID),
		events.WithTraceParent(req.TraceParent),
	}
	if connectionID != "" {
		opts = append(opts, events.WithSubject(connectionID))
	}
	return events.New(factType, source, data, opts...)
}

// Emit builds a fact with NewFact and queues it in q's transaction on the
// subject of its type.
func Emit(ctx context.Context, q *registry.Queries, factType, source, connectionID string, req Request, data any) error {
	d, ok := events.Lookup(factType)
	if !ok {
		return errors.New("outbox: unknown fact type " + factType)
	}
	e, err := NewFact(factType, source, connectionID, req, data)
	if err != nil {
		return err
	}
	return Queue(ctx, q, d.Subject, e)
}

// EmitKeyed queues, in q's transaction on the subject of its type, a fact
// that answers no one request but a state change: its id derives from
// source, key and the fact type, so that emitting it again for the same key
// (a redelivery, a second instance, a restart) gives the same event id and
// the fact is published once. Its subject is connectionID and its
// correlationid correlationID, each when given.
func EmitKeyed(ctx context.Context, q *registry.Queries, factType, source, key, connectionID, correlationID string, data any) error {
	d, ok := events.Lookup(factType)
	if !ok {
		return errors.New("outbox: unknown fact type " + factType)
	}
	opts := []events.Option{events.WithID(events.DeterministicID(source, key, factType)), events.WithCorrelationID(correlationID)}
	if connectionID != "" {
		opts = append(opts, events.WithSubject(connectionID))
	}
	e, err := events.New(factType, source, data, opts...)
	if err != nil {
		return err
	}
	return Queue(ctx, q, d.Subject, e)
}

// Ledger is a bus.Ledger on the registry's inbox and outbox.
type Ledger struct {
	store  *registry.Store
	source string
}

// NewLedger returns a Ledger whose request.rejected facts come from source.
func NewLedger(store *registry.Store, source string) *Ledger {
	return &Ledger{store: store, source: source}
}

// Outcome implements bus.Ledger.
func (l *Ledger) Outcome(ctx context.Context, source, id string) (bus.RequestOutcome, error) {
	e, err := l.store.InboxGet(ctx, source, id)
	if registry.IsNotFound(err) {
		return bus.OutcomeNone, nil
	}
	if err != nil {
		return bus.OutcomeNone, err
	}
	return requestOutcome(e.Outcome)
}

// Reject implements bus.Ledger: inbox row and request.rejected fact in one
// transaction, once per request.
func (l *Ledger) Reject(ctx context.Context, r bus.Rejection) error {
	source, id := r.Key()
	eventID, data := r.Fact(l.source)
	opts := []events.Option{events.WithID(eventID), events.WithTraceParent(r.TraceParent)}
	if r.RequestID != "" {
		opts = append(opts, events.WithCorrelationID(r.RequestID))
	}
	e, err := events.New(events.TypeRequestRejected, l.source, data, opts...)
	if err != nil {
		return err
	}
	return l.store.InTx(ctx, func(q *registry.Queries) error {
		inserted, err := q.InboxInsert(ctx, registry.InboxEntry{Source: source, ID: id, Type: r.RequestType,
			Outcome: registry.OutcomeRejected, Reason: r.Reason})
		if err != nil || !inserted {
			return err
		}
		return Queue(ctx, q, events.SubjectRequestRejected, e)
	})
}

var _ bus.Ledger = (*Ledger)(nil)
