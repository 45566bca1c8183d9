package outbox

import (
	"fmt"

	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/registry"
)

// requestOutcome maps the registry's inbox outcome to the bus's: the one
// place the two vocabularies meet.
func requestOutcome(o registry.InboxOutcome) (bus.RequestOutcome, error) {
	switch o {
	case registry.OutcomeDone:
		return bus.OutcomeDone, nil
	case registry.OutcomeFailed:
		return bus.OutcomeFailed, nil
	case registry.OutcomeRejected:
		return bus.OutcomeRejected, nil
	default:
		return bus.OutcomeNone, fmt.Errorf("outbox: unknown inbox outcome %q", o)
	}
}
