package onboarding

import (
	"context"
	"errors"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/registry"
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

// Checkpoints recorded in connections.onboard_step. A step name records the
// step's result; a ":started" mark records that the step's create call may
// have reached Airbyte.
const (
	checkpointSourceStarted     = StepCreateSource + ":started"
	checkpointConnectionStarted = StepCreateConnection + ":started"
)

// StepError is a failed onboarding step.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// stepFailed wraps err as the failure of step and tells the runtime what to
// do with it: permanent failures end the request, the others are retried,
// after Airbyte's Retry-After when it sent one.
func stepFailed(step string, err error) error {
	se := &StepError{Step: step, Err: err}
	if permanent(err) {
		return bus.Permanent(se)
	}
	if d, ok := airbyte.RetryAfter(err); ok {
		return bus.RetryAfter(d, se)
	}
	return se
}

// permanent reports failures that a redelivery cannot fix.
func permanent(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var de *airbyte.DiscoverError
	if errors.As(err, &de) {
		// The connector ran and failed (e.g. refused credentials) unless
		// it said the failure is transient.
		f := de.JobInfo.FailureReason
		return f == nil || f.Retryable == nil || !*f.Retryable
	}
	var ve *credentials.ValidationError
	switch {
	case errors.Is(err, errPermanent):
		return true
	case errors.Is(err, credentials.ErrNotFound), errors.As(err, &ve),
		errors.Is(err, credentials.ErrWrongKey), errors.Is(err, credentials.ErrTampered):
		return true
	case errors.Is(err, credentials.ErrUnavailable):
		return false
	case airbyte.IsRetryable(err), airbyte.IsAuth(err):
		// Airbyte refusing AAM's own credentials is fixed by an operator,
		// not by the requester: retry until MaxDeliver.
		return false
	case airbyte.IsValidation(err), airbyte.IsNotFound(err), airbyte.IsConflict(err):
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
