package registry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
)

func activeConnection(t *testing.T, b *testBundle, requestID string) registry.Connection {
	t.Helper()
	c := newConnection(t, b, requestID)
	_, err := b.store.ConnectionSaveCheckpoint(b.ctx, c.ID, registry.ConnectionCheckpoint{AirbyteConnectionID: "ab-" + requestID})
	require.NoError(t, err)
	c, err = b.store.ConnectionActivate(b.ctx, c.ID, 1, "")
	require.NoError(t, err)
	return c
}

func TestSyncIntentBegin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.SyncIntentBegin(b.ctx, "/s", "r1", uuid.NewString(), time.Time{})
	require.ErrorIs(t, err, registry.ErrNotFound)
	_, err = b.store.SyncIntentBegin(b.ctx, "/s", "r1", "not-a-uuid", time.Time{})
	require.ErrorIs(t, err, registry.ErrNotFound)

	pending := newConnection(t, b, "pending")
	in, err := b.store.SyncIntentBegin(b.ctx, "/s", "r1", pending.ID, time.Time{})
	require.NoError(t, err)
	require.Equal(t, registry.StatusPending, in.Status)
	require.False(t, in.Recorded, "no intent for a connection that cannot sync")

	c := activeConnection(t, b, "active")
	first, err := b.store.SyncIntentBegin(b.ctx, "/s", "r1", c.ID, time.Time{})
	require.NoError(t, err)
	require.True(t, first.Recorded)
	require.Equal(t, registry.StatusActive, first.Status)
	require.Equal(t, "ab-active", first.AirbyteConnectionID)
	require.Equal(t, 1, first.CatalogVersion)
	require.Equal(t, 1, first.Deliveries)
	require.True(t, first.RequestedAt.Equal(first.HandledAt), "no arrival given: first seen when handled")
	again, err := b.store.SyncIntentBegin(b.ctx, "/s", "r1", c.ID, time.Time{})
	require.NoError(t, err)
	require.Equal(t, 2, again.Deliveries)
	require.True(t, again.RequestedAt.Equal(first.RequestedAt), "first seen stays")
	require.True(t, again.HandledAt.Equal(first.HandledAt), "first handled stays")

	// A request known to have arrived earlier counts from then; an arrival
	// bound in the future (a skew larger than the wait) counts from now.
	arrived := time.Now().Add(-2 * time.Hour).Truncate(time.Microsecond)
	waited, err := b.store.SyncIntentBegin(b.ctx, "/s", "r2", c.ID, arrived)
	require.NoError(t, err)
	require.True(t, waited.RequestedAt.Equal(arrived), "first seen at its arrival: %v", waited.RequestedAt)
	require.WithinDuration(t, time.Now(), waited.HandledAt, 10*time.Second)
	soon, err := b.store.SyncIntentBegin(b.ctx, "/s", "r3", c.ID, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.True(t, soon.RequestedAt.Equal(soon.HandledAt))

	// Purged once old: the request's next copy is counted afresh.
	n, err := b.store.SyncIntentPurge(b.ctx, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "recent intents are kept, one that arrived long ago too")
	n, err = b.store.SyncIntentPurge(b.ctx, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.EqualValues(t, 3, n, "purged by when they were handled, not by their arrival")
	fresh, err := b.store.SyncIntentBegin(b.ctx, "/s", "r1", c.ID, time.Time{})
	require.NoError(t, err)
	require.Equal(t, 1, fresh.Deliveries)
}

// TestSyncIntentBeginClaim shows the start claim taken with a new intent:
// only when no job answers the request, no other holder has the claim and
// the intent is new; a claim taken is the one SyncStartTurn and
// SyncStartRelease know.
func TestSyncIntentBeginClaim(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := activeConnection(t, b, "claim")
	first, err := b.store.SyncIntentBeginClaim(b.ctx, "/s", "r1", c.ID, time.Time{}, "h1", time.Minute)
	require.NoError(t, err)
	require.True(t, first.Recorded)
	require.True(t, first.Claimed, "no job, no holder: claimed")
	require.Nil(t, first.Job)
	require.WithinDuration(t, time.Now(), first.ClaimedAt, 10*time.Second)

	// Another request finds the claim held: it takes turns.
	other, err := b.store.SyncIntentBeginClaim(b.ctx, "/s", "r2", c.ID, time.Time{}, "h2", time.Minute)
	require.NoError(t, err)
	require.True(t, other.Recorded)
	require.False(t, other.Claimed)
	turn, err := b.store.SyncStartTurn(b.ctx, c.ID, "h2", other.RequestedAt, time.Minute)
	require.NoError(t, err)
	require.False(t, turn.Claimed, "h1 holds it")

	// A copy of r1 (its intent not new) claims nothing, even once free.
	require.NoError(t, b.store.SyncStartRelease(b.ctx, c.ID, "h1"))
	again, err := b.store.SyncIntentBeginClaim(b.ctx, "/s", "r1", c.ID, time.Time{}, "h1", time.Minute)
	require.NoError(t, err)
	require.Equal(t, 2, again.Deliveries)
	require.False(t, again.Claimed)

	// A pending job answers a new request: it is returned, nothing claimed.
	next := time.Now().Add(time.Second)
	committed, err := b.store.SyncRecord(b.ctx, registry.SyncLinkParams{ConnectionID: c.ID, AirbyteJobID: "9",
		Status: registry.JobPending, NextCheckAt: &next, RequestSource: "/s", RequestID: "r2",
		RequestType: events.TypeSyncRequested}, nil, registry.SyncWant{Created: true, CatalogVersion: 1})
	require.NoError(t, err)
	require.True(t, committed)
	answered, err := b.store.SyncIntentBeginClaim(b.ctx, "/s", "r3", c.ID, time.Time{}, "h3", time.Minute)
	require.NoError(t, err)
	require.False(t, answered.Claimed)
	require.NotNil(t, answered.Job)
	require.Equal(t, "9", answered.Job.AirbyteJobID)
	turn, err = b.store.SyncStartTurn(b.ctx, c.ID, "h4", time.Now(), time.Minute)
	require.NoError(t, err)
	require.NotNil(t, turn.Job, "the claim is free and the job answers")

	// An answered request's intent outlives it: a copy claims nothing.
	c2 := activeConnection(t, b, "claim-2")
	_, err = b.store.SyncIntentBeginClaim(b.ctx, "/s", "r6", c2.ID, time.Time{}, "", 0)
	require.NoError(t, err)
	inserted, err := b.store.InboxInsert(b.ctx, registry.InboxEntry{Source: "/s", ID: "r6", Type: events.TypeSyncRequested,
		Outcome: registry.OutcomeDone})
	require.NoError(t, err)
	require.True(t, inserted)
	copyOf, err := b.store.SyncIntentBeginClaim(b.ctx, "/s", "r6", c2.ID, time.Time{}, "h6", time.Minute)
	require.NoError(t, err)
	require.Equal(t, registry.OutcomeDone, copyOf.Outcome)
	require.False(t, copyOf.Claimed)

	// A connection that cannot sync: no intent, no claim.
	pending := newConnection(t, b, "pending-claim")
	in, err := b.store.SyncIntentBeginClaim(b.ctx, "/s", "r5", pending.ID, time.Time{}, "h5", time.Minute)
	require.NoError(t, err)
	require.False(t, in.Recorded)
	require.False(t, in.Claimed)
}

func TestSyncRecordCommitsOrRollsBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := activeConnection(t, b, "c")
	fact := func(reqID string) []registry.OutboxRow {
		e, err := events.New(events.TypeSyncStarted, "/aam/sync", events.SyncStarted{ConnectionID: c.ID, JobID: "7"},
			events.WithID(events.DeterministicID("/s", reqID, events.TypeSyncStarted)), events.WithCorrelationID(reqID),
			events.WithSubject(c.ID))
		require.NoError(t, err)
		row, err := outbox.Encode(events.SubjectSyncStarted, e)
		require.NoError(t, err)
		return []registry.OutboxRow{row}
	}
	params := func(reqID string) registry.SyncLinkParams {
		next := time.Now().Add(time.Second)
		return registry.SyncLinkParams{ConnectionID: c.ID, AirbyteJobID: "7", Status: registry.JobRunning,
			NextCheckAt: &next, RequestSource: "/s", RequestID: reqID, RequestType: events.TypeSyncRequested}
	}
	_, err := b.store.SyncIntentBegin(b.ctx, "/s", "a", c.ID, time.Time{})
	require.NoError(t, err)

	// Refused (recorded at another catalog version than predicted): nothing
	// stays.
	committed, err := b.store.SyncRecord(b.ctx, params("a"), fact("a"), registry.SyncWant{Created: true, CatalogVersion: 2})
	require.NoError(t, err)
	require.False(t, committed)
	_, err = b.store.JobGetByAirbyteID(b.ctx, c.ID, "7")
	require.ErrorIs(t, err, registry.ErrNotFound)
	msgs, err := b.store.OutboxByCorrelation(b.ctx, "a")
	require.NoError(t, err)
	require.Empty(t, msgs)
	in, err := b.store.SyncIntentBegin(b.ctx, "/s", "a", c.ID, time.Time{})
	require.NoError(t, err)
	require.Equal(t, 2, in.Deliveries)
	_, err = b.store.InboxGet(b.ctx, "/s", "a")
	require.ErrorIs(t, err, registry.ErrNotFound, "not marked done")

	kicked := make(chan struct{}, 4)
	b.store.OnOutboxCommit(func() { kicked <- struct{}{} })
	committed, err = b.store.SyncRecord(b.ctx, params("a"), fact("a"), registry.SyncWant{Created: true, CatalogVersion: 1})
	require.NoError(t, err)
	require.True(t, committed)
	<-kicked
	job, err := b.store.JobGetByAirbyteID(b.ctx, c.ID, "7")
	require.NoError(t, err)
	require.Equal(t, registry.JobRunning, job.Status)
	msgs, err = b.store.OutboxByCorrelation(b.ctx, "a")
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	e, err := b.store.InboxGet(b.ctx, "/s", "a")
	require.NoError(t, err)
	require.Equal(t, registry.OutcomeDone, e.Outcome)
	in, err = b.store.SyncIntentBegin(b.ctx, "/s", "a", c.ID, time.Time{})
	require.NoError(t, err)
	require.Equal(t, registry.OutcomeDone, in.Outcome, "a copy of the answered request is recognised")
	require.False(t, in.Recorded, "a copy of an answered request records no intent")

	// A second request for the same job: refused while it expects a new
	// row, or facts of a row other than the recorded one; attached to the
	// recorded row when it expects that.
	committed, err = b.store.SyncRecord(b.ctx, params("b"), fact("b"), registry.SyncWant{Created: true, CatalogVersion: 1})
	require.NoError(t, err)
	require.False(t, committed, "recorded already")
	for _, change := range []func(j *registry.Job){
		func(j *registry.Job) { j.Status = registry.JobSucceeded },
		func(j *registry.Job) { j.RowsSynced++ },
		func(j *registry.Job) { at := time.Now(); j.CompletedAt = &at },
		func(j *registry.Job) { j.CreatedAt = j.CreatedAt.Add(time.Microsecond) },
		func(j *registry.Job) { j.FailureClass = "source" },
	} {
		other := job
		change(&other)
		committed, err = b.store.SyncRecord(b.ctx, params("b"), fact("b"), registry.SyncWant{Job: &other})
		require.NoError(t, err)
		require.False(t, committed, "the facts were built from another row: %+v", other)
	}
	msgs, err = b.store.OutboxByCorrelation(b.ctx, "b")
	require.NoError(t, err)
	require.Empty(t, msgs, "no fact of a refused record stays")
	committed, err = b.store.SyncRecord(b.ctx, params("b"), fact("b"), registry.SyncWant{Job: &job})
	require.NoError(t, err)
	require.True(t, committed)
	// The same request again is neither linked nor done.
	committed, err = b.store.SyncRecord(b.ctx, params("b"), nil, registry.SyncWant{Job: &job})
	require.NoError(t, err)
	require.False(t, committed)
	var res registry.SyncLinkResult
	err = b.store.InTx(b.ctx, func(q *registry.Queries) error {
		res, err = q.SyncLink(b.ctx, params("b"))
		return err
	})
	require.NoError(t, err)
	require.False(t, res.Linked)
	require.False(t, res.Done)

	// A connection that is gone refuses, as does a want of neither kind.
	gone := params("z")
	gone.ConnectionID = uuid.NewString()
	committed, err = b.store.SyncRecord(b.ctx, gone, nil, registry.SyncWant{Created: true, CatalogVersion: 1})
	require.ErrorIs(t, err, registry.ErrNotFound)
	require.False(t, committed)
	_, err = b.store.SyncRecord(b.ctx, params("z"), nil, registry.SyncWant{})
	require.ErrorIs(t, err, registry.ErrInvalid)

	st := registry.SyncFollowState{}
	err = b.store.InTx(b.ctx, func(q *registry.Queries) error {
		st, err = q.SyncLockJob(b.ctx, c.ID, res.Job.ID)
		return err
	})
	require.NoError(t, err)
	require.Len(t, st.Requests, 2)
	require.Equal(t, "a", st.Requests[0].RequestID)
}

func TestFollowBookkeeping(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := activeConnection(t, b, "c")
	_, ok, err := b.store.JobNextCheckAt(b.ctx)
	require.NoError(t, err)
	require.False(t, ok)

	at := time.Now().Add(time.Minute).Truncate(time.Microsecond)
	j, _, err := b.store.JobCreate(b.ctx, registry.JobCreateParams{ConnectionID: c.ID, AirbyteJobID: "1",
		Status: registry.JobPending, CatalogVersion: 1, NextCheckAt: &at})
	require.NoError(t, err)
	next, ok, err := b.store.JobNextCheckAt(b.ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, next.Equal(at))

	require.NoError(t, b.store.JobReschedule(b.ctx, j.ID, registry.JobRunning, nil, 5, 50, at.Add(time.Hour)))
	j, err = b.store.JobGet(b.ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, registry.JobRunning, j.Status)
	require.EqualValues(t, 5, j.RowsSynced)
	require.Equal(t, 1, j.CheckCount)

	now := time.Now()
	require.NoError(t, b.store.JobRelease(b.ctx, []string{j.ID}, now))
	claimed, err := b.store.JobClaimDue(b.ctx, now, time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1)

	before, err := b.store.JobsOfEarlierRequests(b.ctx, c.ID, []string{"1", "2"}, time.Now().Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"1": true}, before)
	before, err = b.store.JobsOfEarlierRequests(b.ctx, c.ID, []string{"1"}, j.CreatedAt)
	require.NoError(t, err)
	require.Empty(t, before)

	// A job recorded after that instant, but started under a claim taken
	// before it, was started for a request seen earlier.
	seen := time.Now()
	claimedAt := seen.Add(-time.Millisecond)
	require.NoError(t, b.store.InTx(b.ctx, func(q *registry.Queries) error {
		_, err := q.SyncLink(b.ctx, registry.SyncLinkParams{ConnectionID: c.ID, AirbyteJobID: "3", Status: registry.JobSucceeded,
			AirbyteStatus: "succeeded", StartRequestedAt: &claimedAt, RequestSource: "/s", RequestID: "r3",
			RequestType: events.TypeSyncRequested})
		return err
	}))
	before, err = b.store.JobsOfEarlierRequests(b.ctx, c.ID, []string{"1", "3"}, seen)
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"1": true, "3": true}, before)
	before, err = b.store.JobsOfEarlierRequests(b.ctx, c.ID, []string{"3"}, claimedAt)
	require.NoError(t, err)
	require.Empty(t, before, "claimedAt at that instant: possibly the request's own")
}

func TestSyncStartTurn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := activeConnection(t, b, "turns")
	_, err := b.store.SyncStartTurn(b.ctx, "not-a-uuid", "/s r1", time.Now(), time.Minute)
	require.ErrorIs(t, err, registry.ErrNotFound)

	// claimFresh begins request id from /s while no job is open, and its
	// start turn is claimed.
	claimFresh := func(id, noJob string) (registry.SyncIntent, registry.SyncTurn) {
		t.Helper()
		in, err := b.store.SyncIntentBegin(b.ctx, "/s", id, c.ID, time.Time{})
		require.NoError(t, err)
		require.Nil(t, in.Job, noJob)
		turn, err := b.store.SyncStartTurn(b.ctx, c.ID, "/s "+id, in.RequestedAt, time.Minute)
		require.NoError(t, err)
		require.True(t, turn.Claimed)
		return in, turn
	}
	in, first := claimFresh("r1", "no job yet")
	require.Nil(t, first.Job)
	require.False(t, first.ClaimedAt.Before(in.RequestedAt))

	// Another request waits while the turn is held; the holder renews it.
	other, err := b.store.SyncStartTurn(b.ctx, c.ID, "/s r2", in.RequestedAt, time.Minute)
	require.NoError(t, err)
	require.False(t, other.Claimed)
	require.Nil(t, other.Job)
	again, err := b.store.SyncStartTurn(b.ctx, c.ID, "/s r1", in.RequestedAt, time.Minute)
	require.NoError(t, err)
	require.True(t, again.Claimed)

	// The holder records its job and gives the turn back in one
	// transaction: the next request is answered by the job.
	claimedAt := first.ClaimedAt
	err = b.store.InTx(b.ctx, func(q *registry.Queries) error {
		_, err := q.SyncLink(b.ctx, registry.SyncLinkParams{ConnectionID: c.ID, AirbyteJobID: "7", Status: registry.JobSucceeded,
			AirbyteStatus: "succeeded", StartHolder: "/s r1", StartRequestedAt: &claimedAt,
			RequestSource: "/s", RequestID: "r1", RequestType: events.TypeSyncRequested})
		return err
	})
	require.NoError(t, err)
	answered, err := b.store.SyncStartTurn(b.ctx, c.ID, "/s r2", in.RequestedAt, time.Minute)
	require.NoError(t, err)
	require.False(t, answered.Claimed)
	require.NotNil(t, answered.Job, "a job started after the request was seen answers it, ended or not")
	require.Equal(t, "7", answered.Job.AirbyteJobID)
	require.Equal(t, "succeeded", answered.Job.AirbyteStatus)
	require.True(t, answered.Job.StartRequestedAt.Equal(claimedAt))

	// A request that arrived before job 7's start was claimed, and is
	// handled only now, is answered by that job from its intent.
	arrived := claimedAt.Add(-time.Millisecond)
	waited, err := b.store.SyncIntentBegin(b.ctx, "/s", "r2b", c.ID, arrived)
	require.NoError(t, err)
	require.NotNil(t, waited.Job, "a job started after the request arrived answers it")
	require.Equal(t, "7", waited.Job.AirbyteJobID)

	// A request seen after that start was claimed waits for the next job.
	later, _ := claimFresh("r3", "the job ended")
	require.NoError(t, b.store.SyncStartRelease(b.ctx, c.ID, "/s r3"))

	// A lapsed turn is taken over.
	lapsed, err := b.store.SyncStartTurn(b.ctx, c.ID, "/s r4", later.RequestedAt, -time.Second)
	require.NoError(t, err)
	require.True(t, lapsed.Claimed)
	took, err := b.store.SyncStartTurn(b.ctx, c.ID, "/s r5", later.RequestedAt, time.Minute)
	require.NoError(t, err)
	require.True(t, took.Claimed)
	// Only the holder gives the turn back.
	require.NoError(t, b.store.SyncStartRelease(b.ctx, c.ID, "/s r4"))
	held, err := b.store.SyncStartTurn(b.ctx, c.ID, "/s r5b", later.RequestedAt, time.Minute)
	require.NoError(t, err)
	require.False(t, held.Claimed)
	require.Nil(t, held.Job)

	// A job recorded running answers every request, and shows in the intent.
	require.NoError(t, b.store.InTx(b.ctx, func(q *registry.Queries) error {
		next := time.Now().Add(time.Minute)
		_, err := q.SyncLink(b.ctx, registry.SyncLinkParams{ConnectionID: c.ID, AirbyteJobID: "8", Status: registry.JobRunning,
			NextCheckAt: &next, StartHolder: "/s r5", RequestSource: "/s", RequestID: "r5", RequestType: events.TypeSyncRequested})
		return err
	}))
	// The record gave the turn back: the connection's row stays, lapsed.
	var rows, heldNow int
	require.NoError(t, b.store.DB().QueryRow(b.ctx, `SELECT count(*), count(*) FILTER (WHERE held_until > now())
		FROM sync_starts WHERE connection_id = $1`, c.ID).Scan(&rows, &heldNow))
	require.Equal(t, []int{1, 0}, []int{rows, heldNow})
	open, err := b.store.SyncIntentBegin(b.ctx, "/s", "r6", c.ID, time.Time{})
	require.NoError(t, err)
	require.NotNil(t, open.Job)
	require.Equal(t, "8", open.Job.AirbyteJobID)
	turn, err := b.store.SyncStartTurn(b.ctx, c.ID, "/s r6", open.RequestedAt, time.Minute)
	require.NoError(t, err)
	require.False(t, turn.Claimed)
	require.Equal(t, "8", turn.Job.AirbyteJobID)
}

// TestSyncStartTurnHoldsTheStatusItRead: a start claim is ordered with the
// connection's status changes. A turn that read the connection ACTIVE and
// waits to take the claim (here behind its holder's release, held open)
// keeps the status from changing until it is done, so that no claim is
// taken on a status a change committed meanwhile (a holder marks the
// connection ORPHANED, then gives the claim back).
func TestSyncStartTurnHoldsTheStatusItRead(t *testing.T) {
	t.Parallel()
	s := dbtest.NewSchema(t)
	ctx := context.Background()
	b := &testBundle{store: registry.NewStore(s.Pool), ctx: ctx}
	c := activeConnection(t, b, "held")
	first, err := b.store.SyncStartTurn(ctx, c.ID, "/s a", time.Now(), time.Minute)
	require.NoError(t, err)
	require.True(t, first.Claimed)

	release, err := s.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = release.Rollback(ctx) }()
	var releasePID int
	require.NoError(t, release.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&releasePID))
	_, err = release.Exec(ctx, `SELECT 1 FROM sync_starts WHERE connection_id = $1 FOR UPDATE`, c.ID)
	require.NoError(t, err)

	type result struct {
		turn registry.SyncTurn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		turn, err := b.store.SyncStartTurn(ctx, c.ID, "/s b", time.Now(), time.Minute)
		done <- result{turn, err}
	}()
	require.Eventually(t, func() bool {
		var n int
		err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, releasePID).Scan(&n)
		return err == nil && n == 1
	}, 10*time.Second, 10*time.Millisecond, "the second turn waits for the holder's release")

	// The holder marks the connection: it waits for the turn in progress.
	orphan := func(timeout string) error {
		tx, err := s.Pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true)`, timeout); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE connections SET status = 'ORPHANED' WHERE id = $1`, c.ID); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	err = orphan("300ms")
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	require.True(t, ok && pgErr.Code == "55P03", "the status changed under a turn that read it: %v", err)

	_, err = release.Exec(ctx, `DELETE FROM sync_starts WHERE connection_id = $1`, c.ID)
	require.NoError(t, err)
	require.NoError(t, release.Commit(ctx))
	got := <-done
	require.NoError(t, got.err)
	require.True(t, got.turn.Claimed, "claimed on the status it held")

	require.NoError(t, orphan("10s"))
	_, err = s.Pool.Exec(ctx, `DELETE FROM sync_starts WHERE connection_id = $1`, c.ID)
	require.NoError(t, err)
	after, err := b.store.SyncStartTurn(ctx, c.ID, "/s c", time.Now(), time.Minute)
	require.NoError(t, err)
	require.False(t, after.Claimed)
	require.Equal(t, registry.StatusOrphaned, after.Status)
}
