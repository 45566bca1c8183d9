package airbyte

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Action is what a caller should do after a failed Airbyte call.
type Action int

const (
	// Retry: the same call may succeed later; try again with backoff.
	Retry Action = iota
	// RetryLater: try again after [Verdict.Delay] (Airbyte's Retry-After,
	// or a short wait it implies).
	RetryLater
	// Permanent: the same call will fail the same way; do not retry it.
	Permanent
)

func (a Action) String() string {
	switch a {
	case Retry:
		return "retry"
	case RetryLater:
		return "retry_later"
	case Permanent:
		return "permanent"
	}
	return "unknown"
}

// Reason says why an error was given its [Action].
type Reason string

// Reasons of [Classify].
const (
	// ReasonInvalid: 400 or 422, Airbyte refused the request's content.
	ReasonInvalid Reason = "invalid"
	// ReasonUnauthorized: 401 or 403, or the client credentials refused at
	// the token endpoint.
	ReasonUnauthorized Reason = "unauthorized"
	// ReasonNotFound: 404, or a look-up such as FindSourceByName found
	// nothing.
	ReasonNotFound Reason = "not_found"
	// ReasonSyncRunning: 409 "A sync is already running" to a job start.
	ReasonSyncRunning Reason = "sync_running"
	// ReasonConflict: any other 409 (e.g. a sync of a connection that is
	// not active, a cancel of a job that is not running).
	ReasonConflict Reason = "conflict"
	// ReasonRateLimited: 429.
	ReasonRateLimited Reason = "rate_limited"
	// ReasonUnavailable: 408, 425, or a 5xx other than 501 and 505.
	ReasonUnavailable Reason = "unavailable"
	// ReasonRefused: any other non-2xx answer (405, 410, 413, 501, ...):
	// the call cannot work as it is sent.
	ReasonRefused Reason = "refused"
	// ReasonCircuitOpen: the origin's circuit breaker is open; the request
	// was not sent.
	ReasonCircuitOpen Reason = "circuit_open"
	// ReasonBusy: admission control did not send the call, as its wait for
	// a slot would have outlasted its deadline ([ErrBusy]).
	ReasonBusy Reason = "busy"
	// ReasonTimeout: a deadline passed (the caller's, or an attempt's).
	ReasonTimeout Reason = "timeout"
	// ReasonNetwork: the request or its answer was lost on the way.
	ReasonNetwork Reason = "network"
	// ReasonDiscoverFailed: a discover ran and the connector failed; the
	// connector says whether that is transient.
	ReasonDiscoverFailed Reason = "discover_failed"
	// ReasonInvalidResponse: a 2xx answer that could not be read.
	ReasonInvalidResponse Reason = "invalid_response"
	// ReasonCanceled: the caller's context was cancelled.
	ReasonCanceled Reason = "canceled"
	// ReasonOther: not an Airbyte failure the client recognises.
	ReasonOther Reason = "other"
)

// SyncRunningDelay is how long a caller waits after a 409 "A sync is already
// running" that it could not attach to (the running job ended between the
// 409 and the look-up), unless Airbyte sent a longer Retry-After.
const SyncRunningDelay = time.Second

// Verdict is the classification of an error of an Airbyte call.
type Verdict struct {
	Action Action
	// Delay is the wait before the next try; set for RetryLater only.
	Delay  time.Duration
	Reason Reason
}

func (o Verdict) String() string {
	if o.Action == RetryLater {
		return o.Action.String() + "(" + o.Delay.String() + "): " + string(o.Reason)
	}
	return o.Action.String() + ": " + string(o.Reason)
}

// Classify is the one mapping of an Airbyte call's error to what the caller
// should do; every AAM worker follows it. Sending the same request again is
// retried when it may succeed later, after Airbyte's Retry-After when it
// sent one, and is permanent when it will fail the same way:
//
//	answer or error                 action      reason
//	400, 422                        Permanent   invalid
//	401, 403, refused credentials   Retry       unauthorized (see below)
//	404, a look-up found nothing    Permanent   not_found
//	409 a sync is already running   RetryLater  sync_running (SyncRunningDelay)
//	409 other                       Permanent   conflict
//	429                             Retry       rate_limited
//	408, 425, 5xx                   Retry       unavailable
//	other 4xx, 501, 505             Permanent   refused
//	circuit breaker open            Retry       circuit_open
//	not admitted before deadline    RetryLater  busy (the estimated wait for a slot)
//	a deadline passed               Retry       timeout
//	connection error                Retry       network
//	discover failed, retryable      Retry       discover_failed
//	discover failed, not retryable  Permanent   discover_failed
//	undecodable 2xx answer          Retry       invalid_response
//	context cancelled               Retry       canceled
//	anything else                   Retry       other
//
// A retried answer that carries Retry-After (a 429, a 503, a 401) is
// RetryLater with Airbyte's delay instead.
//
// A 401 or 403 is retried, not permanent: it is Airbyte refusing AAM's own
// client credentials (the client has already fetched a new token once), not
// the request. An operator's fix (a rotated AIRBYTE_CLIENT_SECRET, the
// application granted the workspace) makes the same request succeed, so a
// worker retries it with backoff until its MaxDeliver and then fails it
// with the reason: an outage of the credentials fixed within the
// redelivery window loses no request, and a longer one ends every request
// with the same reason.
//
// Classify(nil) is the zero Verdict.
func Classify(err error) Verdict {
	if err == nil {
		return Verdict{}
	}
	var de *DiscoverError
	switch {
	case errors.Is(err, context.Canceled):
		return Verdict{Action: Retry, Reason: ReasonCanceled}
	case errors.As(err, &de):
		if f := de.JobInfo.FailureReason; f != nil && f.Retryable != nil && *f.Retryable {
			return Verdict{Action: Retry, Reason: ReasonDiscoverFailed}
		}
		return Verdict{Action: Permanent, Reason: ReasonDiscoverFailed}
	case errors.Is(err, ErrCircuitOpen):
		return Verdict{Action: Retry, Reason: ReasonCircuitOpen}
	}
	var be *BusyError
	if errors.As(err, &be) {
		return Verdict{Action: RetryLater, Delay: be.RetryAfter, Reason: ReasonBusy}
	}
	if e, ok := AsAPIError(err); ok {
		return classifyAPIError(e)
	}
	var ne net.Error
	switch {
	case errors.Is(err, ErrNotFound):
		return Verdict{Action: Permanent, Reason: ReasonNotFound}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Verdict{Action: Retry, Reason: ReasonTimeout}
	case errors.As(err, &ne):
		return Verdict{Action: Retry, Reason: ReasonNetwork}
	case errors.Is(err, ErrInvalidResponse):
		return Verdict{Action: Retry, Reason: ReasonInvalidResponse}
	}
	return Verdict{Action: Retry, Reason: ReasonOther}
}

func classifyAPIError(e *APIError) Verdict {
	retry := func(r Reason) Verdict {
		if e.RetryAfter > 0 {
			return Verdict{Action: RetryLater, Delay: e.RetryAfter, Reason: r}
		}
		return Verdict{Action: Retry, Reason: r}
	}
	switch {
	case e.Is(ErrUnauthorized):
		return retry(ReasonUnauthorized)
	case e.StatusCode == http.StatusBadRequest, e.StatusCode == http.StatusUnprocessableEntity:
		return Verdict{Action: Permanent, Reason: ReasonInvalid}
	case e.StatusCode == http.StatusNotFound:
		return Verdict{Action: Permanent, Reason: ReasonNotFound}
	case e.StatusCode == http.StatusConflict && IsSyncRunning(e):
		return Verdict{Action: RetryLater, Delay: max(SyncRunningDelay, e.RetryAfter), Reason: ReasonSyncRunning}
	case e.StatusCode == http.StatusConflict:
		return Verdict{Action: Permanent, Reason: ReasonConflict}
	case e.StatusCode == http.StatusTooManyRequests:
		return retry(ReasonRateLimited)
	case retryableStatus(e.StatusCode):
		return retry(ReasonUnavailable)
	}
	return Verdict{Action: Permanent, Reason: ReasonRefused}
}
