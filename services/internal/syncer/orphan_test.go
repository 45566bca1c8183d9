package syncer

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// orphanedFacts returns the connection.orphaned facts about a connection.
func (h *harness) orphanedFacts(connID string) []event.Event {
	var out []event.Event
	for _, f := range h.Facts("") {
		if f.Type() == events.TypeConnectionOrphaned && f.Subject() == connID {
			out = append(out, f)
		}
	}
	return out
}

// TestRequestWaitingForTheTurnOfAForgottenConnection holds the request
// that starts a connection's sync until another request waits for the
// turn, with Airbyte's state gone: the holder's POST /jobs answers 404 and
// marks the connection ORPHANED before it gives the turn up, so the waiter
// fails at once without asking Airbyte. A copy of a request published
// after its answer is answered by the inbox.
func TestRequestWaitingForTheTurnOfAForgottenConnection(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{})
	conn := h.SeedConnection()
	h.Emulator.Reset()
	var turns atomic.Int32
	bothTurned := make(chan struct{})
	h.start(testConfig(), func(w *Worker) {
		w.beforeTurn = func(context.Context) {
			if turns.Add(1) == 2 {
				close(bothTurned)
			}
		}
		w.beforeStart = func(ctx context.Context) error {
			select {
			case <-bothTurned:
			case <-time.After(10 * time.Second):
			case <-ctx.Done():
			}
			return nil
		}
	})
	ids := []string{h.sync(conn.ID), h.sync(conn.ID)}
	for _, id := range ids {
		failed := testenv.Data[events.SyncFinished](t, h.WaitFact(id, events.TypeSyncFailed))
		require.Contains(t, failed.ErrorMessage, "connection "+conn.ID+" is ORPHANED (Airbyte does not know connection "+conn.AirbyteConnectionID)
	}
	require.Equal(t, 1, h.calls.count("POST /jobs"), "one start asked Airbyte")
	require.Equal(t, registry.StatusOrphaned, h.Connection(conn.ID).Status)
	require.Len(t, h.orphanedFacts(conn.ID), 1)

	seq := h.publishAgain(ids[0], conn.ID)
	h.waitAcked(seq)
	require.Len(t, h.factsOf(ids[0])[events.TypeSyncFailed], 1, "one answer")
	require.Equal(t, 1, h.calls.count("POST /jobs"))
	require.Len(t, h.orphanedFacts(conn.ID), 1)
}

// TestFollowedJobOfAForgottenConnection follows a running job whose
// Airbyte then forgets everything: at the follow deadline the job is not
// found, nor is its connection, so the job fails with the reason and the
// connection is marked ORPHANED, once; a later request fails at once.
func TestFollowedJobOfAForgottenConnection(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{emulator: emulator.Config{JobRunning: time.Hour}})
	conn := h.SeedConnection()
	cfg := testConfig()
	cfg.FollowTimeout = 300 * time.Millisecond
	h.start(cfg)
	id := h.sync(conn.ID)
	started := testenv.Data[events.SyncStarted](t, h.WaitFact(id, events.TypeSyncStarted))
	h.Emulator.Reset()

	failed := testenv.Data[events.SyncFinished](t, h.WaitFact(id, events.TypeSyncFailed))
	require.Equal(t, started.JobID, failed.JobID)
	require.Contains(t, failed.ErrorMessage, "Airbyte no longer knows job "+started.JobID)
	require.Contains(t, failed.ErrorMessage, "connection "+conn.ID+" is ORPHANED (Airbyte does not know connection "+
		conn.AirbyteConnectionID+": GET /api/public/v1/connections/"+conn.AirbyteConnectionID+" answered 404)")
	require.Equal(t, registry.StatusOrphaned, h.Connection(conn.ID).Status)
	facts := h.orphanedFacts(conn.ID)
	require.Len(t, facts, 1)
	require.Empty(t, events.CorrelationID(facts[0]), "no request met the 404")
	got := testenv.Data[events.ConnectionOrphaned](t, facts[0])
	require.Equal(t, "ACTIVE", got.PreviousStatus)
	require.Equal(t, events.OrphanedConnection, got.Resource)

	starts := h.calls.count("POST /jobs")
	later := h.sync(conn.ID)
	require.Contains(t, testenv.Data[events.SyncFinished](t, h.WaitFact(later, events.TypeSyncFailed)).ErrorMessage, "is ORPHANED")
	require.Equal(t, starts, h.calls.count("POST /jobs"))
	require.Len(t, h.orphanedFacts(conn.ID), 1)
}
