// Command aam-airbyte-emulator serves the Airbyte API emulator (package
// github.com/aam-mesh/aam/pkg/emulator) for local development and demos.
//
// Environment: EMULATOR_ADDR (default 127.0.0.1:8000), AIRBYTE_CLIENT_ID
// (default aam-local), AIRBYTE_CLIENT_SECRET (default aam-local-secret),
// EMULATOR_JOBS (realistic or instant), EMULATOR_LOG_LEVEL (default info).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/aam-mesh/aam/services/internal/emulatorrole"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := emulatorrole.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
