package airbyte

import "time"

// API names the Airbyte API a request goes to.
type API string

// The two Airbyte APIs.
const (
	APIPublic API = "public" // /api/public/v1
	APIConfig API = "config" // /api/v1
)

// Outcome classifies how an attempt or a call ended, as a low-cardinality
// label for metrics.
type Outcome string

// Outcomes.
const (
	OutcomeSuccess     Outcome = "success"      // 2xx
	OutcomeClientError Outcome = "client_error" // 4xx other than 429
	OutcomeRateLimited Outcome = "rate_limited" // 429
	OutcomeServerError Outcome = "server_error" // 5xx
	OutcomeTimeout     Outcome = "timeout"      // attempt or caller deadline
	OutcomeTransport   Outcome = "transport"    // connection refused, reset, TLS, ...
	OutcomeCircuitOpen Outcome = "circuit_open" // rejected by the circuit breaker
	OutcomeBusy        Outcome = "busy"         // not admitted before its deadline (ErrBusy)
	OutcomeCanceled    Outcome = "canceled"     // caller's context cancelled
	OutcomeInvalid     Outcome = "invalid"      // undecodable 2xx body, bad token answer
)

// BreakerState is the state of a circuit breaker.
type BreakerState string

// Breaker states. For a gauge, Value maps them to 0, 1 and 2.
const (
	BreakerClosed   BreakerState = "closed"
	BreakerHalfOpen BreakerState = "half-open"
	BreakerOpen     BreakerState = "open"
)

// Value returns 0 for closed, 1 for half-open and 2 for open.
func (s BreakerState) Value() float64 {
	switch s {
	case BreakerHalfOpen:
		return 1
	case BreakerOpen:
		return 2
	default:
		return 0
	}
}

// RequestInfo describes one HTTP attempt.
type RequestInfo struct {
	// Operation is the operationId of the call in Airbyte's OpenAPI spec,
	// e.g. "createSource", "getJob", "discoverSchemaForSource".
	Operation string
	API       API
	Method    string
	// Path is the request URL's path without the query; it contains ids,
	// so prefer Operation as a metric label.
	Path       string
	Attempt    int // 1-based
	StatusCode int // 0 when no response arrived
	Duration   time.Duration
	Outcome    Outcome
	Err        error // nil on 2xx
}

// CallInfo describes one client call with all its attempts.
type CallInfo struct {
	Operation string
	API       API
	Attempts  int // HTTP attempts sent; 0 when none (breaker open, not admitted, rate wait)
	Duration  time.Duration
	Outcome   Outcome
	Err       error
}

// BreakerChange describes a circuit breaker state transition.
type BreakerChange struct {
	// Name is the breaker's Airbyte origin, scheme://host[:port].
	Name string
	From BreakerState
	To   BreakerState
}

// Observer receives the client's telemetry. Its methods are called
// synchronously from the calling goroutine (BreakerStateChanged with the
// breaker's lock held), so they must be fast and must not call the Client.
type Observer interface {
	RequestDone(RequestInfo)
	CallDone(CallInfo)
	BreakerStateChanged(BreakerChange)
}

// ObserverFuncs adapts functions to [Observer]; nil fields are skipped.
type ObserverFuncs struct {
	Request func(RequestInfo)
	Call    func(CallInfo)
	Breaker func(BreakerChange)
}

var _ Observer = ObserverFuncs{}

// RequestDone implements Observer.
func (o ObserverFuncs) RequestDone(i RequestInfo) {
	if o.Request != nil {
		o.Request(i)
	}
}

// CallDone implements Observer.
func (o ObserverFuncs) CallDone(i CallInfo) {
	if o.Call != nil {
		o.Call(i)
	}
}

// BreakerStateChanged implements Observer.
func (o ObserverFuncs) BreakerStateChanged(c BreakerChange) {
	if o.Breaker != nil {
		o.Breaker(c)
	}
}
