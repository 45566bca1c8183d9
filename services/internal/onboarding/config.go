package onboarding

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/services/internal/app"
)

// Defaults of Config.
const (
	DefaultConcurrency = 128
	// DefaultMaxDeliver and DefaultAckWait are the runtime's.
	DefaultMaxDeliver, DefaultAckWait = bus.DefaultMaxDeliver, bus.DefaultAckWait
	DefaultTimeout                    = 15 * time.Minute
	DefaultDefinitionCacheTTL         = 5 * time.Minute
	DefaultCredentialsTimeout         = 10 * time.Second
)

// Config configures the onboard worker. Parse it from the environment with
// pkg/config; a zero field takes its default (SetDefaults), whether the
// Config was parsed or built in code.
type Config struct {
	// WorkspaceID is the Airbyte workspace sources and connections are
	// created in (AIRBYTE_WORKSPACE_ID, required).
	WorkspaceID string `env:"AIRBYTE_WORKSPACE_ID,required,notEmpty"`
	// DestinationID is the Airbyte destination of new connections unless
	// the request names one (AIRBYTE_DESTINATION_ID, required).
	DestinationID string `env:"AIRBYTE_DESTINATION_ID,required,notEmpty"`
	// Delivery is ONBOARDING_CONCURRENCY, the onboardings one process runs
	// at once (default 128: onboarding waits on Airbyte most of the time, so
	// it can be high), ONBOARDING_MAX_DELIVER (default 8),
	// ONBOARDING_ACK_WAIT (default 30s: a killed worker's request comes back
	// after it) and the redelivery backoff.
	app.Delivery `envPrefix:"ONBOARDING_"`
	// Timeout bounds one delivery's work; a Salesforce discover can take
	// minutes (ONBOARDING_TIMEOUT, default 15m).
	Timeout time.Duration `env:"ONBOARDING_TIMEOUT"`
	// DefinitionCacheTTL is how long a source definition found for a
	// source type is reused (ONBOARDING_DEFINITION_CACHE_TTL, default 5m).
	DefinitionCacheTTL time.Duration `env:"ONBOARDING_DEFINITION_CACHE_TTL"`
	// CredentialsTimeout bounds a credential look-up in the broker
	// (ONBOARDING_CREDENTIALS_TIMEOUT, default 10s).
	CredentialsTimeout time.Duration `env:"ONBOARDING_CREDENTIALS_TIMEOUT"`
}

// SetDefaults gives every zero field its default.
func (c *Config) SetDefaults() {
	c.Delivery.SetDefaults(DefaultConcurrency)
	config.FillZero(c, Config{Timeout: DefaultTimeout, DefinitionCacheTTL: DefaultDefinitionCacheTTL, CredentialsTimeout: DefaultCredentialsTimeout})
}

// Validate reports every invalid setting by its variable name.
func (c Config) Validate() error {
	errs := []error{config.NonNegative(c), c.Delivery.Validate("ONBOARDING_")}
	for _, id := range [...]struct{ name, value string }{
		{"AIRBYTE_WORKSPACE_ID", c.WorkspaceID}, {"AIRBYTE_DESTINATION_ID", c.DestinationID},
	} {
		if id.value == "" {
			errs = append(errs, fmt.Errorf("%s: required", id.name))
		} else if _, err := uuid.Parse(id.value); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a UUID", id.name, id.value))
		}
	}
	return errors.Join(errs...)
}
