package app

import (
	"context"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/observability"
)

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
