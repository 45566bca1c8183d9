package repair

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/aam-mesh/aam/pkg/bus"
)

// Defaults of Config.
const (
	DefaultConcurrency       = 16
	DefaultMaxDeliver        = 8
	DefaultAckWait           = 30 * time.Second
	DefaultTimeout           = 15 * time.Minute
	DefaultHealingStaleAfter = 30 * time.Minute
	DefaultBusyRetry         = 2 * time.Second
)

// Config configures the repair worker. Parse it from the environment with
// pkg/config; a zero field (when built in code) takes its default.
type Config struct {
	// Concurrency bounds the repairs one process runs at once
	// (REPAIR_CONCURRENCY, default 16).
	Concurrency int `env:"REPAIR_CONCURRENCY" envDefault:"16"`
	// MaxDeliver is the number of deliveries of a request before it fails
	// (REPAIR_MAX_DELIVER, default 8).
	MaxDeliver int `env:"REPAIR_MAX_DELIVER" envDefault:"8"`
	// AckWait is how long JetStream waits for a sign of life before it
	// redelivers a request (REPAIR_ACK_WAIT, default 30s).
	AckWait time.Duration `env:"REPAIR_ACK_WAIT" envDefault:"30s"`
	// Timeout bounds one delivery's work, a discover included
	// (REPAIR_TIMEOUT, default 15m).
	Timeout time.Duration `env:"REPAIR_TIMEOUT" envDefault:"15m"`
	// HealingStaleAfter is how long a connection may stay HEALING for a
	// repair request before another request may take it over (the first
	// one's worker is presumed lost) (REPAIR_HEALING_STALE_AFTER, default 30m).
	HealingStaleAfter time.Duration `env:"REPAIR_HEALING_STALE_AFTER" envDefault:"30m"`
	// BusyRetry is how long a request waits before trying again while
	// another repair holds its connection (REPAIR_BUSY_RETRY, default 2s).
	BusyRetry time.Duration `env:"REPAIR_BUSY_RETRY" envDefault:"2s"`
	// Backoff gives the redelivery delay of retryable failures (default:
	// the runtime's exponential backoff from 500 ms to 30 s).
	Backoff bus.BackoffFunc `env:"-"`
}

func (c Config) withDefaults() Config {
	c.Concurrency = cmp.Or(c.Concurrency, DefaultConcurrency)
	c.MaxDeliver = cmp.Or(c.MaxDeliver, DefaultMaxDeliver)
	c.AckWait = cmp.Or(c.AckWait, DefaultAckWait)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.HealingStaleAfter = cmp.Or(c.HealingStaleAfter, DefaultHealingStaleAfter)
	c.BusyRetry = cmp.Or(c.BusyRetry, DefaultBusyRetry)
	return c
}

// Validate reports every invalid setting by its variable name.
func (c Config) Validate() error {
	var errs []error
	if c.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("REPAIR_CONCURRENCY: %d is negative", c.Concurrency))
	}
	if c.MaxDeliver < 0 {
		errs = append(errs, fmt.Errorf("REPAIR_MAX_DELIVER: %d is negative", c.MaxDeliver))
	}
	if c.AckWait < 0 || (c.AckWait > 0 && c.AckWait < 100*time.Millisecond) {
		errs = append(errs, fmt.Errorf("REPAIR_ACK_WAIT: %s is below 100ms", c.AckWait))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("REPAIR_TIMEOUT: %s is negative", c.Timeout))
	}
	if c.HealingStaleAfter < 0 {
		errs = append(errs, fmt.Errorf("REPAIR_HEALING_STALE_AFTER: %s is negative", c.HealingStaleAfter))
	}
	if c.BusyRetry < 0 {
		errs = append(errs, fmt.Errorf("REPAIR_BUSY_RETRY: %s is negative", c.BusyRetry))
	}
	return errors.Join(errs...)
}
