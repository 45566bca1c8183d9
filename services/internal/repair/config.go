package repair

import (
	"errors"
	"time"

	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/services/internal/app"
)

// Defaults of Config.
const (
	DefaultConcurrency = 16
	// DefaultMaxDeliver and DefaultAckWait are the runtime's.
	DefaultMaxDeliver, DefaultAckWait = bus.DefaultMaxDeliver, bus.DefaultAckWait
	DefaultTimeout                    = 15 * time.Minute
	DefaultHealingStaleAfter          = 30 * time.Minute
	DefaultBusyRetry                  = 2 * time.Second
)

// Config configures the repair worker. Parse it from the environment with
// pkg/config; a zero field takes its default (SetDefaults), whether the
// Config was parsed or built in code.
type Config struct {
	// Delivery is REPAIR_CONCURRENCY, the repairs one process runs at once
	// (default 16), REPAIR_MAX_DELIVER (default 8), REPAIR_ACK_WAIT
	// (default 30s) and the redelivery backoff.
	app.Delivery `envPrefix:"REPAIR_"`
	// Timeout bounds one delivery's work, a discover included
	// (REPAIR_TIMEOUT, default 15m).
	Timeout time.Duration `env:"REPAIR_TIMEOUT"`
	// HealingStaleAfter is how long a connection may stay HEALING for a
	// repair request before another request may take it over (the first
	// one's worker is presumed lost) (REPAIR_HEALING_STALE_AFTER, default 30m).
	HealingStaleAfter time.Duration `env:"REPAIR_HEALING_STALE_AFTER"`
	// BusyRetry is how long a request first waits before trying again
	// while another repair holds its connection, doubled with each
	// delivery up to REPAIR_ACK_WAIT (REPAIR_BUSY_RETRY, default 2s).
	BusyRetry time.Duration `env:"REPAIR_BUSY_RETRY"`
}

// SetDefaults gives every zero field its default.
func (c *Config) SetDefaults() {
	c.Delivery.SetDefaults(DefaultConcurrency)
	config.FillZero(c, Config{Timeout: DefaultTimeout, HealingStaleAfter: DefaultHealingStaleAfter, BusyRetry: DefaultBusyRetry})
}

// Validate reports every invalid setting by its variable name.
func (c Config) Validate() error {
	return errors.Join(config.NonNegative(c), c.Delivery.Validate("REPAIR_"))
}
