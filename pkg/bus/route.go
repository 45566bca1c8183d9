package bus

import (
	"cmp"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Route binds a request subject to a handler through a durable consumer.
type Route[T any] struct {
	// Consumer is the durable consumer name. Required.
	Consumer string
	// Subject is the request subject (the consumer's filter). Required.
	Subject string
	// Type is the CloudEvent type accepted on Subject. Required.
	Type string
	// Handle handles each request. Required.
	Handle Handler[T]
	// Fail records a request's failure (default: a request.rejected fact).
	Fail FailFunc[T]
	// Concurrency bounds the requests handled at once by this process
	// (default 16).
	Concurrency int
	// MaxDeliver is the number of deliveries before giving up (default
	// DefaultMaxDeliver, 8).
	MaxDeliver int
	// AckWait is how long the server waits for an acknowledgement before
	// redelivering; long handlers are kept alive with InProgress at a third
	// of it (default DefaultAckWait, 30 s).
	AckWait time.Duration
	// Timeout bounds one handler call (default 2 min).
	Timeout time.Duration
	// Backoff gives the redelivery delay of retryable errors (default
	// exponential from 500 ms to 30 s).
	Backoff BackoffFunc
	// MaxAckPending caps unacknowledged messages across all instances
	// (default 1000 or 4×Concurrency, whichever is larger).
	MaxAckPending int
	// OutcomeCheck says when the runtime reads the request's recorded
	// outcome before calling Handle (default CheckAlways).
	OutcomeCheck OutcomeCheck
	// DoubleAck waits for the server to confirm each acknowledgement. By
	// default acknowledgements are sent without waiting: one that is lost
	// only makes the server redeliver the request, and the redelivery finds
	// the request's inbox entry and does nothing again.
	DoubleAck bool
}

// OutcomeCheck chooses when the runtime consults the Ledger before calling
// a handler.
type OutcomeCheck int

const (
	// CheckAlways reads the outcome on every delivery: a request id that
	// already ended never reaches the handler.
	CheckAlways OutcomeCheck = iota
	// CheckRedeliveries reads it on redeliveries only, saving a registry
	// read per request. The handler must itself recognise a request id it
	// already handled that arrives again as a new message (a copy
	// published after JetStream's duplicate window), for example by the
	// inbox insert of its transaction.
	CheckRedeliveries
)

func (r Route[T]) withDefaults() (Route[T], error) {
	if r.Consumer == "" || r.Subject == "" || r.Type == "" || r.Handle == nil {
		return r, errors.New("bus: route needs Consumer, Subject, Type and Handle")
	}
	r.Concurrency = cmp.Or(r.Concurrency, 16)
	r.MaxDeliver = cmp.Or(r.MaxDeliver, DefaultMaxDeliver)
	r.AckWait = cmp.Or(r.AckWait, DefaultAckWait)
	r.Timeout = cmp.Or(r.Timeout, 2*time.Minute)
	if r.Backoff == nil {
		r.Backoff = ExponentialBackoff(500*time.Millisecond, 30*time.Second)
	}
	r.MaxAckPending = cmp.Or(r.MaxAckPending, max(1000, 4*r.Concurrency))
	return r, nil
}

// ConsumerConfig returns the durable consumer configuration of a route.
func ConsumerConfig[T any](r Route[T]) jetstream.ConsumerConfig {
	r, _ = r.withDefaults()
	return jetstream.ConsumerConfig{
		Durable:       r.Consumer,
		Description:   "AAM worker for " + r.Type,
		FilterSubject: r.Subject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       r.AckWait,
		MaxDeliver:    r.MaxDeliver,
		MaxAckPending: r.MaxAckPending,
	}
}
