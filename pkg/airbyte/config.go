package airbyte

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Defaults of [Config]. A zero field takes its default.
const (
	DefaultBaseURL                 = "http://localhost:8000/api/public/v1"
	DefaultTimeout                 = 30 * time.Second
	DefaultDiscoverTimeout         = 5 * time.Minute
	DefaultMaxAttempts             = 4
	DefaultBackoffBase             = 250 * time.Millisecond
	DefaultBackoffMax              = 10 * time.Second
	DefaultMaxRetryAfter           = time.Minute
	DefaultMaxInFlight             = 4
	DefaultConfigAPIMaxInFlight    = 4
	DefaultRateLimit               = -1.0
	DefaultRateBurst               = 10
	DefaultBreakerFailures         = 5
	DefaultBreakerOpenTimeout      = 30 * time.Second
	DefaultBreakerHalfOpenRequests = 1
)

// Config configures a [Client]. The zero value talks to a local Airbyte
// without credentials; every field documents its default. Fields carry env
// tags so that a service can embed Config in its own env-parsed config.
type Config struct {
	// BaseURL is the public API's base URL: http(s)://<host>[:8000]/api/public/v1
	// on OSS, https://api.airbyte.com/v1 on Airbyte Cloud.
	// Default: DefaultBaseURL.
	BaseURL string `env:"AIRBYTE_API_URL"`

	// ConfigAPIURL is the configuration API's base URL (the one whose paths
	// are /sources/discover_schema, /connections/get, ...). Default: BaseURL
	// with a trailing /api/public/v1 replaced by /api/v1, or
	// <scheme>://<host>/api/v1 when BaseURL has another shape.
	ConfigAPIURL string `env:"AIRBYTE_CONFIG_API_URL"`

	// ClientID and ClientSecret are the application's client credentials
	// (OSS: `abctl local credentials`, or UI → User settings → Applications).
	// Both empty: requests are sent without an Authorization header.
	ClientID     string `env:"AIRBYTE_CLIENT_ID"`
	ClientSecret Secret `env:"AIRBYTE_CLIENT_SECRET"`

	// HTTPClient sends the requests. Default: a client on a clone of
	// http.DefaultTransport. Its own Timeout, if any, applies on top of the
	// per-attempt timeouts below.
	HTTPClient *http.Client `env:"-"`

	// Timeout bounds each HTTP attempt of a call. The caller's context
	// deadline wins when it is sooner, and bounds the call with its retries.
	// Default: DefaultTimeout (30 s).
	Timeout time.Duration `env:"AIRBYTE_TIMEOUT"`

	// DiscoverTimeout replaces Timeout for calls that make Airbyte run a
	// discover synchronously: config sources/discover_schema, GET /streams,
	// POST and PATCH /connections. Salesforce discovers take minutes.
	// Default: DefaultDiscoverTimeout (5 min, OSS's own API-client timeout).
	DiscoverTimeout time.Duration `env:"AIRBYTE_DISCOVER_TIMEOUT"`

	// MaxAttempts is the number of HTTP attempts of one call, first included
	// (a 401 answered by a token refresh does not count). 1 disables retries.
	// Default: DefaultMaxAttempts (4).
	MaxAttempts int `env:"AIRBYTE_MAX_ATTEMPTS"`

	// BackoffBase and BackoffMax shape the exponential backoff between
	// attempts (factor 2, ±50% jitter, capped at BackoffMax).
	// Defaults: DefaultBackoffBase (250 ms), DefaultBackoffMax (10 s).
	BackoffBase time.Duration `env:"AIRBYTE_BACKOFF_BASE"`
	BackoffMax  time.Duration `env:"AIRBYTE_BACKOFF_MAX"`

	// MaxRetryAfter is the longest Retry-After the client waits inside a
	// call. A longer one ends the call with an *APIError whose RetryAfter
	// tells the caller when to come back. Default: DefaultMaxRetryAfter (1 min).
	MaxRetryAfter time.Duration `env:"AIRBYTE_MAX_RETRY_AFTER"`

	// MaxInFlight bounds the public API calls in flight at once (sent and
	// not yet answered). Airbyte OSS serves its whole public API, token
	// requests included, from a fixed pool of PUBLIC_API_EXECUTOR_THREADS
	// (5) threads and queues what exceeds it; a connection create or a
	// discover holds its thread for its whole duration. The client admits
	// at most this many calls, fewer while Airbyte shows overload: a 429,
	// 503 or 504 answer or an attempt timeout halves the limit, latency
	// well above its usual level lowers it by 10%, and answers raise it
	// back by about one call per round of calls, up to this bound. Calls
	// beyond the limit wait for a slot, token requests first, then job
	// reads and cancels, then other calls, then discovers and creates; a
	// call whose wait would outlast its context's deadline fails at once
	// with a *BusyError ([ErrBusy]) carrying the estimated wait. -1
	// disables admission control. Default: DefaultMaxInFlight (4).
	MaxInFlight int `env:"AIRBYTE_MAX_IN_FLIGHT"`

	// ConfigAPIMaxInFlight is MaxInFlight for the configuration API, which
	// Airbyte serves from another pool (IO_TASK_EXECUTOR_THREADS, 100) and
	// whose discovers run on MAX_CHECK_WORKERS (5) workers.
	// Default: DefaultConfigAPIMaxInFlight (4).
	ConfigAPIMaxInFlight int `env:"AIRBYTE_CONFIG_API_MAX_IN_FLIGHT"`

	// RateLimit is an optional ceiling on the request rate in requests per
	// second, for an Airbyte behind a rate-limiting gateway, and RateBurst
	// its bucket size. Admission control (MaxInFlight) is what keeps an
	// Airbyte busy without overrunning it; a rate limit only caps the
	// client. Airbyte OSS has no server-side limiter; Airbyte Cloud answers
	// 429 without a published limit. -1 disables the limiter.
	// Defaults: DefaultRateLimit (-1, no limit), DefaultRateBurst (10).
	RateLimit float64 `env:"AIRBYTE_RATE_LIMIT"`
	RateBurst int     `env:"AIRBYTE_RATE_BURST"`

	// BreakerFailures is the number of consecutive failures (5xx, attempt
	// timeouts, connection errors) that opens the circuit breaker of an
	// Airbyte origin. -1 disables the breaker. Default: DefaultBreakerFailures (5).
	BreakerFailures int `env:"AIRBYTE_BREAKER_FAILURES"`

	// BreakerOpenTimeout is how long the breaker stays open before it lets
	// trial requests through (half-open). Default: DefaultBreakerOpenTimeout (30 s).
	BreakerOpenTimeout time.Duration `env:"AIRBYTE_BREAKER_OPEN_TIMEOUT"`

	// BreakerHalfOpenRequests is the number of trial requests allowed while
	// half-open; that many successes close the breaker, one failure opens it
	// again. Default: DefaultBreakerHalfOpenRequests (1).
	BreakerHalfOpenRequests int `env:"AIRBYTE_BREAKER_HALF_OPEN_REQUESTS"`

	// UserAgent is sent with every request. Default: "aam-airbyte-client".
	UserAgent string `env:"AIRBYTE_USER_AGENT"`
}

// withDefaults returns a copy of cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	cfg.BaseURL = strings.TrimRight(cmp.Or(cfg.BaseURL, DefaultBaseURL), "/")
	if cfg.ConfigAPIURL == "" {
		cfg.ConfigAPIURL = deriveConfigAPIURL(cfg.BaseURL)
	}
	cfg.ConfigAPIURL = strings.TrimRight(cfg.ConfigAPIURL, "/")
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.DiscoverTimeout = cmp.Or(cfg.DiscoverTimeout, DefaultDiscoverTimeout)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.BackoffBase = cmp.Or(cfg.BackoffBase, DefaultBackoffBase)
	cfg.BackoffMax = cmp.Or(cfg.BackoffMax, DefaultBackoffMax)
	cfg.MaxRetryAfter = cmp.Or(cfg.MaxRetryAfter, DefaultMaxRetryAfter)
	cfg.MaxInFlight = cmp.Or(cfg.MaxInFlight, DefaultMaxInFlight)
	cfg.ConfigAPIMaxInFlight = cmp.Or(cfg.ConfigAPIMaxInFlight, DefaultConfigAPIMaxInFlight)
	cfg.RateLimit = cmp.Or(cfg.RateLimit, DefaultRateLimit)
	cfg.RateBurst = cmp.Or(cfg.RateBurst, DefaultRateBurst)
	cfg.BreakerFailures = cmp.Or(cfg.BreakerFailures, DefaultBreakerFailures)
	cfg.BreakerOpenTimeout = cmp.Or(cfg.BreakerOpenTimeout, DefaultBreakerOpenTimeout)
	cfg.BreakerHalfOpenRequests = cmp.Or(cfg.BreakerHalfOpenRequests, DefaultBreakerHalfOpenRequests)
	cfg.UserAgent = cmp.Or(cfg.UserAgent, "aam-airbyte-client")
	return cfg
}

// deriveConfigAPIURL maps the public API base URL to the configuration API's.
func deriveConfigAPIURL(base string) string {
	if p, ok := strings.CutSuffix(base, "/api/public/v1"); ok {
		return p + "/api/v1"
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return base // Validate reports it
	}
	return u.Scheme + "://" + u.Host + "/api/v1"
}

// Validate reports every invalid setting of cfg after defaults are applied,
// by the name of its variable and of its field.
func (cfg Config) Validate() error {
	cfg = cfg.withDefaults()
	var errs []error
	for _, f := range [...]struct{ name, raw string }{{"AIRBYTE_API_URL (BaseURL)", cfg.BaseURL}, {"AIRBYTE_CONFIG_API_URL (ConfigAPIURL)", cfg.ConfigAPIURL}} {
		name, raw := f.name, f.raw
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, fmt.Errorf("%s %q: scheme must be http or https", name, raw))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("%s %q: missing host", name, raw))
		case u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, fmt.Errorf("%s %q: must not carry a query or fragment", name, raw))
		}
	}
	if (cfg.ClientID == "") != cfg.ClientSecret.IsZero() {
		errs = append(errs, errors.New("AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET (ClientID, ClientSecret) must be set together"))
	}
	for _, d := range [...]struct {
		name string
		v    time.Duration
	}{{"AIRBYTE_TIMEOUT (Timeout)", cfg.Timeout}, {"AIRBYTE_DISCOVER_TIMEOUT (DiscoverTimeout)", cfg.DiscoverTimeout},
		{"AIRBYTE_MAX_RETRY_AFTER (MaxRetryAfter)", cfg.MaxRetryAfter},
		{"AIRBYTE_BREAKER_OPEN_TIMEOUT (BreakerOpenTimeout)", cfg.BreakerOpenTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %s is negative", d.name, d.v))
		}
	}
	if cfg.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("AIRBYTE_MAX_ATTEMPTS (MaxAttempts): %d is below 1", cfg.MaxAttempts))
	}
	if cfg.BackoffBase < 0 || cfg.BackoffMax < cfg.BackoffBase {
		errs = append(errs, fmt.Errorf("AIRBYTE_BACKOFF_BASE %s, AIRBYTE_BACKOFF_MAX %s (BackoffBase, BackoffMax): need 0 <= base <= max", cfg.BackoffBase, cfg.BackoffMax))
	}
	if cfg.MaxInFlight != -1 && cfg.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("MaxInFlight %d: must be at least 1, or -1 to disable", cfg.MaxInFlight))
	}
	if cfg.ConfigAPIMaxInFlight != -1 && cfg.ConfigAPIMaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("ConfigAPIMaxInFlight %d: must be at least 1, or -1 to disable", cfg.ConfigAPIMaxInFlight))
	}
	if cfg.RateLimit != -1 && cfg.RateLimit <= 0 {
		errs = append(errs, fmt.Errorf("RateLimit %g: must be positive, or -1 to disable", cfg.RateLimit))
	}
	if cfg.RateBurst < 1 {
		errs = append(errs, fmt.Errorf("RateBurst %d: must be at least 1", cfg.RateBurst))
	}
	if cfg.BreakerFailures != -1 && cfg.BreakerFailures < 1 {
		errs = append(errs, fmt.Errorf("AIRBYTE_BREAKER_FAILURES (BreakerFailures): %d is below 1 (-1 disables the breaker)", cfg.BreakerFailures))
	}
	if cfg.BreakerHalfOpenRequests < 1 {
		errs = append(errs, fmt.Errorf("AIRBYTE_BREAKER_HALF_OPEN_REQUESTS (BreakerHalfOpenRequests): %d is below 1", cfg.BreakerHalfOpenRequests))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("airbyte: invalid config: %w", err)
	}
	return nil
}

// MarshalLogObject implements zapcore.ObjectMarshaler. It logs the settings
// that matter for operations and only whether credentials are set.
func (cfg Config) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	cfg = cfg.withDefaults()
	enc.AddString("base_url", cfg.BaseURL)
	enc.AddString("config_api_url", cfg.ConfigAPIURL)
	enc.AddBool("client_id_set", cfg.ClientID != "")
	enc.AddBool("client_secret_set", !cfg.ClientSecret.IsZero())
	enc.AddDuration("timeout", cfg.Timeout)
	enc.AddDuration("discover_timeout", cfg.DiscoverTimeout)
	enc.AddInt("max_attempts", cfg.MaxAttempts)
	enc.AddInt("max_in_flight", cfg.MaxInFlight)
	enc.AddInt("config_api_max_in_flight", cfg.ConfigAPIMaxInFlight)
	enc.AddFloat64("rate_limit", cfg.RateLimit)
	enc.AddInt("rate_burst", cfg.RateBurst)
	enc.AddInt("breaker_failures", cfg.BreakerFailures)
	enc.AddDuration("breaker_open_timeout", cfg.BreakerOpenTimeout)
	return nil
}

// Option configures a [Client] beyond its [Config].
type Option func(*Client)

// WithLogger makes the client log each HTTP attempt (method, path, status,
// duration, attempt) at debug level and retries and breaker changes at info
// and warn. Default: zap.NewNop().
func WithLogger(l *zap.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l.Named("airbyte")
		}
	}
}

// WithObserver registers o to receive every attempt, call and breaker state
// change. See [Observer].
func WithObserver(o Observer) Option {
	return func(c *Client) {
		if o != nil {
			c.obs = o
		}
	}
}
