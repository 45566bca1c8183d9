// Command airbyte-emulator serves the Airbyte API emulator (package
// github.com/aam-mesh/aam/pkg/emulator) for local development and demos.
//
// Environment: EMULATOR_ADDR (default 127.0.0.1:8000), AIRBYTE_CLIENT_ID (default
// aam-local), AIRBYTE_CLIENT_SECRET (default aam-local-secret), EMULATOR_LOG_LEVEL
// (default info).
package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/aam-mesh/aam/pkg/emulator"
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
	level, err := zapcore.ParseLevel(cmp.Or(os.Getenv("EMULATOR_LOG_LEVEL"), "info"))
	if err != nil {
		return fmt.Errorf("EMULATOR_LOG_LEVEL: %w", err)
	}
	logCfg := zap.NewProductionConfig()
	logCfg.Level = zap.NewAtomicLevelAt(level)
	logger, err := logCfg.Build()
	if err != nil {
		return fmt.Errorf("build logger: %w", err)
	}
	defer func() { _ = logger.Sync() }()

	cfg := emulator.DefaultConfig()
	cfg.ClientID = cmp.Or(os.Getenv("AIRBYTE_CLIENT_ID"), emulator.DefaultClientID)
	cfg.ClientSecret = cmp.Or(os.Getenv("AIRBYTE_CLIENT_SECRET"), emulator.DefaultClientSecret)
	cfg.Logger = logger
	return emulator.New(cfg).ListenAndServe(ctx, cmp.Or(os.Getenv("EMULATOR_ADDR"), "127.0.0.1:8000"))
}
