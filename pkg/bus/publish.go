package bus

import (
	"context"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aam-mesh/aam/events"
)

// Publisher publishes CloudEvents to JetStream and waits for the stream's
// acknowledgement.
type Publisher struct {
	js jetstream.JetStream
}

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// Publish encodes e in the given mode and publishes it on subject with
// Nats-Msg-Id = e.ID(). A duplicate inside the stream's window is reported
// by the returned PubAck's Duplicate field, not as an error.
func (p *Publisher) Publish(ctx context.Context, subject string, e event.Event, mode events.Mode) (*jetstream.PubAck, error) {
	msg, err := events.ToMsg(subject, e, mode)
	if err != nil {
		return nil, err
	}
	return p.PublishMsg(ctx, msg)
}

// PublishMsg publishes an already encoded message, de-duplicated on its
// Nats-Msg-Id header when present.
func (p *Publisher) PublishMsg(ctx context.Context, msg *nats.Msg) (*jetstream.PubAck, error) {
	var opts []jetstream.PublishOpt
	if id := msg.Header.Get(events.HeaderMsgID); id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	ack, err := p.js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", msg.Subject, err)
	}
	return ack, nil
}
