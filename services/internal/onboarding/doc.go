// Package onboarding is the onboard worker: it consumes
// io.aam.connection.onboard.requested.v1 requests from
// aam.requests.connection.onboard (durable consumer "onboarding") and
// onboards a source connection the way the seed's orchestrator did:
//
//  0. register: a PENDING row in the registry's connections table, with an
//     id derived from the request (ConnectionID), so that every delivery of
//     one request works on the same row;
//  1. credentials: the source's credentials from the credential broker
//     (never stored, never logged);
//  2. source_definition: the workspace's source definition for the
//     request's source_type (case-insensitive name match);
//  3. create_source: the Airbyte source, named deterministically
//     (ObjectName);
//  4. discover: a fresh discover of the source's catalog (configuration
//     API, disable_cache true, no connectionId);
//  5. create_connection: the Airbyte connection to the request's
//     destination (or AIRBYTE_DESTINATION_ID) with the requested streams,
//     or the connector's suggested ones, and its stored syncCatalog;
//  6. activate: in one transaction, catalog version 1, status ACTIVE, the
//     request's inbox entry and the io.aam.connection.onboarded.v1 fact.
//
// # Crash safety
//
// Each step's result (ids, never credentials) is checkpointed in the
// connection's row, and a redelivered request resumes after the last
// checkpoint. Before it creates an Airbyte source or connection the worker
// records that it is about to (onboard_step "create_source:started" or
// "create_connection:started"); a delivery that finds such a mark without
// the object's id looks the object up by its deterministic name before it
// creates it, so a create whose answer was lost is found rather than made
// twice. A process killed at any instant therefore never leaves two Airbyte
// sources or connections for one request.
//
// # Failures
//
// Airbyte's 4xx answers (validation, not found), an unknown source type or
// credential are permanent: the request ends at once. 429 and 5xx answers,
// timeouts, an open circuit breaker and an unavailable broker or registry
// are retried with backoff (Airbyte's Retry-After when it sent one) up to
// MaxDeliver deliveries. Either way the request ends with the connection
// FAILED and one io.aam.connection.onboard_failed.v1 fact naming the step
// and the reason.
package onboarding
