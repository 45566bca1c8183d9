// Command aam-gateway runs AAM's HTTP gateway: requests in, CloudEvents on
// JetStream out, registry reads, server-sent events of the facts.
package main

import (
	"context"

	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/pkg/observability"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/gateway"
)

// Config is the gateway's environment: logging, PostgreSQL, NATS and the
// GATEWAY_* settings. The gateway serves its health and metrics endpoints
// on GATEWAY_ADDR itself; its NATS user may not manage streams.
type Config struct {
	config.Log
	config.Postgres
	config.NATS
	observability.Tracing
	gateway.Config
}

func main() {
	app.Main("aam-gateway", func(ctx context.Context, cfg Config) error {
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
	})
}
