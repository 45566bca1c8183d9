// Command aam-schema-observer reports schema drift of ACTIVE connections
// and heals non-breaking drift by policy.
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
	"github.com/aam-mesh/aam/services/internal/observer"
)

// Config is the role's environment: shared blocks, AIRBYTE_*, OBSERVER_*.
type Config struct {
	app.Common
	Airbyte  airbyte.Config
	Observer observer.Config
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "aam-schema-observer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := config.Parse[Config]()
	if err != nil {
		return err
	}
	log, err := observability.NewLogger(cfg.Log, "schema-observer")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	deps, err := app.Open(ctx, "schema-observer", cfg.Common, log)
	if err != nil {
		return err
	}
	defer deps.Close()
	ab, err := deps.Airbyte(cfg.Airbyte)
	if err != nil {
		return err
	}
	obs, err := observer.New(deps, ab, cfg.Observer)
	if err != nil {
		return err
	}
	return app.Run(ctx, deps.HealthServer(cfg.Addr), deps.Relay(), obs.Run)
}
