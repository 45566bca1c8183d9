package registry_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/pkg/registry"
)

// roundTrips counts what a pool sends to the server: each query sent on
// its own and each pipeline (batch) is one round trip.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// tracedStore is a Store on its own pool over a test schema, with its
// round trips counted.
func tracedStore(t *testing.T) (*registry.Store, *roundTrips) {
	t.Helper()
	s := dbtest.NewSchema(t)
	cfg := s.Pool.Config()
	rt := &roundTrips{}
	cfg.ConnConfig.Tracer = rt
	cfg.MaxConns = 1 // one connection: a broken one would show in the next call
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	store := registry.NewStore(pool)
	require.NoError(t, store.Ping(context.Background())) // the connection is open before counting
	return store, rt
}

// TestInTxSpendsNoRoundTripOfItsOwn shows what a transaction of the Store
// costs: BEGIN goes with its first statement and queued facts with its
// next round trip (its COMMIT when nothing follows), in order, so that a
// later statement sees them; a failed statement rolls everything back and
// leaves the connection usable; a transaction whose error the caller
// swallowed does not commit.
func TestInTxSpendsNoRoundTripOfItsOwn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, rt := tracedStore(t)
	facts := func(q *registry.Queries) int {
		var n int
		require.NoError(t, q.DB().QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n))
		return n
	}
	count := func(f func()) int64 {
		before := rt.n.Load()
		f()
		return rt.n.Load() - before
	}

	// A statement and two facts: two round trips, BEGIN with the
	// statement, the facts with COMMIT.
	var got int64
	trips := count(func() {
		require.NoError(t, store.InTx(ctx, func(q *registry.Queries) error {
			if err := q.DB().QueryRow(ctx, `SELECT 41 + 1`).Scan(&got); err != nil {
				return err
			}
			return q.OutboxQueue(ctx, row("l1", "c1"), row("l2", "c1"))
		}))
	})
	require.Equal(t, int64(42), got)
	require.Equal(t, int64(2), trips)
	require.Equal(t, 2, facts(store.Queries))

	// Facts queued before a statement go with it, and it sees them.
	trips = count(func() {
		require.NoError(t, store.InTx(ctx, func(q *registry.Queries) error {
			if err := q.OutboxQueue(ctx, row("l3", "c1")); err != nil {
				return err
			}
			require.Equal(t, 3, facts(q))
			_, err := q.DB().Exec(ctx, `SELECT 1`)
			return err
		}))
	})
	require.Equal(t, int64(3), trips, "the count with BEGIN and the fact, SELECT 1, COMMIT")

	// Only facts: one round trip.
	trips = count(func() {
		require.NoError(t, store.InTx(ctx, func(q *registry.Queries) error {
			return q.OutboxQueue(ctx, row("l4", "c1"))
		}))
	})
	require.Equal(t, int64(1), trips)
	require.Equal(t, 4, facts(store.Queries))

	// Nothing sent: nothing to commit.
	trips = count(func() {
		require.NoError(t, store.InTx(ctx, func(*registry.Queries) error { return nil }))
	})
	require.Zero(t, trips)

	// The caller's error rolls back the statements and the facts.
	errFn := errors.New("give up")
	err := store.InTx(ctx, func(q *registry.Queries) error {
		if err := q.OutboxQueue(ctx, row("l5", "c1")); err != nil {
			return err
		}
		if _, err := q.DB().Exec(ctx, `SELECT 1`); err != nil {
			return err
		}
		return errors.Join(errFn, q.OutboxQueue(ctx, row("l6", "c1")))
	})
	require.ErrorIs(t, err, errFn)
	require.Equal(t, 4, facts(store.Queries))

	// A failed statement reports its error; the connection is usable after.
	err = store.InTx(ctx, func(q *registry.Queries) error {
		_ = q.OutboxQueue(ctx, row("l7", "c1"))
		var n int
		return q.DB().QueryRow(ctx, `SELECT 1 / 0`).Scan(&n)
	})
	require.ErrorContains(t, err, "division by zero")
	require.Equal(t, 4, facts(store.Queries))

	// An error the caller swallowed aborts the transaction: COMMIT fails.
	err = store.InTx(ctx, func(q *registry.Queries) error {
		_, _ = q.DB().Exec(ctx, `SELECT 1 / 0`)
		return q.OutboxQueue(ctx, row("l8", "c1"))
	})
	require.Error(t, err)
	require.Equal(t, 4, facts(store.Queries))

	// A statement sent as a pipeline takes BEGIN with it too.
	trips = count(func() {
		require.NoError(t, store.InTx(ctx, func(q *registry.Queries) error {
			b := &pgx.Batch{}
			b.Queue(`SELECT 1`)
			b.Queue(`SELECT 2`)
			return q.DB().SendBatch(ctx, b).Close()
		}))
	})
	require.Equal(t, int64(2), trips)
}

// TestSyncRecordIsOneRoundTrip shows the fast path's transaction sent
// whole with its COMMIT: one round trip whether it commits or is refused
// (then one more, the ROLLBACK).
func TestSyncRecordIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	store, rt := tracedStore(t)
	b := &testBundle{store: store, ctx: context.Background()}
	c := activeConnection(t, b, "one-trip")
	next := time.Now().Add(time.Second)
	p := registry.SyncLinkParams{ConnectionID: c.ID, AirbyteJobID: "5", Status: registry.JobRunning, NextCheckAt: &next,
		RequestSource: "/s", RequestID: "one", RequestType: events.TypeSyncRequested}
	before := rt.n.Load()
	committed, err := store.SyncRecord(b.ctx, p, []registry.OutboxRow{row("one-fact", c.ID)}, registry.SyncWant{Created: true, CatalogVersion: 1})
	require.NoError(t, err)
	require.True(t, committed)
	require.Equal(t, int64(1), rt.n.Load()-before)

	p.RequestID = "two"
	before = rt.n.Load()
	committed, err = store.SyncRecord(b.ctx, p, nil, registry.SyncWant{Created: true, CatalogVersion: 1})
	require.NoError(t, err)
	require.False(t, committed, "recorded already: refused")
	require.Equal(t, int64(2), rt.n.Load()-before)
}

// TestSyncRecordThenCarriesTheLink shows the fast path of a job that
// ended before it was recorded: the checked link goes with the first round
// trip of Then (here the success's health and volume record, which sees
// the new row), the facts with the COMMIT, two round trips in all; a
// refused outcome rolls back Then's statements as well.
func TestSyncRecordThenCarriesTheLink(t *testing.T) {
	t.Parallel()
	store, rt := tracedStore(t)
	b := &testBundle{store: store, ctx: context.Background()}
	c := activeConnection(t, b, "then-trip")
	start, end := time.Now().Add(-time.Second).UTC(), time.Now().UTC()
	p := registry.SyncLinkParams{JobID: registry.NewID(), ConnectionID: c.ID, AirbyteJobID: "7",
		Status: registry.JobSucceeded, StartedAt: &start, CompletedAt: &end, RowsSynced: 3,
		RequestSource: "/s", RequestID: "one", RequestType: events.TypeSyncRequested}
	job := registry.Job{ID: p.JobID, ConnectionID: c.ID, AirbyteJobID: "7", Status: registry.JobSucceeded,
		StartedAt: &start, CompletedAt: &end, RowsSynced: 3}
	streams := []registry.StreamStat{{Stream: "users", Records: 3, Bytes: 30}}
	var hist registry.VolumeHistory
	want := registry.SyncWant{Created: true, CatalogVersion: 1, Then: func(q *registry.Queries) (err error) {
		hist, err = q.SuccessRecord(b.ctx, job, streams, 5)
		return err
	}}
	before := rt.n.Load()
	fact := row("then-fact", c.ID)
	fact.CorrelationID = "one"
	committed, err := store.SyncRecord(b.ctx, p, []registry.OutboxRow{fact}, want)
	require.NoError(t, err)
	require.True(t, committed)
	require.Equal(t, int64(2), rt.n.Load()-before)
	require.Empty(t, hist.Records, "the job's own volume is not its history")
	got, err := store.JobGet(b.ctx, p.JobID)
	require.NoError(t, err)
	require.Equal(t, registry.JobSucceeded, got.Status)
	stats, err := store.StatsList(b.ctx, c.ID, 5)
	require.NoError(t, err)
	require.Len(t, stats, 1)
	require.Equal(t, streams, stats[0].Streams)
	facts, err := store.OutboxByCorrelation(b.ctx, "one")
	require.NoError(t, err)
	require.Len(t, facts, 1)

	// The same Airbyte job for another request: recorded already, refused,
	// and the volume Then records is rolled back with it.
	p.JobID, p.RequestID = registry.NewID(), "two"
	job.ID = p.JobID
	committed, err = store.SyncRecord(b.ctx, p, nil, want)
	require.NoError(t, err)
	require.False(t, committed)
	stats, err = store.StatsList(b.ctx, c.ID, 5)
	require.NoError(t, err)
	require.Len(t, stats, 1)
	_, err = store.JobGet(b.ctx, p.JobID)
	require.True(t, registry.IsNotFound(err), "%v", err)
}

// TestInTxTakesAnExecMode: a statement given its own pgx.QueryExecMode
// runs in a transaction of the Store as well, in or out of a pipeline.
func TestInTxTakesAnExecMode(t *testing.T) {
	t.Parallel()
	store, _ := tracedStore(t)
	ctx := context.Background()
	require.NoError(t, store.InTx(ctx, func(q *registry.Queries) error {
		var n int64
		if err := q.DB().QueryRow(ctx, `SELECT $1::bigint`, pgx.QueryExecModeExec, int64(4)).Scan(&n); err != nil {
			return err
		}
		require.Equal(t, int64(4), n)
		_, err := q.DB().Exec(ctx, `SELECT $1::bigint`, pgx.QueryExecModeExec, int64(5))
		return err
	}))
}
