package airbyte

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/sony/gobreaker/v2"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// maxResponseBytes bounds a response body; a large Salesforce catalog is a
// few megabytes.
const maxResponseBytes = 64 << 20

// Client calls the Airbyte public and configuration APIs. It is safe for
// concurrent use; share one Client per Airbyte so that all calls share its
// token, admission control and circuit breakers.
type Client struct {
	cfg      Config
	http     *http.Client
	log      *zap.Logger
	obs      Observer
	limiter  *rate.Limiter                                    // nil: no rate limit
	breakers map[string]*gobreaker.TwoStepCircuitBreaker[any] // by origin; nil map: disabled
	tokens   *tokenSource                                     // nil: no credentials

	// Admission control of each API; nil: no in-flight bound.
	publicAdmission, configAdmission *admission

	// sleep waits between attempts and job polls; now is the token clock.
	// Tests replace both.
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
}

// New returns a Client for cfg. It does not contact Airbyte; the first call
// fetches the access token.
func New(cfg Config, opts ...Option) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Client{
		cfg:   cfg,
		http:  cfg.HTTPClient,
		log:   zap.NewNop(),
		obs:   ObserverFuncs{},
		sleep: sleepContext,
		now:   time.Now,
	}
	for _, opt := range opts {
		opt(c)
	}
	if c.http == nil {
		var rt http.RoundTripper = http.DefaultTransport
		if t, ok := rt.(*http.Transport); ok {
			t = t.Clone() // own connection pool
			// Workers call Airbyte from many goroutines at once: keep their
			// connections instead of the default two idle per host.
			t.MaxIdleConns = 256
			t.MaxIdleConnsPerHost = 128
			rt = t
		}
		c.http = &http.Client{Transport: rt}
	}
	if cfg.RateLimit > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), cfg.RateBurst)
	}
	if cfg.MaxInFlight > 0 {
		c.publicAdmission = newAdmission(APIPublic, cfg.MaxInFlight, cfg.BackoffBase)
	}
	if cfg.ConfigAPIMaxInFlight > 0 {
		c.configAdmission = newAdmission(APIConfig, cfg.ConfigAPIMaxInFlight, cfg.BackoffBase)
	}
	if cfg.BreakerFailures > 0 {
		c.breakers = make(map[string]*gobreaker.TwoStepCircuitBreaker[any])
		for _, base := range []string{cfg.BaseURL, cfg.ConfigAPIURL} {
			o := origin(base)
			if _, ok := c.breakers[o]; !ok {
				c.breakers[o] = c.newBreaker(o)
			}
		}
	}
	if cfg.ClientID != "" {
		c.tokens = &tokenSource{c: c}
	}
	return c, nil
}

// origin returns scheme://host[:port] of a validated base URL.
func origin(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	return u.Scheme + "://" + u.Host
}

var (
	errBreakerFailure  = errors.New("breaker failure")
	errBreakerExcluded = errors.New("breaker excluded")
)

func (c *Client) newBreaker(name string) *gobreaker.TwoStepCircuitBreaker[any] {
	failures := uint32(c.cfg.BreakerFailures)
	return gobreaker.NewTwoStepCircuitBreaker[any](gobreaker.Settings{
		Name:        name,
		MaxRequests: uint32(c.cfg.BreakerHalfOpenRequests),
		Timeout:     c.cfg.BreakerOpenTimeout,
		ReadyToTrip: func(counts gobreaker.Counts) bool {
			return counts.ConsecutiveFailures >= failures
		},
		IsSuccessful: func(err error) bool { return err == nil },
		IsExcluded:   func(err error) bool { return errors.Is(err, errBreakerExcluded) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			ch := BreakerChange{Name: name, From: breakerState(from), To: breakerState(to)}
			log := c.log.Info
			if ch.To == BreakerOpen {
				log = c.log.Warn
			}
			log("airbyte circuit breaker state changed",
				zap.String("breaker", name), zap.String("from", string(ch.From)), zap.String("to", string(ch.To)))
			c.obs.BreakerStateChanged(ch)
		},
	})
}

func breakerState(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateOpen:
		return BreakerOpen
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	default:
		return BreakerClosed
	}
}

// BreakerState returns the state of the circuit breaker of the public API's
// origin (BreakerClosed when breakers are disabled).
func (c *Client) BreakerState() BreakerState {
	if cb := c.breakers[origin(c.cfg.BaseURL)]; cb != nil {
		return breakerState(cb.State())
	}
	return BreakerClosed
}

// request is one logical call.
type request struct {
	api         API
	op          string // spec operationId
	method      string
	path        string // below the API's base URL, starting with "/"
	query       url.Values
	body        []byte
	contentType string
	idempotent  bool
	discover    bool // runs a discover on the server: DiscoverTimeout
	noAuth      bool
	mask        *masker

	url     string   // computed by do
	urlPath string   // computed by do
	prio    Priority // computed by do
}

// attemptResult is what one HTTP attempt produced.
type attemptResult struct {
	status     int
	header     http.Header
	body       []byte
	err        error         // transport error, or why the request was not sent
	notSent    bool          // rejected before sending (rate limiter, admission, breaker)
	retryAfter time.Duration // parsed Retry-After
}

// call marshals in (if not nil) as JSON and runs do.
func (c *Client) call(ctx context.Context, r *request, in, out any) error {
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			// Marshal errors name types, never values.
			return fmt.Errorf("airbyte: %s: encode request: %w", r.op, err)
		}
		r.body = b
		r.contentType = "application/json"
	}
	return c.do(ctx, r, out)
}

// do runs r with auth, retries, admission control and breaker, and decodes
// a 2xx body into out (when out is not nil).
func (c *Client) do(ctx context.Context, r *request, out any) (err error) {
	base := c.cfg.BaseURL
	if r.api == APIConfig {
		base = c.cfg.ConfigAPIURL
	}
	r.prio = priorityOf(r)
	r.url = base + r.path
	if u, perr := url.Parse(r.url); perr == nil {
		r.urlPath = u.Path
	} else {
		r.urlPath = r.path
	}
	if len(r.query) > 0 {
		r.url += "?" + r.query.Encode()
	}

	start := time.Now()
	sent := 0
	defer func() {
		c.obs.CallDone(CallInfo{
			Operation: r.op, API: r.api, Attempts: sent,
			Duration: time.Since(start), Outcome: outcomeOf(0, err), Err: err,
		})
	}()

	bo := &backoff.ExponentialBackOff{
		InitialInterval:     c.cfg.BackoffBase,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         c.cfg.BackoffMax,
	}
	tries := 0
	reauthed := false
	for {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("airbyte: %s %s: %w", r.method, r.urlPath, cerr)
		}
		var token string
		if !r.noAuth && c.tokens != nil {
			if token, err = c.tokens.get(ctx); err != nil {
				return err
			}
		}
		tries++
		res := c.attempt(ctx, r, token, tries)
		if !res.notSent {
			sent++
		}
		if res.err == nil && res.status >= 200 && res.status < 300 {
			return c.decode(r, res, out)
		}
		if res.err == nil && res.status == http.StatusUnauthorized && token != "" && !reauthed {
			// The token expired early or was revoked: fetch a new one and
			// send once more. This attempt does not count.
			reauthed = true
			tries--
			c.tokens.invalidate(token)
			c.log.Info("airbyte access token refused, fetching a new one",
				zap.String("operation", r.op), zap.String("path", r.urlPath))
			continue
		}
		callErr := c.resultError(r, res)
		if !c.shouldRetry(ctx, r, res) || tries >= c.cfg.MaxAttempts {
			return callErr
		}
		wait := min(bo.NextBackOff(), c.cfg.BackoffMax)
		if res.retryAfter > 0 {
			if res.retryAfter > c.cfg.MaxRetryAfter {
				return callErr
			}
			wait = max(wait, res.retryAfter)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return callErr
		}
		c.log.Info("airbyte request failed, retrying",
			zap.String("operation", r.op), zap.String("method", r.method), zap.String("path", r.urlPath),
			zap.Int("status", res.status), zap.Int("attempt", tries), zap.Duration("wait", wait),
			zap.Error(callErr))
		if serr := c.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (while waiting to retry: %w)", callErr, serr)
		}
	}
}

// attempt sends r once.
func (c *Client) attempt(ctx context.Context, r *request, token string, n int) (res attemptResult) {
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			} else {
				err = fmt.Errorf("rate limiter: %w (%w)", context.DeadlineExceeded, err)
			}
			return attemptResult{err: err, notSent: true}
		}
	}
	if adm := c.admissionFor(r.api); adm != nil {
		t, err := adm.acquire(ctx, r.prio)
		if err != nil {
			return attemptResult{err: err, notSent: true}
		}
		defer func() { adm.release(t, admissionSignal(ctx, r, res)) }()
	}
	var done func(error)
	if cb := c.breakerFor(r.api); cb != nil {
		var err error
		if done, err = cb.Allow(); err != nil {
			return attemptResult{err: fmt.Errorf("%w: %w", ErrCircuitOpen, err), notSent: true}
		}
	}

	timeout := c.cfg.Timeout
	if r.discover {
		timeout = c.cfg.DiscoverTimeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	start := time.Now()
	defer func() {
		d := time.Since(start)
		outcome := outcomeOf(res.status, res.err)
		c.obs.RequestDone(RequestInfo{
			Operation: r.op, API: r.api, Method: r.method, Path: r.urlPath, Attempt: n,
			StatusCode: res.status, Duration: d, Outcome: outcome, Err: res.err,
		})
		fields := []zap.Field{
			zap.String("operation", r.op), zap.String("method", r.method), zap.String("path", r.urlPath),
			zap.Int("status", res.status), zap.Duration("duration", d), zap.Int("attempt", n),
		}
		if res.err != nil {
			fields = append(fields, zap.Error(res.err))
		}
		c.log.Debug("airbyte request", fields...)
	}()

	req, err := http.NewRequestWithContext(actx, r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		res.err = err
		res.notSent = true
		if done != nil {
			done(errBreakerExcluded)
		}
		return res
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}

	resp, err := c.http.Do(req)
	if err == nil {
		res.status = resp.StatusCode
		res.header = resp.Header
		res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.now())
		res.body, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
		_ = resp.Body.Close()
		if err == nil && len(res.body) > maxResponseBytes {
			err = fmt.Errorf("%w: body larger than %d bytes", ErrInvalidResponse, maxResponseBytes)
		}
		if err != nil {
			res.status = 0
		}
	}
	res.err = err

	if done != nil {
		switch {
		case err != nil && ctx.Err() != nil:
			done(errBreakerExcluded) // the caller gave up; says nothing about Airbyte
		case err != nil && errors.Is(err, ErrInvalidResponse):
			done(nil)
		case err != nil, res.status >= 500:
			done(errBreakerFailure)
		default:
			done(nil)
		}
	}
	return res
}

func (c *Client) admissionFor(api API) *admission {
	if api == APIConfig {
		return c.configAdmission
	}
	return c.publicAdmission
}

// admissionSignal is what an attempt tells admission control about
// Airbyte's load: 429, 503 and 504 answers and attempt timeouts are
// overload (except the timeout of a discover, whose duration is the
// connector's); other answers are latency samples; a caller giving up, a
// request not sent and a failed connection say nothing.
func admissionSignal(ctx context.Context, r *request, res attemptResult) signal {
	switch {
	case res.notSent || ctx.Err() != nil:
		return signalIgnore
	case res.err != nil:
		var ne net.Error
		timeout := errors.Is(res.err, context.DeadlineExceeded) || (errors.As(res.err, &ne) && ne.Timeout())
		if timeout && r.prio != PriorityBulk {
			return signalDrop
		}
		return signalIgnore
	}
	switch res.status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return signalDrop
	}
	if res.status >= 500 {
		return signalIgnore
	}
	return signalOK
}

func (c *Client) breakerFor(api API) *gobreaker.TwoStepCircuitBreaker[any] {
	if c.breakers == nil {
		return nil
	}
	base := c.cfg.BaseURL
	if api == APIConfig {
		base = c.cfg.ConfigAPIURL
	}
	return c.breakers[origin(base)]
}

// shouldRetry applies the retry rule of the package doc.
func (c *Client) shouldRetry(ctx context.Context, r *request, res attemptResult) bool {
	if ctx.Err() != nil {
		return false
	}
	if res.err != nil {
		if res.notSent || errors.Is(res.err, ErrInvalidResponse) {
			return false // rate wait or admission beyond deadline, breaker open: fail fast
		}
		return r.idempotent || isDialError(res.err)
	}
	if r.idempotent {
		switch res.status {
		case http.StatusRequestTimeout, http.StatusTooManyRequests,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		case http.StatusInternalServerError:
			// A 500 from a discover is the connector failing; running the
			// discover again takes minutes and fails the same way.
			return !r.discover
		}
		return false
	}
	// Not idempotent: only answers that prove the request was not acted on.
	return res.status == http.StatusTooManyRequests || res.status == http.StatusServiceUnavailable
}

// isDialError reports a failure to open the connection: nothing was sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect")
}

// resultError turns a failed attempt into the call's error.
func (c *Client) resultError(r *request, res attemptResult) error {
	if res.err != nil {
		return fmt.Errorf("airbyte: %s %s: %w", r.method, r.urlPath, res.err)
	}
	return parseAPIError(r, res.status, res.header, res.body, res.retryAfter, r.mask)
}

// decode reads a 2xx body into out.
func (c *Client) decode(r *request, res attemptResult, out any) error {
	if out == nil || len(bytes.TrimSpace(res.body)) == 0 {
		if out != nil && res.status != http.StatusNoContent {
			return fmt.Errorf("airbyte: %s %s: %w: empty body", r.method, r.urlPath, ErrInvalidResponse)
		}
		return nil
	}
	if err := json.Unmarshal(res.body, out); err != nil {
		// json errors name types and offsets, never values.
		return fmt.Errorf("airbyte: %s %s: %w: %w", r.method, r.urlPath, ErrInvalidResponse, err)
	}
	return nil
}

// parseRetryAfter reads delay-seconds or an HTTP-date; 0 when absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// outcomeOf classifies an attempt (status > 0) or a call (status 0, err).
func outcomeOf(status int, err error) Outcome {
	if err == nil {
		switch {
		case status == 0 || status < 300:
			return OutcomeSuccess
		case status == http.StatusTooManyRequests:
			return OutcomeRateLimited
		case status >= 500:
			return OutcomeServerError
		default:
			return OutcomeClientError
		}
	}
	if e, ok := AsAPIError(err); ok {
		return outcomeOf(e.StatusCode, nil)
	}
	switch {
	case errors.Is(err, ErrBusy):
		return OutcomeBusy
	case errors.Is(err, ErrCircuitOpen):
		return OutcomeCircuitOpen
	case errors.Is(err, ErrInvalidResponse):
		return OutcomeInvalid
	case errors.Is(err, context.Canceled):
		return OutcomeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return OutcomeTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return OutcomeTimeout
	}
	return OutcomeTransport
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
