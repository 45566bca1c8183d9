package role

import (
	"context"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/observability"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/broker"
	"github.com/aam-mesh/aam/services/internal/emulatorrole"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/observer"
	"github.com/aam-mesh/aam/services/internal/onboarding"
	"github.com/aam-mesh/aam/services/internal/repair"
	"github.com/aam-mesh/aam/services/internal/syncer"
)

// All returns every role, in the order a single-process stack builds them:
// Airbyte and the credentials first, the gateway, which accepts requests,
// last.
func All() []Role {
	return []Role{AirbyteEmulator, CredentialBroker, Onboarding, Sync, Repair, SchemaObserver, Gateway}
}

// AirbyteEmulator serves the Airbyte API emulator (package emulatorrole),
// configured by EMULATOR_* and AIRBYTE_CLIENT_ID/SECRET. A single-process
// stack serves the emulator it was given in Shared, and none against a
// real Airbyte.
var AirbyteEmulator = spec[emulatorrole.Config, emulatorrole.Config]{
	name:    "airbyte-emulator",
	setting: func(s *Settings) *emulatorrole.Config { return &s.Emulator },
	part:    func(c emulatorrole.Config) emulatorrole.Config { return c },
	main:    emulatorrole.Run,
	dev: func(_ context.Context, s *Shared, _ emulatorrole.Config) (app.Runner, error) {
		if s.Emulator == nil {
			return nil, nil
		}
		return func(ctx context.Context) error { return s.Emulator.Serve(ctx, s.EmulatorListener) }, nil
	},
}.role()

// CredentialBroker serves the credentials kept in the registry (package
// broker), configured by broker.Config. In a single-process stack the
// credential service answers on the shared NATS connection until every
// other role has stopped.
var CredentialBroker = spec[broker.Config, broker.Settings]{
	name:    broker.Role,
	setting: func(s *Settings) *broker.Settings { return &s.Broker },
	part:    func(c broker.Config) broker.Settings { return c.Settings },
	main: func(ctx context.Context, cfg broker.Config) error {
		log, err := observability.NewLogger(cfg.Log, broker.Role)
		if err != nil {
			return err
		}
		defer func() { _ = log.Sync() }()
		log.Info("credential broker starting")
		return broker.Run(ctx, cfg, log)
	},
	dev: func(ctx context.Context, s *Shared, c broker.Settings) (app.Runner, error) {
		key, err := c.Key()
		if err != nil {
			return nil, err
		}
		// The service outlives the stop signal: workers finishing their
		// deliveries may still ask it for credentials. Shared.Stop stops it.
		stop, err := broker.Start(context.WithoutCancel(ctx), s.Deps.Store, s.Deps.NC, key, s.Deps.Log,
			append(c.Options(), broker.WithMetrics(s.Deps.Metrics))...)
		if err != nil {
			return nil, err
		}
		s.OnStop(stop)
		return func(ctx context.Context) error { <-ctx.Done(); return nil }, nil
	},
}.role()

// Onboarding is the onboarding worker (package onboarding), configured by
// app.AirbyteRole[onboarding.Config]. It asks the credential broker for
// credentials over NATS, and deletes the connections it onboarded on
// request (their Airbyte connection and source).
var Onboarding = airbyteRole("onboarding", []string{onboarding.Consumer, onboarding.DeleteConsumer}, true,
	func(s *Settings) *onboarding.Config { return &s.Onboarding },
	func(d *app.Deps, ab *airbyte.Client, c onboarding.Config) (app.Runner, error) {
		return runner(onboarding.New(d, ab, credentials.NewClient(d.NC, credentials.ClientOptions{}), c))
	})

// Sync is the sync worker and job follower (package syncer), configured by
// app.AirbyteRole[syncer.Config].
var Sync = airbyteRole("sync", []string{syncer.Consumer, syncer.ReleaseConsumer}, true,
	func(s *Settings) *syncer.Config { return &s.Sync },
	func(d *app.Deps, ab *airbyte.Client, c syncer.Config) (app.Runner, error) {
		return runner(syncer.New(d, ab, c))
	})

// Repair is the drift repair worker (package repair), configured by
// app.AirbyteRole[repair.Config].
var Repair = airbyteRole("repair", []string{repair.Consumer, repair.RollbackConsumer}, true,
	func(s *Settings) *repair.Config { return &s.Repair },
	func(d *app.Deps, ab *airbyte.Client, c repair.Config) (app.Runner, error) {
		return runner(repair.New(d, ab, c))
	})

// SchemaObserver checks ACTIVE connections for schema drift on a schedule
// and on request (package observer), configured by
// app.AirbyteRole[observer.Config]. Its NATS user may not manage streams:
// they are provisioned by the workers or `aam migrate up`.
var SchemaObserver = airbyteRole("schema-observer", []string{observer.PolicyConsumer, observer.ResolveConsumer}, false,
	func(s *Settings) *observer.Config { return &s.Observer },
	func(d *app.Deps, ab *airbyte.Client, c observer.Config) (app.Runner, error) {
		return runner(observer.New(d, ab, c))
	})

// GatewayConfig is the gateway binary's environment: logging, PostgreSQL,
// NATS, tracing and GATEWAY_*. The gateway serves its health and metrics
// endpoints on GATEWAY_ADDR itself; its NATS user may not manage streams.
type GatewayConfig struct {
	config.Log
	config.Postgres
	config.NATS
	observability.Tracing
	gateway.Config
}

// Gateway is the HTTP gateway (package gateway): requests in, CloudEvents
// on JetStream out, registry reads, server-sent events of the facts.
var Gateway = spec[GatewayConfig, gateway.Config]{
	name:    "gateway",
	setting: func(s *Settings) *gateway.Config { return &s.Gateway },
	part:    func(c GatewayConfig) gateway.Config { return c.Config },
	main: func(ctx context.Context, cfg GatewayConfig) error {
		log, err := observability.NewLogger(cfg.Log, "gateway")
		if err != nil {
			return err
		}
		defer func() { _ = log.Sync() }()
		deps, err := app.Open(ctx, "gateway", app.Common{Log: cfg.Log, Postgres: cfg.Postgres, NATS: cfg.NATS, Tracing: cfg.Tracing}, log)
		if err != nil {
			return err
		}
		defer deps.Close()
		srv, err := gateway.New(cfg.Config, deps)
		if err != nil {
			return err
		}
		return srv.Run(ctx)
	},
	dev: func(_ context.Context, s *Shared, c gateway.Config) (app.Runner, error) {
		return runner(gateway.New(c, s.Deps))
	},
}.role()

// runner returns the Run method of a role's part built by a constructor,
// or the constructor's error.
func runner[P interface{ Run(context.Context) error }](p P, err error) (app.Runner, error) {
	if err != nil {
		return nil, err
	}
	return p.Run, nil
}
