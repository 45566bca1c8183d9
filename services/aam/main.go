// Command aam is AAM's command line: `aam dev` runs the whole mesh in one
// process, `aam migrate` prepares the registry, and the client commands
// (onboard, sync, repair, connections, versions, jobs, credentials, events)
// talk to a running mesh over NATS or through the gateway.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/aam-mesh/aam/services/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
