// Package observer is AAM's schema observer: it discovers the source of
// every ACTIVE connection on a schedule (OBSERVER_INTERVAL, default 15 min)
// and on demand, compares what the source offers now with the connection's
// current catalog version, and reports each distinct drift once as
// io.aam.drift.detected.v1 {connection_id, catalog_version, breaking, diff}.
// By policy it heals non-breaking drift with a repair request.
//
// # Discovering without side effects
//
// The observer calls the configuration API's sources/discover_schema with
// disable_cache true and without a connectionId. With a connectionId Airbyte
// would diff on its side and persist the outcome: set the connection's
// breakingChange flag and, for a breaking change (or any change under the
// "disable" preference), make the connection inactive. Without it the call
// only reads, and the observer diffs by itself. Airbyte's own automatic
// discover runs at most once per 24 hours on OSS; the observer's schedule is
// its own.
//
// # The diff
//
// Diff follows Airbyte's rules (CatalogDiffHelpers): streams added or
// removed over the whole catalog; field additions, removals and type changes
// and primary key changes for the configured streams only. Breaking: a
// removed cursor field of an incremental stream, a removed primary key field
// of a deduplicated stream, a changed source primary key of a deduplicated
// stream. New streams are measured against the streams the source offered
// when the catalog version was made: Airbyte's cached catalog when it is
// still the version's source catalog, otherwise the first discover the
// observer makes for the version (streams added before that are not
// reported as added).
//
// # Once per drift
//
// A drift is identified by the connection, its catalog version and the hash
// of the discovered stream definitions. It is recorded in schema_drifts, and
// its fact (with an id derived from that identity) queued in the outbox, in
// one transaction holding the connection's row lock; the same drift found
// again, by this observer or another, is not reported again. A source that
// drifts further yields a new drift.
//
// # Deciding by policy
//
// With OBSERVER_HEAL=policy (the default of the environment; a zero Config
// is off) the diff is classified (package drift) and the connection's drift
// policy, its latest version in drift_policies or the default policy
// (version 0), decides: propagate publishes a repair request as healing
// does, its reason naming the drift, the policy version and the rule;
// pause sets the connection PAUSED and queues io.aam.connection.paused.v1
// in the drift's transaction, then makes the Airbyte connection inactive
// (a check of a PAUSED connection finishes a pause that did not reach
// Airbyte); require_approval queues io.aam.drift.approval_requested.v1.
// The decision and its provenance are stored with the drift and carried by
// drift.detected; a drift found again keeps its first decision.
//
// # Healing
//
// With OBSERVER_HEAL=non_breaking a non-breaking drift that changes the
// connection's catalog is also answered with an
// io.aam.connection.repair.requested.v1 request (reason "schema drift: …")
// for the repair worker, its id recorded with the drift and derived from
// it, published until JetStream acknowledges it (the repair worker's inbox
// makes a second copy harmless): the configured streams with their new definitions
// (new fields flow in), streams the source no longer offers dropped, and
// with OBSERVER_PROPAGATE=fully the streams the source added selected with
// their default configuration. A breaking drift is only reported: a person
// decides (Airbyte pauses such a connection for the same reason).
//
// # Several observers
//
// A scheduled check first claims the connection in schema_observations; a
// connection checked by any observer within half an interval is skipped.
// On-demand checks (NATS request/reply on OBSERVER_CHECK_SUBJECT, body
// {"connection_id": "…"} or {} for every ACTIVE connection) always
// discover.
package observer
