package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/bustest"
	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
)

func queueFacts(t *testing.T, store *registry.Store, n int, prefix string) []string {
	t.Helper()
	var ids []string
	for i := range n {
		req := outbox.Request{Source: "/test", ID: fmt.Sprintf("%s-%d", prefix, i)}
		err := store.InTx(context.Background(), func(q *registry.Queries) error {
			return outbox.Emit(context.Background(), q, events.TypeSyncStarted, "/aam/sync", "conn-1", req,
				events.SyncStarted{ConnectionID: "conn-1", JobID: fmt.Sprint(i)})
		})
		require.NoError(t, err)
		ids = append(ids, events.DeterministicID(req.Source, req.ID, events.TypeSyncStarted))
	}
	return ids
}

// streamIDs returns the Nats-Msg-Id of every message in AAM_EVENTS, in order.
func streamIDs(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	ctx := context.Background()
	c, err := js.OrderedConsumer(ctx, bus.StreamEvents, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	s, err := js.Stream(ctx, bus.StreamEvents)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	var ids []string
	for range info.State.Msgs {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		require.NoError(t, err)
		ids = append(ids, m.Headers().Get(events.HeaderMsgID))
	}
	return ids
}

func TestRelayPublishesOnceAcrossRestarts(t *testing.T) {
	t.Parallel()
	_, _, js := bustest.Provisioned(t)
	store := registry.NewStore(dbtest.NewSchema(t).Pool)
	ids := queueFacts(t, store, 120, "a")

	// First relay publishes a batch, then "crashes" before marking it.
	crashed := make(chan struct{})
	var once atomic.Bool
	cfg := outbox.WithBeforeMark(outbox.RelayConfig{BatchSize: 50}, func([]int64) error {
		if once.CompareAndSwap(false, true) {
			close(crashed)
		}
		return errors.New("relay killed")
	})
	ctx1, stop1 := context.WithCancel(context.Background())
	done1 := make(chan struct{})
	go func() { defer close(done1); _ = outbox.NewRelay(store, js, cfg).Run(ctx1) }()
	<-crashed
	stop1()
	<-done1

	pending, err := store.OutboxPending(context.Background(), 1000)
	require.NoError(t, err)
	require.Len(t, pending, 120, "nothing was marked published")

	// A new relay publishes everything; the re-published batch is dropped.
	ids = append(ids, queueFacts(t, store, 30, "b")...)
	ctx2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	go func() { _ = outbox.NewRelay(store, js, outbox.RelayConfig{BatchSize: 50}).Run(ctx2) }()
	require.Eventually(t, func() bool {
		p, err := store.OutboxPending(context.Background(), 10)
		return err == nil && len(p) == 0
	}, 10*time.Second, 20*time.Millisecond)

	require.Equal(t, ids, streamIDs(t, js), "every event once, in outbox order")
}

func TestRelayElectsOneLeader(t *testing.T) {
	t.Parallel()
	_, _, js := bustest.Provisioned(t)
	store := registry.NewStore(dbtest.NewSchema(t).Pool)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 3 {
		go func() {
			_ = outbox.NewRelay(store, js, outbox.RelayConfig{BatchSize: 7, PollInterval: 5 * time.Millisecond}).Run(ctx)
		}()
	}
	ids := queueFacts(t, store, 100, "c")
	require.Eventually(t, func() bool {
		p, err := store.OutboxPending(context.Background(), 10)
		return err == nil && len(p) == 0
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, ids, streamIDs(t, js))
}

func TestLedgerRejectsOnce(t *testing.T) {
	t.Parallel()
	store := registry.NewStore(dbtest.NewSchema(t).Pool)
	l := outbox.NewLedger(store, "/aam/test")
	ctx := context.Background()
	r := bus.Rejection{RequestID: "r1", RequestSource: "/x", RequestType: "t", Subject: events.SubjectSyncRequest,
		Stream: bus.StreamRequests, Sequence: 7, Reason: "bad", Field: "data.connection_id"}
	require.NoError(t, l.Reject(ctx, r))
	require.NoError(t, l.Reject(ctx, r))
	out, err := l.Outcome(ctx, "/x", "r1")
	require.NoError(t, err)
	require.Equal(t, bus.OutcomeRejected, out)
	facts, err := store.OutboxByCorrelation(ctx, "r1")
	require.NoError(t, err)
	require.Len(t, facts, 1)
	require.Equal(t, events.TypeRequestRejected, facts[0].EventType)

	// Without id/source the stream sequence is the key.
	anon := bus.Rejection{Subject: events.SubjectSyncRequest, Stream: bus.StreamRequests, Sequence: 9, Reason: "not a CloudEvent"}
	require.NoError(t, l.Reject(ctx, anon))
	out, err = l.Outcome(ctx, "nats:"+bus.StreamRequests, "9")
	require.NoError(t, err)
	require.Equal(t, bus.OutcomeRejected, out)
	none, err := l.Outcome(ctx, "/x", "unknown")
	require.NoError(t, err)
	require.Equal(t, bus.OutcomeNone, none)
}
