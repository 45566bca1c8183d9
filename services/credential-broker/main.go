// Command aam-credential-broker serves AAM's credentials, kept encrypted in
// the registry, to the roles that configure Airbyte sources: the NATS micro
// service aam-credentials (aam.credentials.get, put, rotate, delete, list).
// Configuration is from the environment: DATABASE_URL, NATS_URL,
// AAM_SECRET_KEY (required), the optional SALESFORCE_* credential,
// HTTP_ADDR, LOG_LEVEL, LOG_FORMAT.
package main

import (
	"context"

	"github.com/aam-mesh/aam/pkg/observability"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/broker"
)

func main() {
	app.Main("aam-credential-broker", func(ctx context.Context, cfg broker.Config) error {
		log, err := observability.NewLogger(cfg.Log, broker.Role)
		if err != nil {
			return err
		}
		defer func() { _ = log.Sync() }()
		log.Info("credential broker starting")
		return broker.Run(ctx, cfg, log)
	})
}
