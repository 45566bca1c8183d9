// Package emulatorrole runs the Airbyte API emulator as a role of its own:
// the aam-airbyte-emulator binary and `aam emulator`.
package emulatorrole

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/pkg/emulator"
)

// Config is the emulator role's environment.
type Config struct {
	// Addr is the listen address (EMULATOR_ADDR, default 127.0.0.1:8000).
	Addr string `env:"EMULATOR_ADDR" envDefault:"127.0.0.1:8000"`
	// ClientID and ClientSecret are the only credentials the token endpoint
	// accepts (AIRBYTE_CLIENT_ID, AIRBYTE_CLIENT_SECRET; defaults aam-local,
	// aam-local-secret).
	ClientID     string        `env:"AIRBYTE_CLIENT_ID" envDefault:"aam-local"`
	ClientSecret config.Secret `env:"AIRBYTE_CLIENT_SECRET" envDefault:"aam-local-secret"`
	// Jobs is realistic (1 s pending, 3 s per attempt, 2 s per uncached
	// discover) or instant (EMULATOR_JOBS, default realistic).
	Jobs string `env:"EMULATOR_JOBS" envDefault:"realistic"`
	// LogLevel is debug (every request), info, warn or error
	// (EMULATOR_LOG_LEVEL, default info).
	LogLevel string `env:"EMULATOR_LOG_LEVEL" envDefault:"info"`
}

// Validate checks the settings.
func (c Config) Validate() error {
	if c.Jobs != "realistic" && c.Jobs != "instant" {
		return fmt.Errorf("EMULATOR_JOBS: %q is not realistic or instant", c.Jobs)
	}
	if _, err := zapcore.ParseLevel(c.LogLevel); err != nil {
		return fmt.Errorf("EMULATOR_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// Emulator returns the emulator configuration of c.
func (c Config) Emulator(log *zap.Logger) emulator.Config {
	ecfg := emulator.DefaultConfig()
	if c.Jobs == "instant" {
		ecfg = emulator.Config{}
	}
	ecfg.ClientID, ecfg.ClientSecret, ecfg.Logger = c.ClientID, c.ClientSecret.Value(), log
	return ecfg
}

// Run serves the emulator configured from the environment until ctx ends.
func Run(ctx context.Context) error {
	cfg, err := config.Parse[Config]()
	if err != nil {
		return err
	}
	level, _ := zapcore.ParseLevel(cfg.LogLevel)
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(level)
	log, err := zc.Build()
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	return emulator.New(cfg.Emulator(log)).ListenAndServe(ctx, cfg.Addr)
}
