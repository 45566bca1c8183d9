package onboarding

import (
	"context"
	"errors"

	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
)

// Steps of an onboarding, as io.aam.connection.onboard_failed.v1 names them.
const (
	StepRegister         = "register"
	StepCredentials      = "credentials"
	StepSourceDefinition = "source_definition"
	StepCreateSource     = "create_source"
	StepDiscover         = "discover"
	StepCreateConnection = "create_connection"
	StepActivate         = "activate"
)

// startedMark completes a create step's name to the checkpoint recorded in
// connections.onboard_step when the step's create call may reach Airbyte
// (the step's name alone records its result).
const startedMark = ":started"

// StepError is a failed onboarding step.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// stepFailed wraps err as the failure of step and tells the runtime what to
// do with it: the worker's, the broker's and the registry's permanent
// failures end the request; an Airbyte failure ends the way
// airbyte.Classify decides (app.AirbyteOutcome); the others are retried.
func stepFailed(step string, err error) error {
	se := &StepError{Step: step, Err: err}
	if permanent(err) {
		return bus.Permanent(se)
	}
	return app.AirbyteOutcome(se)
}

// permanent reports the failures besides Airbyte's that a redelivery cannot
// fix: the worker's own, a credential that is unknown, invalid or cannot be
// opened, and a registry row that breaks a constraint.
func permanent(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ve *credentials.ValidationError
	switch {
	case errors.Is(err, errPermanent):
		return true
	case errors.Is(err, credentials.ErrNotFound), errors.As(err, &ve),
		errors.Is(err, credentials.ErrWrongKey), errors.Is(err, credentials.ErrTampered):
		return true
	case errors.Is(err, registry.ErrInvalid), errors.Is(err, registry.ErrConflict):
		return true
	}
	return false
}

// errPermanent marks the worker's own permanent failures.
var errPermanent = errors.New("permanent")

type permanentError struct{ msg string }

func (e *permanentError) Error() string        { return e.msg }
func (e *permanentError) Is(target error) bool { return target == errPermanent }

func newPermanent(msg string) error { return &permanentError{msg: msg} }
