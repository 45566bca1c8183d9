// Command aam-sync runs AAM's sync worker: sync requests in, Airbyte jobs followed to their end.
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
	"github.com/aam-mesh/aam/services/internal/syncer"
)

// Config is the sync role's environment: shared blocks, AIRBYTE_*, SYNC_*.
type Config struct {
	app.Common
	Airbyte airbyte.Config
	Sync    syncer.Config
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "aam-sync:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := config.Parse[Config]()
	if err != nil {
		return err
	}
	log, err := observability.NewLogger(cfg.Log, "sync")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	deps, err := app.Open(ctx, "sync", cfg.Common, log, app.OpenOptions{Provision: true})
	if err != nil {
		return err
	}
	defer deps.Close()
	ab, err := deps.Airbyte(cfg.Airbyte)
	if err != nil {
		return err
	}
	worker, err := syncer.New(deps, ab, cfg.Sync)
	if err != nil {
		return err
	}
	return app.Run(ctx, deps.HealthServer(cfg.Addr), deps.Relay(), worker.Run)
}
