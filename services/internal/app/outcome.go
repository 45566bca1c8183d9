package app

import (
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
)

// AirbyteOutcome returns err, the failure of an Airbyte call, as the worker
// runtime's outcome that airbyte.Classify decides: bus.Permanent(err) for a
// permanent failure (the request fails and is copied to the DLQ),
// bus.RetryAfter(delay, err) to be redelivered after Airbyte's delay, or err
// itself, redelivered with the route's backoff until MaxDeliver. Every
// worker maps its Airbyte failures through it, so that the same answer from
// Airbyte (a 401 among them) ends the same way whichever worker got it.
// err may wrap the Airbyte error with the worker's context;
// AirbyteOutcome(nil) is nil.
func AirbyteOutcome(err error) error {
	v := airbyte.Classify(err)
	switch v.Action {
	case airbyte.Permanent:
		return bus.Permanent(err)
	case airbyte.RetryLater:
		return bus.RetryAfter(v.Delay, err)
	}
	return err
}
