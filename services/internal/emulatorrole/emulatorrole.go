// Package emulatorrole runs the Airbyte API emulator as a role of its own:
// the aam-airbyte-emulator binary, `aam emulator`, and the emulator that
// `aam dev` serves.
package emulatorrole

import (
	"context"
	"fmt"
	"net"
	"time"

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
	// Jobs is realistic (1 s pending, 3 s per attempt, 1 s between attempts,
	// 2 s per uncached discover) or instant: every job is terminal the first
	// time it is read after its creation, discovers do not sleep
	// (EMULATOR_JOBS, default realistic).
	Jobs string `env:"EMULATOR_JOBS" envDefault:"realistic"`
	// PublicAPIThreads and ConfigAPIThreads size the pools that serve the
	// public and the Configuration API (EMULATOR_PUBLIC_API_THREADS, default 5,
	// and EMULATOR_CONFIG_API_THREADS, default 100, Airbyte's own defaults; 0:
	// unbounded). MaxSyncWorkers is how many jobs run at once
	// (EMULATOR_MAX_SYNC_WORKERS, default 10; 0: unbounded). QueueLimit, when
	// positive, makes a pool answer 429 to a request that finds that many
	// already waiting (EMULATOR_QUEUE_LIMIT, default 0: queue without limit).
	PublicAPIThreads int `env:"EMULATOR_PUBLIC_API_THREADS" envDefault:"5"`
	ConfigAPIThreads int `env:"EMULATOR_CONFIG_API_THREADS" envDefault:"100"`
	MaxSyncWorkers   int `env:"EMULATOR_MAX_SYNC_WORKERS" envDefault:"10"`
	QueueLimit       int `env:"EMULATOR_QUEUE_LIMIT" envDefault:"0"`
	// CallTime is how long every API call holds its pool's thread, as the
	// work a real server does per call (EMULATOR_CALL_TIME, default 0).
	CallTime time.Duration `env:"EMULATOR_CALL_TIME" envDefault:"0s"`
	// DataDir, when set, is the folder the emulator keeps its state in, so
	// that a restart carries on with the same sources, connections and jobs
	// (EMULATOR_DATA_DIR, default none: the state lives in memory).
	DataDir string `env:"EMULATOR_DATA_DIR"`
	// LogLevel is debug (every request), info, warn or error
	// (EMULATOR_LOG_LEVEL, default info).
	LogLevel string `env:"EMULATOR_LOG_LEVEL" envDefault:"info"`
}

// Validate checks the settings.
func (c Config) Validate() error {
	if c.Jobs != "realistic" && c.Jobs != "instant" {
		return fmt.Errorf("EMULATOR_JOBS: %q is not realistic or instant", c.Jobs)
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"EMULATOR_PUBLIC_API_THREADS", c.PublicAPIThreads}, {"EMULATOR_CONFIG_API_THREADS", c.ConfigAPIThreads},
		{"EMULATOR_MAX_SYNC_WORKERS", c.MaxSyncWorkers}, {"EMULATOR_QUEUE_LIMIT", c.QueueLimit}} {
		if v.n < 0 {
			return fmt.Errorf("%s: %d is negative (0 means no bound)", v.name, v.n)
		}
	}
	if c.CallTime < 0 {
		return fmt.Errorf("EMULATOR_CALL_TIME: %s is negative", c.CallTime)
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
	// Capacity applies to both timings: instant jobs end the moment they are
	// due, so they never wait for a worker, but calls still share the pools.
	ecfg.PublicAPIThreads, ecfg.ConfigAPIThreads = c.PublicAPIThreads, c.ConfigAPIThreads
	ecfg.MaxSyncWorkers, ecfg.QueueLimit, ecfg.CallTime = c.MaxSyncWorkers, c.QueueLimit, c.CallTime
	ecfg.DataDir = c.DataDir
	return ecfg
}

// New returns the emulator c describes, logging to log, and a listener on
// c.Addr for it to serve (with emulator.Serve).
func New(c Config, log *zap.Logger) (*emulator.Emulator, net.Listener, error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	emu, err := emulator.Open(c.Emulator(log))
	if err != nil {
		return nil, nil, fmt.Errorf("EMULATOR_DATA_DIR: %w", err)
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		_ = emu.Stop()
		return nil, nil, fmt.Errorf("emulator: listen %s: %w", c.Addr, err)
	}
	return emu, ln, nil
}

// Run serves the emulator cfg describes, logging at cfg.LogLevel, until
// ctx ends.
func Run(ctx context.Context, cfg Config) error {
	level, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return fmt.Errorf("EMULATOR_LOG_LEVEL: %q is not debug, info, warn or error", cfg.LogLevel)
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(level)
	log, err := zc.Build()
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	emu, ln, err := New(cfg, log)
	if err != nil {
		return err
	}
	return emu.Serve(ctx, ln)
}
