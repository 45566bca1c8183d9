// Package airbyte is AAM's client for the Airbyte API: the public API
// (/api/public/v1, REST) for sources, destinations, connections, streams and
// jobs, and the configuration API (/api/v1, RPC) where the public API falls
// short: schema discovery with catalog diffs, a connection's full sync
// catalog, and job attempts with their failure reasons.
//
// Workers talk to Airbyte only through this package:
//
//	c, err := airbyte.New(airbyte.Config{
//		BaseURL:      "http://localhost:8000/api/public/v1",
//		ClientID:     id,
//		ClientSecret: airbyte.NewSecret(secret),
//	}, airbyte.WithLogger(logger))
//	if err != nil { ... }
//	def, err := c.FindSourceDefinition(ctx, workspaceID, "Salesforce")
//	src, err := c.CreateSource(ctx, airbyte.SourceCreateRequest{...})
//	disc, err := c.ConfigAPI().DiscoverSchema(ctx, airbyte.DiscoverSchemaRequest{SourceID: src.SourceID})
//
// # Authentication
//
// The client obtains an access token with the application's client
// credentials (POST /applications/token, form-encoded as Airbyte's own SDKs
// send it), caches it, and fetches a new one ahead of expiry: 60 s or 10% of
// expires_in before it lapses, whichever is smaller. Concurrent calls share
// one token request. A 401 drops the token; the call fetches a new one and is
// sent once more, never in a loop.
//
// # Admission control
//
// Airbyte, not its client, is the scarce resource: Airbyte OSS serves its
// whole public API, token requests included, from a fixed pool of 5 threads
// and queues what exceeds it, and a discover or a connection create holds
// its thread for its whole duration. So the client bounds the calls it has
// in flight to each API ([Config].MaxInFlight, 4 by default, and
// [Config].ConfigAPIMaxInFlight) rather than their rate, and adapts the
// bound to what Airbyte shows: a 429, 503 or 504 answer or an attempt
// timeout halves the limit, latency well above its usual level lowers it by
// 10%, and answers raise it back by about one call per round of calls, up to
// the configured bound (an AIMD window with a latency gradient, as in
// Netflix's concurrency-limits). One overload lowers the limit once, however
// many calls in flight report it.
//
// Calls beyond the limit wait for a slot, by [Priority]: token requests,
// then job reads and cancels, then the other calls, then discovers and
// creates of sources and connections; first come, first served within a
// priority. So following jobs never waits behind a wave of onboardings for
// more than the first slot to free. A call whose expected wait outlasts its
// context's deadline, or whose deadline passes while it waits, is not sent:
// it fails with a [*BusyError] matching [ErrBusy], retryable, whose
// RetryAfter (see [RetryAfter]) is the estimated wait; workers put the
// message back with that delay. [Client.AdmissionStats] reports the limits,
// the calls in flight and queued, and the refusals. A call that finds a
// free slot pays a mutex and no allocation.
//
// # Retries, idempotency and the circuit breaker
//
// Every HTTP attempt waits for the optional rate limiter ([Config].RateLimit,
// golang.org/x/time/rate), takes a slot under admission control and passes
// a circuit breaker (sony/gobreaker) kept per Airbyte origin
// (scheme://host); 5xx answers, attempt timeouts and connection errors count
// as failures, 4xx answers do not. While the breaker is open calls fail at
// once with an error matching [ErrCircuitOpen].
//
// Failed attempts are retried with exponential backoff and jitter, at most
// [Config].MaxAttempts times in all, honouring Retry-After (seconds or an HTTP
// date) when the server sends one:
//
//   - Idempotent calls (GET, DELETE, PATCH, and the configuration API's
//     reads, discover and connections/update, which converge when repeated)
//     are retried on 408, 429, 500, 502, 503, 504, attempt timeouts and
//     connection errors; except that a 500 from a call that runs a discover
//     is the connector failing and is returned at once.
//   - Creates (POST /sources, /connections, /jobs) are retried
//     only when the failure proves Airbyte did not act on the request: the
//     connection could not be opened, or the answer was 429 (Airbyte's load
//     shedding rejects before any work) or 503. After a timeout, a reset
//     connection or a 502/504 the request may have been carried out, so the
//     error is returned; callers make creates idempotent with deterministic
//     names and a look-up before they create again ([Client.FindSourceByName],
//     [Client.FindConnectionByName], [Client.StartSyncOrGetRunning]).
//
// # Errors
//
// Every non-2xx answer becomes an [*APIError] carrying the status, the
// problem's type and title and the server's message, from either the public
// API's problem body (data.message or detail) or the configuration API's
// {"message", "errorId"} body. Helpers classify it: [IsNotFound],
// [IsConflict], [IsSyncRunning], [IsJobNotFound], [IsValidation], [IsAuth],
// [IsRetryable] and [RetryAfter]. [Classify] turns any error of a call into
// one [Verdict]: retry, retry after a delay, or permanent, with a [Reason];
// it is the one mapping AAM's workers follow, and it documents the decision
// on 401 and 403 (retried). Errors never contain request bodies,
// tokens or secrets; values of a request's connector configuration are
// masked if the server echoes them.
//
// # Timeouts
//
// Each HTTP attempt runs under [Config].Timeout, or [Config].DiscoverTimeout
// for the calls that make Airbyte run a discover (discover_schema, GET
// /streams, connection create and patch), or the caller's deadline when that
// is sooner. The caller's context bounds the whole call including retries.
//
// # Observability
//
// [WithLogger] logs each attempt's method, path, status, duration and attempt
// number (never bodies, tokens or secrets). [WithObserver] receives every
// attempt, every call and every breaker state change, for metrics such as
// airbyte_call_duration_seconds, airbyte_call_errors_total and
// airbyte_breaker_state, and [Client.AdmissionStats] can be read when
// metrics are scraped; the package itself does not depend on Prometheus.
//
// # Wire details worth knowing
//
// Airbyte sends epoch seconds in most timestamps ([EpochSeconds]), epoch
// milliseconds in failure reasons ([EpochMillis]) and ISO-8601 strings in the
// public job response ([ISOTime], [ISODuration]). Enumerations are string
// types whose unknown values decode without error (see the Known methods), as
// Airbyte adds values such as the job status "queued" over time. JSON Schema
// documents (stream schemas, connector configurations) stay json.RawMessage
// so they round-trip unchanged.
package airbyte
