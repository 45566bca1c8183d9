package app

import (
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

// ConsumerSettings are the settings of a worker's durable consumer, from
// its configuration.
type ConsumerSettings struct {
	Concurrency int
	// Timeout bounds one delivery's work.
	Timeout    time.Duration
	Redelivery bus.Redelivery
}

// RequestRoute is the route of a worker's durable consumer of the requests
// of type typ, on the subject the event catalog gives that type: handled by
// handle, failed by fail, with the consumer's settings s. An unknown type
// leaves the route without a subject, which bus.Serve refuses.
func RequestRoute[T any](consumer, typ string, handle bus.Handler[T], fail bus.FailFunc[T], s ConsumerSettings) bus.Route[T] {
	d, _ := events.Lookup(typ)
	return bus.WithRedelivery(bus.Route[T]{
		Consumer: consumer, Subject: d.Subject, Type: typ, Handle: handle, Fail: fail,
		Concurrency: s.Concurrency, Timeout: s.Timeout,
	}, s.Redelivery)
}
