// Command aam-repair is AAM's drift repair worker (package repair), configured
// by app.Common, airbyte.Config and repair.Config from the environment.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/pkg/observability"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/repair"
)

type cfg struct {
	app.Common
	Airbyte airbyte.Config
	Worker  repair.Config
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	c, err := config.Parse[cfg]()
	if err != nil {
		return err
	}
	log, err := observability.NewLogger(c.Log, repair.Consumer)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	deps, err := app.Open(ctx, repair.Consumer, c.Common, log, app.OpenOptions{Provision: true})
	if err != nil {
		return err
	}
	defer deps.Close()
	ab, err := deps.Airbyte(c.Airbyte)
	if err != nil {
		return err
	}
	w, err := repair.New(deps, ab, c.Worker)
	if err != nil {
		return err
	}
	return app.Run(ctx, deps.HealthServer(c.HTTP.Addr), deps.Relay(), w.Run)
}
