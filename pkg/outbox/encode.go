package outbox

import (
	"context"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/registry"
)

// Encode encodes e in CloudEvents binary mode as the outbox row that
// publishes it on subject. The row is ordered by e's subject (the
// connection the event is about) and found by its correlationid. An event
// that does not encode is a registry.ErrInvalid.
func Encode(subject string, e event.Event) (registry.OutboxRow, error) {
	msg, err := events.ToMsg(subject, e, events.Binary)
	if err != nil {
		return registry.OutboxRow{}, &registry.Error{Kind: registry.ErrInvalid, Err: fmt.Errorf("outbox: %w", err)}
	}
	return registry.OutboxRow{
		EventID:       e.ID(),
		EventType:     e.Type(),
		Subject:       subject,
		ConnectionID:  e.Subject(),
		CorrelationID: events.CorrelationID(e),
		Headers:       msg.Header,
		Data:          msg.Data,
	}, nil
}

// Queue encodes e for subject and queues it in q's transaction (an event
// id already queued is ignored: events are queued once); in a transaction
// of the Store the row is sent with the transaction's next round trip.
func Queue(ctx context.Context, q *registry.Queries, subject string, e event.Event) error {
	row, err := Encode(subject, e)
	if err != nil {
		return err
	}
	return q.OutboxQueue(ctx, row)
}

// Msg rebuilds the NATS message of an outbox row.
func Msg(row registry.OutboxRow) *nats.Msg {
	msg := nats.NewMsg(row.Subject)
	for k, v := range row.Headers {
		msg.Header[k] = append([]string(nil), v...)
	}
	msg.Data = row.Data
	return msg
}

// Decode decodes the CloudEvent of an outbox row.
func Decode(row registry.OutboxRow) (event.Event, error) {
	e, _, err := events.Decode(nats.Header(row.Headers), row.Data)
	return e, err
}
