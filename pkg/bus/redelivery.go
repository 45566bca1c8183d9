package bus

import (
	"cmp"
	"errors"
	"fmt"
	"time"
)

// Defaults of Redelivery and of the same fields of Route.
const (
	DefaultMaxDeliver = 8
	DefaultAckWait    = 30 * time.Second
)

// MinAckWait is the shortest AckWait a worker may be given: the runtime
// signals progress at a third of it.
const MinAckWait = 100 * time.Millisecond

// Redelivery is how JetStream redelivers a worker's requests: the settings
// every worker has, read from the environment under the worker's prefix.
// A worker embeds it in its configuration with an envPrefix tag,
//
//	type Config struct {
//		// REPAIR_MAX_DELIVER, REPAIR_ACK_WAIT
//		bus.Redelivery `envPrefix:"REPAIR_"`
//	}
//
// checks it with Validate("REPAIR_") and gives it to its route with
// WithRedelivery. A zero field takes the route's default, which
// SetDefaults (run by pkg/config's Parse and Prepare) writes in.
type Redelivery struct {
	// MaxDeliver is the number of deliveries of a request before it fails
	// (<PREFIX>MAX_DELIVER, default 8).
	MaxDeliver int `env:"MAX_DELIVER"`
	// AckWait is how long JetStream waits for a sign of life before it
	// redelivers a request; the worker signals progress at a third of it
	// (<PREFIX>ACK_WAIT, default 30s). A request whose delivery was lost (a
	// killed worker, a NATS server that went away with it in flight) comes
	// back after AckWait.
	AckWait time.Duration `env:"ACK_WAIT"`
	// Backoff gives the redelivery delay of retryable failures (set in code
	// only; default: exponential from 500 ms to 30 s).
	Backoff BackoffFunc `env:"-"`
}

// SetDefaults gives a zero MaxDeliver and AckWait the defaults of a route,
// DefaultMaxDeliver and DefaultAckWait.
func (r *Redelivery) SetDefaults() {
	r.MaxDeliver = cmp.Or(r.MaxDeliver, DefaultMaxDeliver)
	r.AckWait = cmp.Or(r.AckWait, DefaultAckWait)
}

// Validate reports every invalid setting by its variable name: prefix
// followed by MAX_DELIVER or ACK_WAIT.
func (r Redelivery) Validate(prefix string) error {
	var errs []error
	if r.MaxDeliver < 0 {
		errs = append(errs, fmt.Errorf("%sMAX_DELIVER: %d is negative", prefix, r.MaxDeliver))
	}
	switch {
	case r.AckWait < 0:
		errs = append(errs, fmt.Errorf("%sACK_WAIT: %s is negative", prefix, r.AckWait))
	case r.AckWait > 0 && r.AckWait < MinAckWait:
		errs = append(errs, fmt.Errorf("%sACK_WAIT: %s is below %s", prefix, r.AckWait, MinAckWait))
	}
	return errors.Join(errs...)
}

// WithRedelivery returns route with the MaxDeliver, AckWait and Backoff of
// r.
func WithRedelivery[T any](route Route[T], r Redelivery) Route[T] {
	route.MaxDeliver, route.AckWait, route.Backoff = r.MaxDeliver, r.AckWait, r.Backoff
	return route
}
