// Command aam-credential-broker serves AAM's credentials, kept encrypted in
// the registry, to the roles that configure Airbyte sources: the NATS micro
// service aam-credentials (aam.credentials.get, put, rotate, delete, list).
// Configuration is from the environment: DATABASE_URL, NATS_URL,
// AAM_SECRET_KEY (required), the optional SALESFORCE_* credential,
// HTTP_ADDR, LOG_LEVEL, LOG_FORMAT.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/pkg/observability"
	"github.com/aam-mesh/aam/services/internal/broker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := config.Parse[broker.Config]()
	if err != nil {
		return err
	}
	log, err := observability.NewLogger(cfg.Log, broker.Role)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	log.Info("credential broker starting")
	return broker.Run(ctx, cfg, log)
}
