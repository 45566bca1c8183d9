package app

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/config"
)

// CheckWorker is what every worker's constructor checks, the same way: deps
// with a registry store and JetStream, an Airbyte client, and cfg (a
// pointer to the worker's configuration) given its defaults and then
// validated, as config.Prepare does for a parsed configuration. It returns
// the worker's logger, named name. Its errors start with name.
func CheckWorker(name string, deps *Deps, ab *airbyte.Client, cfg config.Validator) (*zap.Logger, error) {
	if deps == nil || deps.Store == nil || deps.JS == nil {
		return nil, fmt.Errorf("%s: deps need Store and JS", name)
	}
	if ab == nil {
		return nil, fmt.Errorf("%s: an Airbyte client is required", name)
	}
	if err := config.Prepare(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	log := deps.Log
	if log == nil {
		log = zap.NewNop()
	}
	return log.Named(name), nil
}

// Delivery is the part of every worker's configuration that tunes its
// durable consumer: how many requests it handles at once and how JetStream
// redelivers them. A worker embeds it with its prefix,
//
//	type Config struct {
//		// REPAIR_CONCURRENCY, REPAIR_MAX_DELIVER, REPAIR_ACK_WAIT
//		app.Delivery `envPrefix:"REPAIR_"`
//	}
//
// gives it its own default concurrency in SetDefaults and checks it with
// Validate("REPAIR_").
type Delivery struct {
	// Concurrency bounds the requests one process handles at once
	// (<PREFIX>CONCURRENCY; the default is the worker's).
	Concurrency int `env:"CONCURRENCY"`
	bus.Redelivery
}

// SetDefaults gives a zero Concurrency the worker's default concurrency and
// the redelivery settings theirs.
func (d *Delivery) SetDefaults(concurrency int) {
	d.Concurrency = cmp.Or(d.Concurrency, concurrency)
	d.Redelivery.SetDefaults()
}

// Validate reports every invalid setting by its variable name: prefix
// followed by CONCURRENCY, MAX_DELIVER or ACK_WAIT.
func (d Delivery) Validate(prefix string) error {
	var errs []error
	if d.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("%sCONCURRENCY: %d is negative", prefix, d.Concurrency))
	}
	return errors.Join(append(errs, d.Redelivery.Validate(prefix))...)
}

// RequestRoute is the route of a worker's durable consumer of the requests
// of type typ, on the subject the event catalog gives that type: handled by
// handle, failed by fail, tuned by d, each delivery's work bounded by
// timeout. An unknown type leaves the route without a subject, which
// bus.Serve refuses.
func RequestRoute[T any](consumer, typ string, handle bus.Handler[T], fail bus.FailFunc[T], d Delivery, timeout time.Duration) bus.Route[T] {
	desc, _ := events.Lookup(typ)
	return bus.WithRedelivery(bus.Route[T]{
		Consumer: consumer, Subject: desc.Subject, Type: typ, Handle: handle, Fail: fail,
		Concurrency: d.Concurrency, Timeout: timeout,
	}, d.Redelivery)
}
