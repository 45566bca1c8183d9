package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bustest"
	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
)

// lossyJS loses the first asynchronous publish of one message id, as a
// stream leader that goes away with the message in flight does: the
// message is never stored and its future fails. Every other publish goes
// through.
type lossyJS struct {
	jetstream.JetStream
	lose string

	mu   sync.Mutex
	lost bool
}

func (j *lossyJS) PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	j.mu.Lock()
	lose := !j.lost && msg.Header.Get(events.HeaderMsgID) == j.lose
	j.lost = j.lost || lose
	j.mu.Unlock()
	if !lose {
		return j.JetStream.PublishMsgAsync(msg, opts...)
	}
	errc := make(chan error, 1)
	errc <- errors.New("nats: stream leader lost")
	return lostFuture{msg: msg, err: errc}, nil
}

type lostFuture struct {
	msg *nats.Msg
	err chan error
}

func (f lostFuture) Ok() <-chan *jetstream.PubAck { return nil }
func (f lostFuture) Err() <-chan error            { return f.err }
func (f lostFuture) Msg() *nats.Msg               { return f.msg }

// TestRelayKeepsConnectionOrderWhenAPublishIsLost loses the publish of a
// connection's first event while the relay has its later events ready in
// the same batch: the stream must still hold the connection's events in
// commit order (a later event stored before the lost one is re-published
// would invert them).
func TestRelayKeepsConnectionOrderWhenAPublishIsLost(t *testing.T) {
	t.Parallel()
	_, _, js := bustest.Provisioned(t)
	store := registry.NewStore(dbtest.NewSchema(t).Pool)
	ctx := context.Background()

	// Two connections, three events each, interleaved, committed before
	// the relay starts so that they form one batch.
	var ids []string
	for i := range 3 {
		for _, conn := range []string{"conn-a", "conn-b"} {
			req := outbox.Request{Source: "/test", ID: fmt.Sprintf("%s-%d", conn, i)}
			require.NoError(t, store.InTx(ctx, func(q *registry.Queries) error {
				return outbox.Emit(ctx, q, events.TypeSyncStarted, "/aam/sync", conn, req,
					events.SyncStarted{ConnectionID: conn, JobID: fmt.Sprint(i)})
			}))
			ids = append(ids, events.DeterministicID(req.Source, req.ID, events.TypeSyncStarted))
		}
	}
	ljs := &lossyJS{JetStream: js, lose: ids[0]} // conn-a's first event

	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = outbox.NewRelay(store, ljs, outbox.RelayConfig{PollInterval: 5 * time.Millisecond}).Run(rctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool {
		p, err := store.OutboxPending(ctx, 10)
		return err == nil && len(p) == 0
	}, 15*time.Second, 20*time.Millisecond)

	got := streamIDs(t, js)
	require.ElementsMatch(t, ids, got)
	perConn := func(list []string, conn int) []string {
		var out []string
		for _, id := range list {
			for k := conn; k < len(ids); k += 2 {
				if ids[k] == id {
					out = append(out, id)
				}
			}
		}
		return out
	}
	for conn, name := range []string{"conn-a", "conn-b"} {
		require.Equal(t, perConn(ids, conn), perConn(got, conn), "order of %s's events in the stream", name)
	}
}

// TestRelayKeepsConnectionOrderAcrossLateCommits commits a connection's
// first event after events of other connections that took later sequence
// numbers were published, then the same transaction's second event and a
// later transaction's event of that connection: the stream holds the
// connection's three events in commit order, not the late first one
// last.
func TestRelayKeepsConnectionOrderAcrossLateCommits(t *testing.T) {
	t.Parallel()
	_, _, js := bustest.Provisioned(t)
	store := registry.NewStore(dbtest.NewSchema(t).Pool)
	ctx := context.Background()
	emit := func(q *registry.Queries, conn, id string) string {
		t.Helper()
		req := outbox.Request{Source: "/test", ID: id}
		require.NoError(t, outbox.Emit(ctx, q, events.TypeSyncStarted, "/aam/sync", conn, req,
			events.SyncStarted{ConnectionID: conn, JobID: id}))
		return events.DeterministicID(req.Source, req.ID, events.TypeSyncStarted)
	}

	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = outbox.NewRelay(store, js, outbox.RelayConfig{PollInterval: 5 * time.Millisecond}).Run(rctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	// The relay is leading and has published.
	var warm string
	require.NoError(t, store.InTx(ctx, func(q *registry.Queries) error {
		warm = emit(q, "conn-w", "w-1")
		return nil
	}))
	require.Eventually(t, func() bool { return len(streamIDs(t, js)) == 1 }, 10*time.Second, 5*time.Millisecond)

	tx, err := store.Pool().Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	first := emit(registry.New(tx), "conn-a", "a-1") // takes a sequence number, not committed

	var other []string
	require.NoError(t, store.InTx(ctx, func(q *registry.Queries) error {
		other = append(other, emit(q, "conn-b", "b-1"), emit(q, "conn-b", "b-2"))
		return nil
	}))
	require.Eventually(t, func() bool { return len(streamIDs(t, js)) == 3 }, 10*time.Second, 5*time.Millisecond,
		"conn-b's events published while conn-a's transaction is open")

	second := emit(registry.New(tx), "conn-a", "a-2")
	require.NoError(t, tx.Commit(ctx))
	var third string
	require.NoError(t, store.InTx(ctx, func(q *registry.Queries) error {
		third = emit(q, "conn-a", "a-3")
		return nil
	}))
	require.Eventually(t, func() bool {
		p, err := store.OutboxPending(ctx, 10)
		return err == nil && len(p) == 0
	}, 10*time.Second, 5*time.Millisecond)

	got := streamIDs(t, js)
	require.Equal(t, append([]string{warm}, other...), got[:3])
	require.Equal(t, []string{first, second, third}, got[3:], "conn-a's events in commit order")
}

// TestRelayDoesNotWaitForRolledBackSequenceNumbers leaves a sequence
// number of a rolled-back transaction missing for good: events after it
// still go out at once, however long the relay keeps looking for it.
func TestRelayDoesNotWaitForRolledBackSequenceNumbers(t *testing.T) {
	t.Parallel()
	_, _, js := bustest.Provisioned(t)
	store := registry.NewStore(dbtest.NewSchema(t).Pool)
	ctx := context.Background()
	emit := func(q *registry.Queries, id string) string {
		t.Helper()
		req := outbox.Request{Source: "/test", ID: id}
		require.NoError(t, outbox.Emit(ctx, q, events.TypeSyncStarted, "/aam/sync", "conn-a", req,
			events.SyncStarted{ConnectionID: "conn-a", JobID: id}))
		return events.DeterministicID(req.Source, req.ID, events.TypeSyncStarted)
	}
	commit := func(id string) string {
		var out string
		require.NoError(t, store.InTx(ctx, func(q *registry.Queries) error { out = emit(q, id); return nil }))
		return out
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = outbox.NewRelay(store, js, outbox.RelayConfig{PollInterval: 5 * time.Millisecond, GapWait: time.Hour}).Run(rctx)
	}()
	t.Cleanup(func() { cancel(); <-done })

	want := []string{commit("a-1")}
	require.Eventually(t, func() bool { return len(streamIDs(t, js)) == 1 }, 10*time.Second, 5*time.Millisecond)
	tx, err := store.Pool().Begin(ctx)
	require.NoError(t, err)
	emit(registry.New(tx), "rolled-back")
	require.NoError(t, tx.Rollback(ctx))
	for _, id := range []string{"a-2", "a-3", "a-4"} {
		want = append(want, commit(id))
		require.Eventually(t, func() bool { return len(streamIDs(t, js)) == len(want) }, 10*time.Second, 5*time.Millisecond,
			"%s published while the relay still looks for the rolled-back sequence number", id)
	}
	require.Equal(t, want, streamIDs(t, js))
}
