package gateway

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/aam-mesh/aam/pkg/config"
)

// Config configures the gateway. It is parsed from the environment with
// config.Parse; every field has a default.
type Config struct {
	// Addr is the listen address (GATEWAY_ADDR, default 127.0.0.1:8080).
	Addr string `env:"GATEWAY_ADDR" envDefault:"127.0.0.1:8080"`
	// Tokens are the accepted bearer tokens, comma-separated
	// (GATEWAY_TOKENS). Empty disables authentication; the gateway warns
	// at start.
	Tokens config.Secret `env:"GATEWAY_TOKENS"`
	// MaxBodyBytes caps request bodies (GATEWAY_MAX_BODY_BYTES, default
	// 1 MiB); larger bodies are answered 413.
	MaxBodyBytes int64 `env:"GATEWAY_MAX_BODY_BYTES" envDefault:"1048576"`
	// WaitMax caps ?wait= and Prefer: wait= (GATEWAY_WAIT_MAX, default 60 s).
	WaitMax time.Duration `env:"GATEWAY_WAIT_MAX" envDefault:"60s"`
	// SeedWait is how long the unversioned routes kept from the seed API
	// (POST /connections/onboard, /connections/{id}/sync,
	// /repair/apply_new_catalog) wait for the outcome when the caller asks
	// nothing, so that they answer like the seed did (GATEWAY_SEED_WAIT,
	// default 30 s, capped by WaitMax; 0 makes them answer 202 at once).
	SeedWait time.Duration `env:"GATEWAY_SEED_WAIT" envDefault:"30s"`
	// PublishTimeout bounds the wait for JetStream's acknowledgement of a
	// request (GATEWAY_PUBLISH_TIMEOUT, default 5 s); past it the request
	// is answered 503.
	PublishTimeout time.Duration `env:"GATEWAY_PUBLISH_TIMEOUT" envDefault:"5s"`
	// Heartbeat is the interval of SSE comment lines on /v1/events/stream
	// (GATEWAY_SSE_HEARTBEAT, default 15 s).
	Heartbeat time.Duration `env:"GATEWAY_SSE_HEARTBEAT" envDefault:"15s"`
	// PollInterval is how often a waiting request also reads the registry
	// outbox, in case a completion event was missed on the wire
	// (GATEWAY_WAIT_POLL, default 2 s).
	PollInterval time.Duration `env:"GATEWAY_WAIT_POLL" envDefault:"2s"`
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("GATEWAY_ADDR: %q is not host:port", c.Addr))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("GATEWAY_MAX_BODY_BYTES: %d is below 1024", c.MaxBodyBytes))
	}
	if c.WaitMax < 0 || c.SeedWait < 0 {
		errs = append(errs, errors.New("GATEWAY_WAIT_MAX and GATEWAY_SEED_WAIT must not be negative"))
	}
	if c.PublishTimeout <= 0 || c.Heartbeat <= 0 || c.PollInterval <= 0 {
		errs = append(errs, errors.New("GATEWAY_PUBLISH_TIMEOUT, GATEWAY_SSE_HEARTBEAT and GATEWAY_WAIT_POLL must be positive"))
	}
	for _, t := range c.tokens() {
		if strings.ContainsAny(t, " \t") {
			errs = append(errs, errors.New("GATEWAY_TOKENS: a token contains white space"))
			break
		}
	}
	return errors.Join(errs...)
}

// DefaultConfig returns the defaults, as parsed from an empty environment.
func DefaultConfig() Config {
	return Config{
		Addr:           "127.0.0.1:8080",
		MaxBodyBytes:   1 << 20,
		WaitMax:        60 * time.Second,
		SeedWait:       30 * time.Second,
		PublishTimeout: 5 * time.Second,
		Heartbeat:      15 * time.Second,
		PollInterval:   2 * time.Second,
	}
}

// tokens splits Tokens on commas, dropping empty entries.
func (c Config) tokens() []string {
	var out []string
	for _, t := range strings.Split(c.Tokens.Value(), ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
