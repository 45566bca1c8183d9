package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The sync worker's statements: the intent recorded before Airbyte is asked
// for a job, the transaction that links a request to its job, and the
// follower's bookkeeping. They are shaped for the worker's hot path: each
// call is one round trip (a statement or a pipelined batch).

// SyncIntent is what SyncIntentBegin found and recorded.
type SyncIntent struct {
	// Status, StatusReason, AirbyteConnectionID and CatalogVersion describe
	// the connection.
	Status              ConnectionStatus
	StatusReason        string
	AirbyteConnectionID string
	CatalogVersion      int
	// Recorded reports that the intent row exists: the connection is ACTIVE
	// and has an Airbyte connection.
	Recorded bool
	// RequestedAt is when the request was first seen (database clock): its
	// arrival, when the caller knew it, or else its first handling.
	// HandledAt is when the first delivery recorded the intent, and
	// Deliveries how many times SyncIntentBegin saw it (1 the first time).
	RequestedAt time.Time
	HandledAt   time.Time
	Deliveries  int
	// Outcome is the request's inbox outcome when it already ended (a copy
	// published again after JetStream's duplicate window); no intent is
	// recorded then. It is empty when the request has not ended.
	Outcome InboxOutcome
	// Job, read just after the intent, is the connection's job that
	// answers the request when the registry holds one (see
	// answerJobSQL): the newest recorded as pending or running, or one
	// whose start was claimed at or after RequestedAt. Nil when there is
	// none.
	Job *Job
	// Claimed reports that the request holds the connection's start
	// claim, taken at ClaimedAt (SyncIntentBeginClaim; Job is nil then),
	// as a claim of SyncStartTurn.
	Claimed   bool
	ClaimedAt time.Time
}

// SyncStarts reports whether a sync of a connection in status s may start:
// only an ACTIVE connection syncs. The sync worker refuses a request for a
// connection in any other status (SyncIntentBegin records no intent then),
// and SyncStartTurn never claims the start of one. syncStartsSQL is the
// same test in SQL.
func (s ConnectionStatus) SyncStarts() bool { return s == StatusActive }

// SyncWaits reports whether a request waiting for its turn to start a sync
// of a connection in status s keeps waiting: while the connection is
// ACTIVE, or HEALING (a repair in progress, after which it is ACTIVE
// again). In any other status the sync is refused (see SyncStarts) and the
// request stops waiting.
func (s ConnectionStatus) SyncWaits() bool { return s.SyncStarts() || s == StatusHealing }

// syncStartsSQL is ConnectionStatus.SyncStarts over a connections row.
const syncStartsSQL = `status = '` + string(StatusActive) + `'`

// syncStartsLockedSQL is true when connection $1 SyncStarts, read under a
// share lock of its row, for a statement that claims its start: the claim
// is then ordered with every change of the connection's status (each
// locks the row for update). A status read from the statement's snapshot
// alone could be one a change committed after: a holder that found the
// connection gone from Airbyte marks it ORPHANED, then gives the claim
// back, and a claim taken after that, on the snapshot's ACTIVE, would
// start a job for a connection that no longer syncs.
const syncStartsLockedSQL = `EXISTS (SELECT 1 FROM connections WHERE id = $1 AND ` + syncStartsSQL + ` FOR SHARE)`

// SyncIntentBegin reads a connection and the request's inbox outcome and,
// when the request has not ended and the connection is ACTIVE with an
// Airbyte connection, records that a sync request is about to ask Airbyte
// for a job (or counts one more delivery of it), and reads the job that
// answers it, in one round trip. arrivedBy, when not zero, is an instant
// (database clock) by which the request had certainly arrived: the request
// counts as first seen then, if that is before now. A connection that does
// not exist is ErrNotFound. Run it outside a transaction.
//
// The statement commits on its own, without waiting for the WAL flush
// (synchronous_commit off for its transaction): the intent is visible at
// once and survives the caller's crash, and it survives the database's
// crash unless that comes within a few hundred milliseconds. A caller that
// must not depend on it after a database crash checks for a missing intent
// itself (the sync worker looks for a job when a request is redelivered
// without one).
func (q *Queries) SyncIntentBegin(ctx context.Context, source, id, connectionID string, arrivedBy time.Time) (SyncIntent, error) {
	return q.SyncIntentBeginClaim(ctx, source, id, connectionID, arrivedBy, "", 0)
}

// SyncIntentBeginClaim is SyncIntentBegin that, for a request seen for the
// first time (its intent new) and answered by no job the registry holds,
// also takes the connection's start claim for holder (for lease), as
// SyncStartTurn would, in the same round trip: the request that starts a
// job then spends no round trip on its turn. The claim is held when the
// intent says Claimed; it is recorded like the intent, without waiting for
// the WAL flush (a claim lost in a database crash only lets another
// request ask Airbyte, which answers that a sync is running). An empty
// holder claims nothing.
func (q *Queries) SyncIntentBeginClaim(ctx context.Context, source, id, connectionID string, arrivedBy time.Time, holder string, lease time.Duration) (SyncIntent, error) {
	if !validUUID(connectionID) {
		return SyncIntent{}, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	var in SyncIntent
	var status string
	var requestedAt, handledAt *time.Time
	var deliveries *int
	var arrived *time.Time
	if !arrivedBy.IsZero() {
		arrived = &arrivedBy
	}
	b := &pgx.Batch{}
	b.Queue(`WITH s AS (
			SELECT set_config('synchronous_commit', 'off', true)
		), c AS (
			SELECT id, status::text AS status, status_reason, coalesce(airbyte_connection_id, '') AS ab, catalog_version
			FROM connections WHERE id = $3
		), d AS (
			SELECT outcome FROM inbox WHERE source = $1 AND id = $2
		), i AS (
			INSERT INTO sync_intents (request_source, request_id, connection_id, requested_at)
			SELECT $1, $2, c.id, least(now(), $4) FROM c
			WHERE c.`+syncStartsSQL+` AND c.ab <> '' AND NOT EXISTS (SELECT 1 FROM d)
			ON CONFLICT (request_source, request_id) DO UPDATE SET deliveries = sync_intents.deliveries + 1
			RETURNING requested_at, handled_at, deliveries
		)
		SELECT c.status, c.status_reason, c.ab, c.catalog_version, i.requested_at, i.handled_at, i.deliveries,
			coalesce((SELECT outcome FROM d), '')
		FROM s, c LEFT JOIN i ON true`, source, id, connectionID, arrived)
	// The same implicit transaction: the intent's first-seen instant is
	// visible to the statements after it (none when no intent was
	// recorded, and then only an open job answers).
	firstSeen := `(SELECT requested_at FROM sync_intents WHERE request_source = $2 AND request_id = $3)`
	base := []any{connectionID, source, id}
	if holder != "" {
		// SyncStartTurn's claim, for an intent recorded by this very call
		// (handled_at is the transaction's now()): a redelivered request
		// first looks for the job its earlier delivery started, and a
		// request that ended, or whose connection cannot sync, records
		// no intent.
		queueStartClaim(b, answerJobSQL(firstSeen), ` AND EXISTS (SELECT 1 FROM sync_intents
			WHERE request_source = $2 AND request_id = $3 AND deliveries = 1 AND handled_at = now())`,
			base, holder, lease)
	} else {
		b.Queue(answerJobSQL(firstSeen), base...)
	}
	br := q.db.SendBatch(ctx, b)
	defer func() { _ = br.Close() }()
	err := br.QueryRow().Scan(&status, &in.StatusReason, &in.AirbyteConnectionID, &in.CatalogVersion, &requestedAt, &handledAt, &deliveries, &in.Outcome)
	if err != nil {
		return SyncIntent{}, translate(err)
	}
	if holder != "" {
		in.Job, in.ClaimedAt, in.Claimed, err = readStartClaim(br)
	} else {
		in.Job, err = readAnswer(br)
	}
	if err != nil {
		return SyncIntent{}, err
	}
	if err := br.Close(); err != nil {
		return SyncIntent{}, translate(err)
	}
	in.Status = ConnectionStatus(status)
	if requestedAt != nil && handledAt != nil && deliveries != nil {
		in.Recorded, in.RequestedAt, in.HandledAt, in.Deliveries = true, *requestedAt, *handledAt, *deliveries
	}
	return in, nil
}

// SyncIntentPurge deletes intents first handled before the given time and
// returns how many it deleted. Intents outlive the requests they belong to
// on purpose: a copy of a request that arrives while the request commits
// finds the intent (and waits) rather than a row that just vanished (and
// starts a job of its own); by the time an intent is purged, the request's
// inbox entry answers such copies.
func (q *Queries) SyncIntentPurge(ctx context.Context, before time.Time) (int64, error) {
	tag, err := q.db.Exec(ctx, `DELETE FROM sync_intents WHERE handled_at < $1`, before)
	if err != nil {
		return 0, translate(err)
	}
	return tag.RowsAffected(), nil
}

// answerJobSQL selects the job that answers a request for connection $1
// first seen at the instant firstSeen (an SQL expression, NULL when the
// request has not been seen): the newest recorded as pending or running, or
// one whose start AAM claimed at or after firstSeen. Each half reads one
// index entry or a few, however many jobs the connection has had: a job is
// recorded after its start claim (created_at >= start_requested_at, on the
// database's clock; a second of slack covers a clock step), so the claimed
// half only walks the jobs recorded since the request was first seen.
func answerJobSQL(firstSeen string) string {
	return `SELECT ` + jobColumns + ` FROM (
	(SELECT * FROM job_history WHERE connection_id = $1 AND status IN ('pending', 'running')
		ORDER BY created_at DESC LIMIT 1)
	UNION ALL
	(SELECT * FROM job_history WHERE connection_id = $1 AND start_requested_at >= ` + firstSeen + `
		AND created_at >= ` + firstSeen + ` - interval '1 second' ORDER BY created_at DESC LIMIT 1)
	) job_history
	ORDER BY created_at DESC LIMIT 1`
}

// answerJobQuery is answerJobSQL for a request first seen at $2.
var answerJobQuery = answerJobSQL(`$2::timestamptz`)

// SyncTurn is what SyncStartTurn found.
type SyncTurn struct {
	// Job, when set, answers the request: the connection's job recorded as
	// pending or running, or one whose start was claimed after the request
	// was first seen. No claim is held then.
	Job *Job
	// Claimed reports that the caller holds the connection's start claim
	// (Job is nil): it may ask Airbyte for a job, claimed at ClaimedAt
	// (database clock), and must record it with SyncLink (StartHolder) or
	// give the claim up with SyncStartRelease.
	Claimed   bool
	ClaimedAt time.Time
	// Status and StatusReason are the connection's, read after the claim:
	// when neither Job nor Claimed is set and the status does not
	// SyncWaits, the request stops waiting.
	Status       ConnectionStatus
	StatusReason string
}

// SyncStartTurn is how the sync requests of one connection take turns to
// start a job, across every process: it returns the job that answers a
// request first seen at firstSeen, or claims the connection's start for
// holder (for lease, or until released), or reports that another holder has
// it (neither Job nor Claimed: ask again later). A claim that lapsed is
// taken over; holder's own claim is renewed. The start of a connection in
// a status that does not SyncStarts is never claimed: the connection's
// status, returned with the turn, tells a waiting request whether to wait
// on (SyncWaits) or give up. A connection that does not exist is
// ErrNotFound. One round trip.
//
// The claim is a row of sync_starts, taken with INSERT ... ON CONFLICT, and
// the job is looked up again after it in a fresh snapshot: a holder
// records its job and drops its claim in one transaction, so a claim won
// after another holder's commit always sees that holder's job.
func (q *Queries) SyncStartTurn(ctx context.Context, connectionID, holder string, firstSeen time.Time, lease time.Duration) (SyncTurn, error) {
	if !validUUID(connectionID) {
		return SyncTurn{}, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	b := &pgx.Batch{}
	queueStartClaim(b, answerJobQuery, "", []any{connectionID, firstSeen}, holder, lease)
	b.Queue(`SELECT status::text, status_reason FROM connections WHERE id = $1`, connectionID)
	br := q.db.SendBatch(ctx, b)
	defer func() { _ = br.Close() }()
	var t SyncTurn
	var err error
	if t.Job, t.ClaimedAt, t.Claimed, err = readStartClaim(br); err != nil {
		return SyncTurn{}, err
	}
	var status string
	if err := br.QueryRow().Scan(&status, &t.StatusReason); err != nil {
		return SyncTurn{}, translate(err)
	}
	t.Status = ConnectionStatus(status)
	return t, translate(br.Close())
}

// queueStartClaim queues on b the two statements of a start claim of
// connection $1 for holder (for lease): the claim, taken with INSERT ... ON
// CONFLICT when no job answers the request (answer, an answerJobSQL query)
// and the condition also holds ("" or " AND ..."), unless another holder
// has it; then the job that answers, looked up again in a fresh snapshot,
// which gives the claim back when one does (a job recorded while the claim
// waited for the holder before). args are answer's arguments, $1 the
// connection; holder and lease follow them. readStartClaim reads both.
func queueStartClaim(b *pgx.Batch, answer, also string, args []any, holder string, lease time.Duration) {
	h, l := fmt.Sprintf("$%d", len(args)+1), fmt.Sprintf("$%d", len(args)+2)
	b.Queue(`WITH j AS (`+answer+`)
		INSERT INTO sync_starts AS s (connection_id, holder, held_until)
		SELECT $1, `+h+`, now() + make_interval(secs => `+l+`) WHERE NOT EXISTS (SELECT 1 FROM j)`+also+`
			AND `+syncStartsLockedSQL+`
		ON CONFLICT (connection_id) DO UPDATE SET holder = excluded.holder, claimed_at = now(),
			held_until = excluded.held_until
		WHERE s.held_until < now() OR s.holder = excluded.holder
		RETURNING claimed_at`, append(slices.Clone(args), holder, lease.Seconds())...)
	b.Queue(`WITH j AS (`+answer+`), d AS (
			`+syncStartReleaseSQL(`$1`, h)+` AND EXISTS (SELECT 1 FROM j)
		)
		SELECT * FROM j`, append(slices.Clone(args), holder)...)
}

// readStartClaim reads queueStartClaim's results: the job that answers
// the request (then no claim is held), or whether the claim was taken, and
// when.
func readStartClaim(br pgx.BatchResults) (job *Job, claimedAt time.Time, claimed bool, err error) {
	switch err := br.QueryRow().Scan(&claimedAt); {
	case err == nil:
		claimed = true
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, time.Time{}, false, translate(err)
	}
	if job, err = readAnswer(br); err != nil || job != nil {
		return job, time.Time{}, false, err
	}
	return nil, claimedAt, claimed, nil
}

// readAnswer reads the job an answerJobSQL query found, nil for none.
func readAnswer(br pgx.BatchResults) (*Job, error) {
	switch j, err := scanJob(br.QueryRow()); {
	case err == nil:
		return &j, nil
	case !IsNotFound(err):
		return nil, err
	}
	return nil, nil
}

// syncStartReleaseSQL gives up the start claim of the connection and
// holder its arguments name: the row stays, lapsed. A connection's row is
// written twice per job and never deleted, so that it is updated in place
// (a HOT update, pruned within its page): a row inserted and deleted per job
// would leave the table, between vacuums, with a dead row per job, which a
// plan made while the table was small reads through at each release.
func syncStartReleaseSQL(connectionID, holder string) string {
	return `UPDATE sync_starts SET held_until = '-infinity' WHERE connection_id = ` + connectionID + ` AND holder = ` + holder
}

// SyncStartRelease gives up holder's start claim on a connection, if it
// still holds it.
func (q *Queries) SyncStartRelease(ctx context.Context, connectionID, holder string) error {
	if !validUUID(connectionID) {
		return nil
	}
	_, err := q.db.Exec(ctx, syncStartReleaseSQL(`$1`, `$2`), connectionID, holder)
	return translate(err)
}

// SyncLinkParams describe a job as the sync worker observed it and the
// request it answers.
type SyncLinkParams struct {
	// JobID is the id of the job's row when the call creates it; empty for
	// a fresh one.
	JobID        string
	ConnectionID string
	AirbyteJobID string
	// Status, StartedAt, CompletedAt, RowsSynced, BytesSynced and
	// ErrorMessage are the job's observed state, used when the job is not
	// recorded yet.
	Status       JobStatus
	StartedAt    *time.Time
	CompletedAt  *time.Time
	RowsSynced   int64
	BytesSynced  int64
	ErrorMessage string
	// NextCheckAt and FollowDeadline schedule following (nil for a job
	// recorded terminal).
	NextCheckAt    *time.Time
	FollowDeadline *time.Time
	// AirbyteStatus is Airbyte's status verbatim, and SeenThrough the
	// instant (Airbyte's clock) the observation holds for.
	AirbyteStatus string
	SeenThrough   *time.Time
	// Failure is why the job failed, when it is recorded failed.
	Failure JobFailure
	// StartHolder, when set, is the holder of the connection's start claim
	// (SyncStartTurn), dropped in the same transaction, and
	// StartRequestedAt when it was claimed (for a job started under it).
	StartHolder      string
	StartRequestedAt *time.Time
	// RequestSource, RequestID, RequestType and TraceParent identify the
	// request; Attached says it did not start the job.
	RequestSource string
	RequestID     string
	RequestType   string
	TraceParent   string
	Attached      bool
}

// SyncLinkResult is what SyncLink did.
type SyncLinkResult struct {
	// CatalogVersion is the connection's current catalog version.
	CatalogVersion int
	// Job is the job's row: the new one, or the one already recorded.
	Job Job
	// JobCreated reports that the row was created by this call.
	JobCreated bool
	// Linked reports that the request was linked to the job by this call;
	// Attached is the link's attached flag (also true when the job was
	// already recorded for another request).
	Linked   bool
	Attached bool
	// Done reports that the request's inbox row was inserted; false means
	// the request had already ended (the caller rolls back).
	Done bool
}

// SyncLink runs, in one round trip inside the caller's transaction: lock the
// connection row, record the job (or find it recorded), link the request to
// it, mark the request done in the inbox and drop its intent. The caller
// then queues the facts and commits.
func (q *Queries) SyncLink(ctx context.Context, p SyncLinkParams) (SyncLinkResult, error) {
	if !validUUID(p.ConnectionID) {
		return SyncLinkResult{}, &Error{Kind: ErrNotFound, Err: errBadID(p.ConnectionID)}
	}
	b := &pgx.Batch{}
	queueSyncLink(b, p)
	br := q.db.SendBatch(ctx, b)
	res, err := readSyncLink(br)
	if cerr := br.Close(); err == nil {
		err = translate(cerr)
	}
	return res, err
}

// SyncWant is the outcome a SyncRecord caller built its facts for. In every
// case the call must link the request to the job and mark it done (a
// request another delivery finished is not).
type SyncWant struct {
	// Created says the call must create the job's row, at catalog version
	// CatalogVersion. Otherwise the row must be recorded already and give
	// the same facts as Job, the row the caller read.
	Created        bool
	CatalogVersion int
	Job            *Job
	// Then, when set, runs in the transaction once the checked statements
	// are queued: they go first in its first round trip, and its statements
	// see the job recorded. An outcome other than want fails that round
	// trip, and the call reports committed false as before.
	Then func(q *Queries) error
}

// syncRefused is the SQLSTATE aam_check raises (migration 00023).
const syncRefused = "AAM01"

// SyncRecord is the sync worker's fast path: one round trip sends BEGIN,
// the statements of SyncLink checked against want (aam_check), the facts
// the caller predicted for that outcome and COMMIT (a transaction of the
// Store whose statements all wait for its commit). When the outcome is
// another, the check aborts the transaction before its facts and COMMIT,
// it is rolled back, and committed is false: the caller takes the general
// path (a transaction with SyncLink, then facts built from its result).
// With want.Then, the checked statements go with Then's first round trip
// instead, and the facts with the COMMIT after it.
func (s *Store) SyncRecord(ctx context.Context, p SyncLinkParams, facts []OutboxRow, want SyncWant) (committed bool, err error) {
	if !validUUID(p.ConnectionID) {
		return false, &Error{Kind: ErrNotFound, Err: errBadID(p.ConnectionID)}
	}
	if !want.Created && want.Job == nil {
		return false, &Error{Kind: ErrInvalid, Err: errors.New("SyncRecord: want a created job or the recorded one")}
	}
	b := &pgx.Batch{}
	queueSyncLinkChecked(b, p, &want)
	// The connection's row lock: no row is a connection that is gone.
	b.QueuedQueries[0].QueryRow(func(row pgx.Row) error {
		var version int
		return translate(row.Scan(&version))
	})
	err = s.InTx(ctx, func(q *Queries) error {
		q.db.(*lazyTx).queue(b.QueuedQueries...)
		if err := q.OutboxQueue(ctx, facts...); err != nil {
			return err
		}
		if want.Then != nil {
			return want.Then(q)
		}
		return nil
	})
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == syncRefused {
		return false, nil
	}
	return err == nil, err
}

// queueSyncLink queues SyncLink's two statements: the connection's row
// lock, then, in a fresh snapshot after it, the job, the request's link,
// its inbox entry and the drop of the start claim in one statement.
func queueSyncLink(b *pgx.Batch, p SyncLinkParams) { queueSyncLinkChecked(b, p, nil) }

// queueSyncLinkChecked is queueSyncLink whose second statement, when want
// is set, fails with syncRefused unless its outcome is want.
func queueSyncLinkChecked(b *pgx.Batch, p SyncLinkParams, want *SyncWant) {
	b.Queue(`SELECT catalog_version FROM connections WHERE id = $1 FOR UPDATE`, p.ConnectionID)
	id := p.JobID
	if id == "" {
		id = NewID()
	}
	args := []any{id, p.ConnectionID, p.AirbyteJobID, string(p.Status), p.StartedAt, p.CompletedAt,
		p.RowsSynced, p.BytesSynced, p.ErrorMessage, p.NextCheckAt, p.FollowDeadline,
		p.RequestSource, p.RequestID, p.TraceParent, p.Attached, p.AirbyteStatus, p.SeenThrough, p.StartRequestedAt,
		p.Failure.Class, p.Failure.Type, p.Failure.Origin, p.RequestType}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var more string
	from := ` FROM j`
	if p.StartHolder != "" {
		more = `, d AS (` + syncStartReleaseSQL(`$2`, arg(p.StartHolder)) + `)`
	}
	if want != nil {
		cond := `(SELECT count(*) FROM r) = 1 AND (SELECT count(*) FROM i) = 1`
		if want.Created {
			cond += ` AND j.inserted AND j.catalog_version = ` + arg(want.CatalogVersion)
		} else {
			w := want.Job
			cond += ` AND NOT j.inserted AND j.id = ` + arg(w.ID) + ` AND j.status = ` + arg(string(w.Status)) +
				` AND j.catalog_version = ` + arg(w.CatalogVersion) +
				` AND j.started_at IS NOT DISTINCT FROM ` + arg(w.StartedAt) + `::timestamptz` +
				` AND j.completed_at IS NOT DISTINCT FROM ` + arg(w.CompletedAt) + `::timestamptz` +
				` AND j.rows_synced = ` + arg(w.RowsSynced) + ` AND j.bytes_synced = ` + arg(w.BytesSynced) +
				` AND j.error_message = ` + arg(w.ErrorMessage) + ` AND j.failure_class = ` + arg(w.FailureClass) +
				` AND j.failure_type = ` + arg(w.FailureType) + ` AND j.failure_origin = ` + arg(w.FailureOrigin) +
				` AND j.created_at = ` + arg(w.CreatedAt)
		}
		// No job row (no connection) fails the check as well.
		from = ` FROM (SELECT 1) one LEFT JOIN j ON true WHERE aam_check(j.id IS NOT NULL AND ` + cond +
			`, 'the job was recorded otherwise than predicted')`
	}
	b.Queue(`WITH j AS (
			INSERT INTO job_history AS h (id, connection_id, airbyte_job_id, status, catalog_version, started_at,
				completed_at, rows_synced, bytes_synced, error_message, next_check_at, follow_deadline,
				airbyte_status, airbyte_seen_through, start_requested_at, failure_class, failure_type, failure_origin)
			SELECT $1, c.id, $3, $4, c.catalog_version, $5, $6, $7, $8, $9, $10, $11, $16, $17, $18, $19, $20, $21
			FROM connections c WHERE c.id = $2
			ON CONFLICT (connection_id, airbyte_job_id) DO UPDATE SET updated_at = h.updated_at
			RETURNING `+jobColumns+`, (xmax = 0) AS inserted
		), r AS (
			INSERT INTO job_requests (job_id, request_source, request_id, traceparent, attached)
			SELECT j.id::uuid, $12, $13, $14, $15 OR NOT j.inserted FROM j
			ON CONFLICT DO NOTHING
			RETURNING attached
		), i AS (
			INSERT INTO inbox (source, id, type, outcome) VALUES ($12, $13, $22, 'done')
			ON CONFLICT (source, id) DO NOTHING
			RETURNING 1
		)`+more+`
		SELECT j.*, (SELECT attached FROM r), (SELECT count(*) FROM i)`+from,
		args...)
}

func readSyncLink(br pgx.BatchResults) (SyncLinkResult, error) {
	var res SyncLinkResult
	if err := br.QueryRow().Scan(&res.CatalogVersion); err != nil {
		return SyncLinkResult{}, translate(err)
	}
	var status string
	var attached *bool
	var done int
	j := &res.Job
	if err := br.QueryRow().Scan(append(jobFields(j, &status), &res.JobCreated, &attached, &done)...); err != nil {
		return SyncLinkResult{}, translate(err)
	}
	j.Status = JobStatus(status)
	if attached != nil {
		res.Linked, res.Attached = true, *attached
	}
	res.Done = done == 1
	return res, nil
}

// SyncFollowState is a followed job locked for its terminal transition.
type SyncFollowState struct {
	// Job is the job's row, locked.
	Job Job
	// Requests are the requests the job answers, in arrival order.
	Requests []JobRequest
}

// SyncLockJob locks a job's connection row and then the job's row, and
// lists the requests the job answers, in one round trip inside the
// caller's transaction. Locking the connection first keeps the order every
// writer of the connection's facts uses.
func (q *Queries) SyncLockJob(ctx context.Context, connectionID, jobID string) (SyncFollowState, error) {
	if !validUUID(connectionID) || !validUUID(jobID) {
		return SyncFollowState{}, &Error{Kind: ErrNotFound, Err: errBadID(jobID)}
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT 1 FROM connections WHERE id = $1 FOR UPDATE`, connectionID)
	b.Queue(`SELECT `+jobColumns+` FROM job_history WHERE id = $1 FOR UPDATE`, jobID)
	b.Queue(`SELECT `+jobRequestColumns+`
		FROM job_requests WHERE job_id = $1 ORDER BY created_at, request_id`, jobID)
	br := q.db.SendBatch(ctx, b)
	defer func() { _ = br.Close() }()
	var one int
	if err := br.QueryRow().Scan(&one); err != nil {
		return SyncFollowState{}, translate(err)
	}
	var st SyncFollowState
	var err error
	if st.Job, err = scanJob(br.QueryRow()); err != nil {
		return SyncFollowState{}, err
	}
	rows, err := br.Query()
	if err != nil {
		return SyncFollowState{}, translate(err)
	}
	if st.Requests, err = collect(rows, scanJobRequest); err != nil {
		return SyncFollowState{}, err
	}
	return st, translate(br.Close())
}

// JobNextCheckAt returns when the earliest followed job is due; ok is false
// when no job is followed.
func (q *Queries) JobNextCheckAt(ctx context.Context) (at time.Time, ok bool, err error) {
	var t *time.Time
	if err := q.db.QueryRow(ctx, `SELECT min(next_check_at) FROM job_history
		WHERE status IN ('pending', 'running')`).Scan(&t); err != nil {
		return time.Time{}, false, translate(err)
	}
	if t == nil {
		return time.Time{}, false, nil
	}
	return *t, true, nil
}

// JobReschedule records a followed job's observed progress and its next
// check, in one statement; a job that ended meanwhile is left alone.
func (q *Queries) JobReschedule(ctx context.Context, id string, status JobStatus, startedAt *time.Time, rows, bytes int64, next time.Time) error {
	_, err := q.db.Exec(ctx, `UPDATE job_history SET status = $2, started_at = coalesce($3, started_at),
			rows_synced = $4, bytes_synced = $5, next_check_at = $6, check_count = check_count + 1, updated_at = now()
		WHERE id = $1 AND status IN ('pending', 'running')`, id, string(status), startedAt, rows, bytes, next)
	return translate(err)
}

// JobObservation is a followed job's state as last seen, and its next
// check.
type JobObservation struct {
	Status JobStatus
	// AirbyteStatus is Airbyte's status verbatim.
	AirbyteStatus string
	StartedAt     *time.Time
	RowsSynced    int64
	BytesSynced   int64
	// SeenThrough is the instant (Airbyte's clock) the observation holds
	// for; nil keeps the one recorded.
	SeenThrough *time.Time
	NextCheckAt time.Time
}

// JobObserve records a followed job's observed state and its next check,
// in one statement; a job that ended meanwhile is left alone.
func (q *Queries) JobObserve(ctx context.Context, id string, o JobObservation) error {
	_, err := q.db.Exec(ctx, `UPDATE job_history SET status = $2, airbyte_status = $3,
			started_at = coalesce($4, started_at), rows_synced = $5, bytes_synced = $6,
			airbyte_seen_through = coalesce($7, airbyte_seen_through), next_check_at = $8,
			check_count = check_count + 1, updated_at = now()
		WHERE id = $1 AND status IN ('pending', 'running')`,
		id, string(o.Status), o.AirbyteStatus, o.StartedAt, o.RowsSynced, o.BytesSynced, o.SeenThrough, o.NextCheckAt)
	return translate(err)
}

// JobRelease makes claimed jobs due at `at` again (a follower that stops
// hands its claims back).
func (q *Queries) JobRelease(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := q.db.Exec(ctx, `UPDATE job_history SET next_check_at = $2
		WHERE id = ANY($1::uuid[]) AND status IN ('pending', 'running')`, ids, at)
	return translate(err)
}

// JobsOfEarlierRequests returns which of a connection's Airbyte job ids
// began for requests seen before `before`: recorded in job_history before
// it, or started under a start claim taken before it (and recorded later).
// A request first seen at `before` started none of them.
func (q *Queries) JobsOfEarlierRequests(ctx context.Context, connectionID string, airbyteJobIDs []string, before time.Time) (map[string]bool, error) {
	out := make(map[string]bool)
	if len(airbyteJobIDs) == 0 {
		return out, nil
	}
	if !validUUID(connectionID) {
		return nil, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	rows, err := q.db.Query(ctx, `SELECT airbyte_job_id FROM job_history
		WHERE connection_id = $1 AND airbyte_job_id = ANY($2) AND (created_at < $3 OR start_requested_at < $3)`, connectionID, airbyteJobIDs, before)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, translate(err)
		}
		out[id] = true
	}
	return out, translate(rows.Err())
}
