// Package syncer is AAM's sync worker: it consumes sync requests
// (io.aam.connection.sync.requested.v1 on aam.requests.connection.sync),
// starts an Airbyte sync job for the connection, records it in the
// registry's job_history linked to the connection's current catalog
// version, and follows the job to its terminal state. Every request answered
// by a job gets io.aam.sync.started.v1 and then exactly one terminal fact:
// io.aam.sync.succeeded.v1, .failed.v1 (with Airbyte's failure reason from
// the configuration API's jobs/get) or .cancelled.v1, with rows, bytes and
// duration.
//
// # Handling a request
//
//  1. The connection is read and, in the same statement, the request's
//     intent is committed (sync_intents: "request R asks for a sync of
//     connection C, first seen at T") before Airbyte is called. An unknown
//     connection, or one that is not ACTIVE, ends the request with
//     sync.failed and the reason, without any Airbyte call.
//  2. POST /jobs starts the sync. Airbyte's 409 "A sync is already running
//     for: <id>" attaches the request to the running job (sync.started with
//     attached=true) instead of failing it.
//  3. The job is read once more (GET /jobs/{id}). A job that has already
//     ended is recorded with its outcome: sync.started and the terminal fact
//     go out in the same transaction and the job is never followed.
//  4. One transaction locks the connection row, records the job (or finds
//     it recorded), links the request to it (job_requests), marks the
//     request done in the inbox and queues the facts in the outbox. The
//     intent stays (an hour) so that a copy of the request arriving during
//     that commit finds it and waits instead of starting a job. In the usual case (a new job) this is one pipelined round
//     trip and the commit.
//
// Airbyte 5xx, 429, timeouts and an open circuit breaker are retried (after
// Airbyte's Retry-After when it sent one); other 4xx answers end the
// request with sync.failed.
//
// # One job per request
//
// A repeated request id never starts a second job. A request already done
// is acknowledged by the worker runtime without reaching the handler. A
// delivery that may follow an earlier one that started a job and died
// before step 4 does not call POST /jobs at once: it asks Airbyte for the
// connection's sync jobs created since the request was first seen, less
// SYNC_CLOCK_SKEW (GET /jobs?connectionId=…&createdAtStart=…&orderBy=
// createdAt|ASC), and answers the request with the first of them that no
// other request had recorded before the request was first seen. Only when
// there is none does it start one. The rule: the first sync of the
// connection that Airbyte created after the request was first seen answers
// the request. A job started in that window for another request answers it
// too, which is what the requester asked for: a sync of the connection
// since the request.
//
// A copy of the request in another message (published again after
// JetStream's two-minute duplicate window) that arrives while the first
// copy is still being handled, i.e. within SYNC_HANDLER_TIMEOUT of the
// intent, is put off until that delivery has ended; the worker runtime then
// finds the request done.
//
// "First seen" is the intent's time when the intent was recorded by an
// earlier delivery. The intent is committed without waiting for the WAL
// flush (it costs no fsync on the hot path), so a database crash right
// after it may lose it; a redelivered message (JetStream's delivery count
// above one) without an intent therefore counts from the request's arrival
// in the stream, which precedes every delivery.
//
// # Following
//
// Following lives in the registry, not in a goroutine: job_history holds the
// next check (next_check_at) and the follow deadline (follow_deadline).
// Followers of every process claim due jobs with FOR UPDATE SKIP LOCKED and
// a lease, so several instances share the work without overlap and a
// restarted process carries on where the last one stopped. A new job is
// first checked SYNC_POLL_INTERVAL after it started (the process's follower
// is woken for it); a long job is polled at about a tenth of its age, up to
// SYNC_MAX_POLL_INTERVAL. A job still running at SYNC_FOLLOW_TIMEOUT is
// cancelled in Airbyte (DELETE /jobs/{id}; 200 or 409 "not running" are
// both accepted) and reported cancelled with the reason.
//
// Whoever records a job's end (a follower, or a request that saw it end)
// does so under the connection's and the job's row locks and emits the
// terminal fact for every request the job answers. Fact ids derive from the
// request and the fact type, so a request never gets two facts of a type.
package syncer
