// Package emulator is an in-memory, stateful stand-in for an Airbyte OSS server,
// faithful to Airbyte's OpenAPI documents and to the behaviour recorded in the
// project's Airbyte reference. It backs the tests of pkg/airbyte and the workers,
// `aam dev`, and `aam emulator` (services/airbyte-emulator serves it alone).
//
// # What it serves
//
// The public API under /api/public/v1: POST /applications/token (JSON or form
// bodies), workspaces, source definitions, connector_definitions, sources
// (create/get/list/patch/put/delete), destinations (get/list), GET /streams,
// connections (create/get/list/patch/delete) and jobs (create/get/list/cancel).
// The Configuration API under /api/v1 (all POST): applications/token,
// sources/discover_schema, sources/create, sources/get,
// source_definitions/list_for_workspace, connections/get, connections/update,
// connections/sync, connections/reset, connections/status, jobs/get, jobs/list,
// jobs/list_for_workspaces (light jobs, several statuses) and jobs/cancel.
//
// Wire details follow Airbyte: creates answer 200 and deletes 204; lists are
// {previous, next, data} with next set whenever the page is non-empty; errors are
// problem bodies (application/json) with the message in data.message on the public
// API and {message, errorId} bodies on the Configuration API; public timestamps
// are epoch seconds on resources and Java-style ISO strings on jobs
// ("2025-09-16T20:13Z" when the seconds are zero), durations are ISO-8601;
// Configuration API timestamps are epoch seconds, FailureReason.timestamp epoch ms.
//
// Every route except the token endpoints needs `Authorization: Bearer <token>`;
// tokens are JWT-shaped and expire after Config.TokenTTL (900 s by default).
//
// # The pre-seeded world
//
// One workspace (Config.WorkspaceID, default DefaultWorkspaceID), one Postgres
// destination (Config.DestinationID, default DefaultDestinationID) and the
// Salesforce source definition (SalesforceDefinitionID) with a realistic org:
// Account, Contact, Lead, Opportunity, OpportunityStage, Stage, Task and User
// (suggested), plus Campaign, Case, AccountHistory and LoginHistory. Each source
// owns an upstream schema that the emulated connector discovers; tests change it
// to produce drift.
//
// # Jobs
//
// A job is pending for Config.JobPending, then each attempt runs for
// Config.JobRunning; a failed attempt leaves the job incomplete for
// Config.JobRetryDelay before the next one, and the job fails after
// Config.MaxAttempts. States are computed from the job's own timeline on the
// injected Clock whenever a job is read, so results do not depend on polling;
// with zero durations a job is created pending and is succeeded the first time it
// is read. Each sync attempt starts with Airbyte's pre-sync schema check
// (discover at most once per source and Config.DiscoverWindow, diff, breaking
// flag, auto-disable, auto-propagation by preference); a connection left inactive
// cancels the job.
//
// Airbyte keeps its job history in its database; the emulator keeps a bounded
// window of it: every non-terminal job, and the newest Config.JobRetention
// (default DefaultJobRetention, 100; negative: all) terminal jobs of each
// connection. An older job is forgotten and answers like an id that never existed
// (public GET and DELETE /jobs/{id}: 409 "Job is not currently running";
// Configuration API jobs/get and jobs/cancel: 404); job lists and Jobs show the
// window, and connections/status still reports the last successful sync.
//
// # Capacity
//
// As Airbyte's API server, the emulator serves the public API on a fixed pool of
// Config.PublicAPIThreads threads (the token endpoint included) and the
// Configuration API on its own pool of Config.ConfigAPIThreads; a call beyond a
// pool waits in arrival order, and a slow call (an uncached discover, a
// connection create that discovers) holds its thread throughout. With
// Config.QueueLimit, a call that finds the queue full is answered 429. At most
// Config.MaxSyncWorkers jobs run at once; a job due to run waits, pending (queued
// with Config.JobQueued), until a worker frees, first come first served.
// DefaultConfig has Airbyte's defaults (5, 100, 10); the zero Config bounds
// nothing. Injected faults act in front of the pools.
//
// # Durable state
//
// Open with Config.DataDir keeps the state in that folder: each call's changes
// are appended to a checksummed log before it is answered, and compacted into a
// snapshot written to a temporary file and renamed; a torn or corrupt log line
// ends the replay there. A restarted emulator carries on with the same sources,
// connections, catalogs, schemas, jobs and ids; jobs are advanced from their
// timelines, so one running at the stop ends as it would have. Stop (called by
// Serve at its end) writes a final snapshot.
//
// # Test and demo controls
//
// Under /_emulator (no authentication), and as methods on *Emulator:
//
//	POST   /_emulator/sources/{sourceId}/schema   MutateSchema: {"op":"add_field","stream":"Account","field":"Region__c"}
//	                                              or {"ops":[...]}; ops add_stream, remove_stream, add_field,
//	                                              remove_field, change_type, change_primary_key
//	GET    /_emulator/sources/{sourceId}/schema   the upstream schema
//	POST   /_emulator/faults                      SetFaults: {"path","latency" (ms),"error_rate","status"
//	                                              (500|502|503|504),"rate_limit_rate","retry_after" (s),
//	                                              "timeout_rate","fail_next_jobs","fail_attempts",
//	                                              "fail_type","fail_origin","fail_next_discovers"};
//	                                              fail_type/fail_origin are the failureType/failureOrigin
//	                                              of the failed attempts (config_error from the source:
//	                                              revoked credentials)
//	GET    /_emulator/faults, DELETE /_emulator/faults
//	POST   /_emulator/tokens/expire               ExpireTokens
//	POST   /_emulator/connections/{id}/status     SetConnectionStatus: {"status":"locked","reason":"..."}
//	POST   /_emulator/connections/{id}/volume     SetStreamVolume: {"stream":"Account","kind":"drop"|"spike"|
//	                                              "zero"|"steady","factor":0.1,"jobs":N}: the stream's
//	                                              records and bytes in the next N jobs (0: until steady)
//	POST   /_emulator/clock/advance               {"seconds":N}, only with a ManualClock
//	GET    /_emulator/capacity                    Capacity: pools, sync workers, per-endpoint calls and
//	                                              high-water marks of calls in flight
//	DELETE /_emulator/capacity                    ResetCapacity
//	GET    /_emulator/metrics                     the same counters as Prometheus metrics (Collector)
//	GET    /_emulator/state                       sources, connections, job counts (retained, pruned), faults,
//	                                              live tokens
//	POST   /_emulator/reset                       Reset
//
// A succeeded sync attempt reports per-stream records and bytes (streamStats,
// and streamAggregatedStats on the job) as Airbyte does: each stream has its own
// usual volume, varying by up to 10 % from job to job.
//
// Go-only: FailNextJobs, FailNextJobsWith, RegisterSourceDefinition, Sources, Connections and Jobs
// (snapshots for assertions, the caller's to change; Jobs lists the retained job
// history).
//
// # Determinism and concurrency
//
// Config.Seed seeds the generator of every UUID and of fault decisions;
// Config.Clock (a ManualClock in tests) drives every timestamp. The emulator is
// safe for concurrent use: one mutex guards the state and is never held while a
// request sleeps (latency faults, discover latency); job look-ups are by id and
// per-connection indexes, not scans.
//
// # Memory
//
// `aam dev` runs thousands of connections and tens of thousands of jobs in one
// process, so the state stores shared data once. Streams are immutable once
// stored: every source created from a definition shares the definition's upstream
// schema until MutateSchema gives that source its own copy of the streams it
// changes (copy on write); identical discovered catalogs are one actor catalog
// (content hash); connection catalogs reference the discovered streams and keep
// only their per-stream configuration; jobs share their connection's stream names,
// and attempts keep their state and times only (stats and failure reasons are
// computed when read). Responses are serialised straight from the shared values;
// Sources and Connections return deep copies. An onboarded Salesforce connection
// costs about 3 KB and a job about 250 B (BenchmarkMemory).
package emulator
