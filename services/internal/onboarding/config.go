package onboarding

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/aam-mesh/aam/pkg/bus"
)

// Defaults of Config.
const (
	DefaultConcurrency        = 128
	DefaultMaxDeliver         = bus.DefaultMaxDeliver
	DefaultAckWait            = bus.DefaultAckWait
	DefaultTimeout            = 15 * time.Minute
	DefaultDefinitionCacheTTL = 5 * time.Minute
	DefaultCredentialsTimeout = 10 * time.Second
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
	// Concurrency bounds the onboardings one process runs at once
	// (ONBOARDING_CONCURRENCY, default 128). Onboarding waits on Airbyte
	// most of the time, so it can be high.
	Concurrency int `env:"ONBOARDING_CONCURRENCY"`
	// Redelivery is ONBOARDING_MAX_DELIVER (default 8), ONBOARDING_ACK_WAIT
	// (default 30s: a killed worker's request comes back after it) and the
	// redelivery backoff.
	bus.Redelivery `envPrefix:"ONBOARDING_"`
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
	c.Redelivery.SetDefaults()
	c.Concurrency = cmp.Or(c.Concurrency, DefaultConcurrency)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.DefinitionCacheTTL = cmp.Or(c.DefinitionCacheTTL, DefaultDefinitionCacheTTL)
	c.CredentialsTimeout = cmp.Or(c.CredentialsTimeout, DefaultCredentialsTimeout)
}

// Validate reports every invalid setting by its variable name.
func (c Config) Validate() error {
	var errs []error
	if c.WorkspaceID == "" {
		errs = append(errs, errors.New("AIRBYTE_WORKSPACE_ID: required"))
	} else if _, err := uuid.Parse(c.WorkspaceID); err != nil {
		errs = append(errs, fmt.Errorf("AIRBYTE_WORKSPACE_ID: %q is not a UUID", c.WorkspaceID))
	}
	if c.DestinationID == "" {
		errs = append(errs, errors.New("AIRBYTE_DESTINATION_ID: required"))
	} else if _, err := uuid.Parse(c.DestinationID); err != nil {
		errs = append(errs, fmt.Errorf("AIRBYTE_DESTINATION_ID: %q is not a UUID", c.DestinationID))
	}
	if c.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("ONBOARDING_CONCURRENCY: %d is negative", c.Concurrency))
	}
	errs = append(errs, c.Redelivery.Validate("ONBOARDING_"))
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("ONBOARDING_TIMEOUT: %s is negative", c.Timeout))
	}
	if c.DefinitionCacheTTL < 0 {
		errs = append(errs, fmt.Errorf("ONBOARDING_DEFINITION_CACHE_TTL: %s is negative", c.DefinitionCacheTTL))
	}
	if c.CredentialsTimeout < 0 {
		errs = append(errs, fmt.Errorf("ONBOARDING_CREDENTIALS_TIMEOUT: %s is negative", c.CredentialsTimeout))
	}
	return errors.Join(errs...)
}
