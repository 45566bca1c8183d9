// Package registry is AAM's connector registry on PostgreSQL (pgx/v5):
// connections, their immutable sync catalog versions, job history, the inbox
// of processed requests, the outbox of events to publish, and the encrypted
// credentials of the credential broker.
//
// Data access follows the sqlc shape: Queries runs one statement per method
// against a DBTX (a pool, a connection or a transaction) and holds nothing
// else, and Store adds transactions. Every statement the roles run is here,
// the outbox relay's too (its leader lock, its bound on running
// transactions). Errors from pgx are translated at this edge into the
// registry's own (ErrNotFound, ErrConflict, ...), so callers never see
// driver errors.
//
// Effects once: a worker records the request it processed in the inbox in
// the same transaction as the registry change and the outbox events that
// announce it. A redelivered request finds its inbox row and does nothing;
// the outbox relay (package outbox) publishes each event with Nats-Msg-Id =
// event id. Writers that emit events about a connection hold that
// connection's row lock (ConnectionGetForUpdate) so that the relay, which
// publishes in outbox order, keeps each connection's events in order.
//
// Outbox rows arrive encoded (OutboxRow: subject, headers, body and the
// keys that order them): package outbox encodes CloudEvents into them, and
// the registry depends on neither NATS, CloudEvents nor the event catalog.
package registry
