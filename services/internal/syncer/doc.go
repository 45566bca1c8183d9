// Package syncer is AAM's sync worker: it consumes sync requests
// (io.aam.connection.sync.requested.v1 on aam.requests.connection.sync),
// starts an Airbyte sync job for the connection, records it in the
// registry's job_history linked to the connection's current catalog
// version, and follows the job to its terminal state. Every request answered
// by a job gets io.aam.sync.started.v1 and then exactly one terminal fact:
// io.aam.sync.succeeded.v1, .failed.v1 (with Airbyte's failure reason from
// the configuration API's jobs/get, and its class: credentials, source,
// destination, transient, platform or unknown, see failureClass) or
// .cancelled.v1, with rows, bytes and duration.
//
// # Handling a request
//
//  1. The connection is read and, in the same statement, the request's
//     intent is committed (sync_intents: "request R asks for a sync of
//     connection C, first seen at T") before Airbyte is called; the same
//     round trip reads the connection's job the registry holds as pending
//     or running. An unknown connection, or one that is not ACTIVE, ends the
//     request with sync.failed and the reason, without any Airbyte call.
//  2. When the registry holds such a job, the request attaches to it
//     (sync.started with attached=true) without any Airbyte call.
//  3. Otherwise the request takes its turn to start a job (below). The one
//     whose turn it is calls POST /jobs; Airbyte's 409 "A sync is already
//     running for: <id>" (a job AAM did not start) attaches it to the
//     running job instead; its 404 for the Airbyte connection marks the
//     connection ORPHANED (connection.orphaned, once) before the turn is
//     given back, so no waiting request asks Airbyte again, and fails the
//     request with the reason. The job is read once more (GET /jobs/{id}): a
//     job that has already ended is recorded with its outcome, sync.started
//     and the terminal fact go out in the same transaction, and the job is
//     never followed.
//  4. One transaction locks the connection row, records the job (or finds
//     it recorded), links the request to it (job_requests), marks the
//     request done in the inbox, gives the turn back and queues the facts in
//     the outbox. The intent stays (an hour) so that a copy of the request
//     arriving during that commit finds it and waits instead of starting a
//     job. In the usual case (a new job, or an attach) this is one pipelined
//     round trip, the COMMIT included: the link statement checks that its
//     outcome is the one the facts were built for and otherwise aborts the
//     transaction, which is then taken again on the general path.
//
// # Which job answers a request
//
// A request R is first seen at T: its arrival in the request stream (the
// NATS server's clock) plus SYNC_STREAM_CLOCK_SKEW, or when its intent was
// recorded (the database clock), whichever is earlier. A request that
// waited in the stream behind others therefore counts from its arrival,
// not from when a worker took it. R is answered by:
//
//   - the connection's job that the registry records as pending or running
//     when R is handled: R attaches to it. The registry learns that a job
//     ended at the follower's next round, within SYNC_POLL_INTERVAL of the
//     end (more when Airbyte cannot be reached); a request handled in that
//     short window attaches to the job that just ended and gets its outcome;
//   - otherwise, a job whose start AAM claimed at or after T, even if it has
//     ended by the time R looks (it began after R was first seen);
//   - otherwise, a job R starts itself.
//
// So a request handled after the registry recorded the end of the
// connection's last job, whose start was claimed before the request was
// seen, waits for the next job; requests that arrive together share it,
// and so do requests that queued in the stream while it started: under a
// backlog, a connection's requests cost one job per wait, not one each.
//
// The requests of one connection take turns to start a job, across every
// sync process: the turn is a row of sync_starts (one per connection, taken
// with INSERT ... ON CONFLICT, held for SYNC_HANDLER_TIMEOUT at most, and
// given back by making it lapse) and
// the job is looked up again, in a fresh snapshot, once the turn is taken.
// The holder records its job and gives the turn back in one transaction,
// so whoever takes the turn next sees that job and is answered by it rather
// than calling Airbyte. A request seen for the first time tries for the
// turn in the round trip that records its intent, so the request that
// starts a job spends no round trip on its turn. Requests that find the
// turn taken wait: those of
// the holder's own process are woken when it is done, the others look
// again at growing intervals up to 200 ms. A burst of requests for one
// connection thus costs one POST /jobs per job started, however many
// processes share it.
//
// Airbyte 5xx, 429, timeouts and an open circuit breaker are retried (after
// Airbyte's Retry-After when it sent one); other 4xx answers end the
// request with sync.failed.
//
// # A repeated request
//
// A repeated request id never starts a second job. A request already done
// is acknowledged by the worker runtime without reaching the handler. A
// delivery that may follow an earlier one that started a job and died
// before step 4 does not call POST /jobs at once: it asks Airbyte for the
// connection's sync jobs created since the request was first seen, less
// SYNC_CLOCK_SKEW (GET /jobs?connectionId=…&createdAtStart=…&orderBy=
// createdAt|ASC), and answers the request with the first of them that no
// other request had recorded, or claimed the start of, before the request
// was first seen (such a job began for a request seen earlier, however
// close the two are on Airbyte's clock). Only when
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
// is woken for it).
//
// A round costs Airbyte calls in proportion to the jobs that changed, not to
// the jobs followed: each job remembers the instant of Airbyte's own clock
// through which its state is known (airbyte_seen_through, from the times in
// Airbyte's answers), and one list, GET /jobs?workspaceIds=…&jobType=sync&
// updatedAtStart=…&orderBy=updatedAt|DESC in pages of 100, asks for every
// job changed since the oldest of those instants (less a second). A claimed
// job the list shows changed is recorded as listed; one it does not show is
// unchanged and seen through the list's instant. Jobs the list answers for
// are checked again each SYNC_POLL_INTERVAL. Only a job the list cannot
// answer for is read on its own (GET /jobs/{id}): one seen through an
// instant more than SYNC_FOLLOW_WINDOW before the newest (nobody looked at
// it for long, or it was recorded before those instants were kept), or one
// a list cut short (more than ten pages per hundred jobs followed, counted
// in the registry across every follower, not per batch of claimed jobs) did
// not reach; such jobs are polled at about a tenth of their age, up to
// SYNC_MAX_POLL_INTERVAL, until a read puts them back in the window. A
// failed or cancelled job costs one more call, the configuration API's
// jobs/get, for its failure reason; a succeeded one the same call for its
// per-stream stats, kept and judged for volume anomalies (see
// recordSuccess).
//
// A job status this version does not know (a newer Airbyte's) is kept
// verbatim in airbyte_status and followed as running until Airbyte reports
// a status that ends it.
//
// A job still running at SYNC_FOLLOW_TIMEOUT is cancelled in Airbyte
// (DELETE /jobs/{id}; 200 or 409 "not running" are both accepted) and
// reported cancelled with the reason.
//
// Whoever records a job's end (a follower, or a request that saw it end)
// does so under the connection's and the job's row locks and emits the
// terminal fact for every request the job answers. Fact ids derive from the
// request and the fact type, so a request never gets two facts of a type.
package syncer
