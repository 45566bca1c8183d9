package observer

import (
	"errors"
	"fmt"
	"time"

	"github.com/aam-mesh/aam/pkg/config"
)

// Heal policies (OBSERVER_HEAL).
const (
	// HealOff reports drift and changes nothing.
	HealOff = "off"
	// HealNonBreaking publishes a repair request for every non-breaking
	// drift. Breaking drift is only reported: it needs a person.
	HealNonBreaking = "non_breaking"
	// HealPolicy decides every drift by the connection's drift policy (the
	// default policy when none was set): propagate, ignore, pause or
	// require approval.
	HealPolicy = "policy"
)

// Propagation policies (OBSERVER_PROPAGATE), Airbyte's vocabulary.
const (
	// PropagateColumns carries field changes of the configured streams.
	PropagateColumns = "columns"
	// PropagateFully also selects the streams the source added.
	PropagateFully = "fully"
)

// SubjectCheck is the default subject of on-demand checks (NATS
// request/reply; see Observer.Serve).
const SubjectCheck = "aam.observer.check"

// Defaults of Config.
const (
	DefaultInterval     = 15 * time.Minute
	DefaultConcurrency  = 4
	DefaultCheckTimeout = 10 * time.Minute
)

// Config tunes the schema observer. A zero field takes the default given
// in its comment (SetDefaults).
type Config struct {
	// Interval between rounds over every ACTIVE connection
	// (OBSERVER_INTERVAL, default 15 min).
	Interval time.Duration `env:"OBSERVER_INTERVAL"`
	// Heal is off, non_breaking or policy (OBSERVER_HEAL, default policy;
	// a zero Config is off).
	Heal string `env:"OBSERVER_HEAL" envDefault:"policy"`
	// Propagate is columns or fully (OBSERVER_PROPAGATE, default columns):
	// what a heal carries besides field changes of the configured streams.
	Propagate string `env:"OBSERVER_PROPAGATE"`
	// Concurrency bounds the discovers one observer runs at once
	// (OBSERVER_CONCURRENCY, default 4).
	Concurrency int `env:"OBSERVER_CONCURRENCY"`
	// CheckSubject is where on-demand checks are asked for
	// (OBSERVER_CHECK_SUBJECT, default aam.observer.check; "" disables).
	CheckSubject string `env:"OBSERVER_CHECK_SUBJECT" envDefault:"aam.observer.check"`
	// CheckTimeout bounds one connection's check, its discover included
	// (OBSERVER_CHECK_TIMEOUT, default 10 min).
	CheckTimeout time.Duration `env:"OBSERVER_CHECK_TIMEOUT"`
}

// SetDefaults gives every zero field its default. A zero Config heals
// nothing (Heal off) and serves no checks (CheckSubject stays empty); the
// environment's defaults for those two, policy and aam.observer.check, are
// in their env tags.
func (c *Config) SetDefaults() {
	config.FillZero(c, Config{Interval: DefaultInterval, Heal: HealOff, Propagate: PropagateColumns,
		Concurrency: DefaultConcurrency, CheckTimeout: DefaultCheckTimeout})
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	errs := []error{config.NonNegative(c)}
	if c.Heal != "" && c.Heal != HealOff && c.Heal != HealNonBreaking && c.Heal != HealPolicy {
		errs = append(errs, fmt.Errorf("OBSERVER_HEAL: %q is not off, non_breaking or policy", c.Heal))
	}
	if c.Propagate != "" && c.Propagate != PropagateColumns && c.Propagate != PropagateFully {
		errs = append(errs, fmt.Errorf("OBSERVER_PROPAGATE: %q is not columns or fully", c.Propagate))
	}
	return errors.Join(errs...)
}
