package registry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/registry"
)

func row(id, connectionID string) registry.OutboxRow {
	return registry.OutboxRow{EventID: id, EventType: "test.v1", Subject: "aam.events.test",
		ConnectionID: connectionID, Headers: map[string][]string{"Nats-Msg-Id": {id}}, Data: []byte(`{}`)}
}

// answering is row for the request correlationID.
func answering(id, connectionID, correlationID string) registry.OutboxRow {
	r := row(id, connectionID)
	r.CorrelationID = correlationID
	return r
}

func TestOutboxRowsAreStoredAsGiven(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := answering("e1", "c1", "req-1")
	ok, err := b.store.OutboxAdd(b.ctx, in)
	require.NoError(t, err)
	require.True(t, ok)
	msgs, err := b.store.OutboxByCorrelation(b.ctx, "req-1")
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, in, msgs[0].OutboxRow)
	require.False(t, msgs[0].Published)

	_, err = b.store.OutboxAdd(b.ctx, registry.OutboxRow{Subject: "aam.events.test"})
	require.ErrorIs(t, err, registry.ErrInvalid, "a row needs an event id")
}

// TestOutboxCommitsWakeTheRelay: rows queued in a Store transaction
// announce themselves once it commits, whatever Queries queued them; rows
// queued outside a transaction are committed, and announced, at once; a
// rolled-back transaction announces nothing.
func TestOutboxCommitsWakeTheRelay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	kicked := make(chan struct{}, 10)
	b.store.OnOutboxCommit(func() { kicked <- struct{}{} })
	requireKicks := func(n int) {
		t.Helper()
		require.Len(t, kicked, n)
		for range n {
			<-kicked
		}
	}

	err := b.store.InTx(b.ctx, func(q *registry.Queries) error {
		again := *q // Queries holds nothing but its DBTX: a copy works alike
		_, err := again.OutboxAddAll(b.ctx, []registry.OutboxRow{row("t1", "c1"), row("t2", "c1")})
		require.Empty(t, kicked, "nothing is announced before the commit")
		return err
	})
	require.NoError(t, err)
	requireKicks(1)

	err = b.store.InTx(b.ctx, func(q *registry.Queries) error {
		_, err := q.OutboxAdd(b.ctx, row("t3", "c1"))
		require.NoError(t, err)
		return errors.New("rolled back")
	})
	require.Error(t, err)
	requireKicks(0)

	err = b.store.InTx(b.ctx, func(q *registry.Queries) error {
		_, err := q.OutboxAdd(b.ctx, row("t1", "c1")) // already queued
		return err
	})
	require.NoError(t, err)
	requireKicks(0)

	ok, err := b.store.OutboxAdd(b.ctx, row("t4", "c1"))
	require.NoError(t, err)
	require.True(t, ok)
	requireKicks(1)

	pending, err := b.store.OutboxPending(b.ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 3)
}

func TestOutboxLockElectsOneSession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := setup(t)
	key, err := b.store.OutboxLockKey(b.ctx)
	require.NoError(t, err)
	otherKey, err := other.store.OutboxLockKey(b.ctx)
	require.NoError(t, err)
	require.NotEqual(t, key, otherKey, "registries in separate schemas elect their relays apart")
	again, err := b.store.OutboxLockKey(b.ctx)
	require.NoError(t, err)
	require.Equal(t, key, again)

	session := func() *registry.Queries {
		conn, err := b.store.Pool().Acquire(b.ctx)
		require.NoError(t, err)
		t.Cleanup(conn.Release)
		return registry.New(conn)
	}
	first, second := session(), session()
	locked, err := first.OutboxLock(b.ctx, key)
	require.NoError(t, err)
	require.True(t, locked)
	locked, err = second.OutboxLock(b.ctx, key)
	require.NoError(t, err)
	require.False(t, locked, "one session holds the lock")
	require.NoError(t, first.OutboxUnlock(b.ctx, key))
	locked, err = second.OutboxLock(b.ctx, key)
	require.NoError(t, err)
	require.True(t, locked)
	require.NoError(t, second.OutboxUnlock(b.ctx, key))
}

// TestOutboxBoundWaitsForRunningTransactions: a transaction that took a
// sequence number before the bound keeps it unsettled until it ends.
func TestOutboxBoundWaitsForRunningTransactions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	empty, err := b.store.OutboxBoundGet(b.ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, empty.Next, "nothing handed out yet")

	tx, err := b.store.Pool().Begin(b.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.WithoutCancel(b.ctx)) }()
	_, err = b.store.WithTx(tx).OutboxAdd(b.ctx, row("late", "c1"))
	require.NoError(t, err)

	bound, err := b.store.OutboxBoundGet(b.ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, bound.Next)
	settled, err := b.store.OutboxBoundSettled(b.ctx, bound)
	require.NoError(t, err)
	require.False(t, settled, "the transaction holding seq 1 still runs")

	require.NoError(t, tx.Commit(b.ctx))
	// Other sessions' transactions count too: a long one delays this.
	require.Eventually(t, func() bool {
		settled, err := b.store.OutboxBoundSettled(b.ctx, bound)
		require.NoError(t, err)
		return settled
	}, 30*time.Second, 10*time.Millisecond)
}

// TestOutboxRowsOfOneCallKeepTheirOrder: rows added together go in as
// given, in their order (their sequence numbers rise in it), with their
// headers and data; ids queued before are skipped and not counted.
func TestOutboxRowsOfOneCallKeepTheirOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.OutboxAdd(b.ctx, answering("o2", "c9", "order"))
	require.NoError(t, err)
	var rows []registry.OutboxRow
	for _, id := range []string{"o3", "o1", "o2", "o5", "o4"} {
		r := answering(id, "c9", "order")
		r.Data = []byte(`{"id":"` + id + `"}`)
		rows = append(rows, r)
	}
	n, err := b.store.OutboxAddAll(b.ctx, rows)
	require.NoError(t, err)
	require.Equal(t, 4, n, "o2 was queued already")
	msgs, err := b.store.OutboxByCorrelation(b.ctx, "order")
	require.NoError(t, err)
	var got []string
	for i, m := range msgs {
		got = append(got, m.EventID)
		if i > 0 {
			require.Greater(t, m.Seq, msgs[i-1].Seq)
		}
		if m.EventID != "o2" {
			require.JSONEq(t, `{"id":"`+m.EventID+`"}`, string(m.Data))
			require.Equal(t, row(m.EventID, "c9").Headers, m.Headers)
		}
	}
	require.Equal(t, []string{"o2", "o3", "o1", "o5", "o4"}, got)
}
