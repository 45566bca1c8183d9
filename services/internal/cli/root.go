// Package cli implements the aam command line with cobra.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/aam-mesh/aam/pkg/buildinfo"
)

// Exit codes. Scripts can tell a rejected request from a failed one and
// from one that did not finish in time.
const (
	ExitOK       = 0
	ExitError    = 1 // usage, configuration or connection error
	ExitRejected = 2 // the request was rejected (bad input)
	ExitFailed   = 3 // the request was processed and failed
	ExitTimeout  = 4 // no answer within --timeout
)

// ExitError carries an exit code out of a command.
type ExitCodeError struct {
	Code int
	Err  error
}

func (e *ExitCodeError) Error() string { return e.Err.Error() }
func (e *ExitCodeError) Unwrap() error { return e.Err }

// commands add the command tree below the root, each a command or a
// family of them.
var commands = []func(root *cobra.Command){
	benchCommand, credentialsCommand, devCommand,
	func(root *cobra.Command) { root.AddCommand(driftCommand()) },
	chaosCommand, emulatorCommand, eventsCommand, healthcheckCommand, migrateCommand, registryCommands, requestCommands,
	roleCommand,
}

// NewRoot builds the command tree.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "aam",
		Short:         "AAM: an event-driven control plane over Airbyte",
		Long:          "AAM onboards, syncs and heals Airbyte connections on request, by CloudEvents on NATS JetStream.",
		Version:       buildinfo.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	for _, fn := range commands {
		fn(root)
	}
	return root
}

// Execute runs the command line and returns the process exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := NewRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stderr, "aam:", err)
	var ec *ExitCodeError
	if errors.As(err, &ec) {
		return ec.Code
	}
	return ExitError
}
