package app

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/pkg/observability"
)

// Main is the whole main function of a role binary: it parses T from the
// environment, runs run until SIGINT or SIGTERM, and exits non-zero with
// the error when run fails.
func Main[T any](binary string, run func(ctx context.Context, cfg T) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := func() error {
		cfg, err := config.Parse[T]()
		if err != nil {
			return err
		}
		return run(ctx, cfg)
	}()
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", binary, err)
		os.Exit(1)
	}
}

// AirbyteRole is the environment of a role that calls Airbyte: the shared
// blocks, AIRBYTE_*, and the role's own settings C.
type AirbyteRole[C any] struct {
	Common
	Airbyte airbyte.Config
	Role    C
}

// RoleFunc builds a role's work from its dependencies, its Airbyte client
// and its own settings.
type RoleFunc[C any] func(d *Deps, ab *airbyte.Client, cfg C) (Runner, error)

// RunAirbyteRole runs a role that calls Airbyte: logger, dependencies
// (streams provisioned when opts say so), Airbyte client with metrics,
// then the role's runner beside the health server and the outbox relay,
// until ctx ends.
func RunAirbyteRole[C any](ctx context.Context, role string, cfg AirbyteRole[C], opts OpenOptions, build RoleFunc[C]) error {
	log, err := observability.NewLogger(cfg.Log, role)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	deps, err := Open(ctx, role, cfg.Common, log, opts)
	if err != nil {
		return err
	}
	defer deps.Close()
	ab, err := deps.Airbyte(cfg.Airbyte)
	if err != nil {
		return err
	}
	work, err := build(deps, ab, cfg.Role)
	if err != nil {
		return err
	}
	return Run(ctx, deps.HealthServer(cfg.HTTP.Addr), deps.Relay(), work)
}
