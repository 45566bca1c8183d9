package registry_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/registry"
)

func TestConnectionHealingHolder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := newConnection(t, b, "req-heal")

	h, err := b.store.ConnectionHealingHolder(b.ctx, c.ID)
	require.NoError(t, err)
	require.False(t, h.Held())

	healing, err := b.store.ConnectionStartHealing(b.ctx, c.ID, "/test", "repair-1", "applying a new catalog")
	require.NoError(t, err)
	require.Equal(t, registry.StatusHealing, healing.Status)
	require.Equal(t, "applying a new catalog", healing.StatusReason)

	h, err = b.store.ConnectionHealingHolder(b.ctx, c.ID)
	require.NoError(t, err)
	require.True(t, h.Held())
	require.True(t, h.Is("/test", "repair-1"))
	require.False(t, h.Is("/test", "repair-2"))
	require.False(t, h.StartedAt.IsZero())

	require.NoError(t, b.store.ConnectionStopHealing(b.ctx, c.ID))
	h, err = b.store.ConnectionHealingHolder(b.ctx, c.ID)
	require.NoError(t, err)
	require.False(t, h.Held())
	require.True(t, h.StartedAt.IsZero())

	_, err = b.store.ConnectionHealingHolder(b.ctx, registry.NewID())
	require.ErrorIs(t, err, registry.ErrNotFound)
	require.ErrorIs(t, b.store.ConnectionStopHealing(b.ctx, registry.NewID()), registry.ErrNotFound)
	_, err = b.store.ConnectionStartHealing(b.ctx, "not-a-uuid", "/test", "x", "")
	require.ErrorIs(t, err, registry.ErrNotFound)
}

// TestConnectionOrphanOnce marks a connection ORPHANED from eight callers
// at once: one marks it and queues its fact, the others find it marked.
func TestConnectionOrphanOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := newConnection(t, b, "req-orphan")
	var built atomic.Int32
	fact := func(c registry.Connection, previous registry.ConnectionStatus) (registry.OutboxRow, error) {
		built.Add(1)
		r := row("orphaned-"+c.ID, c.ID)
		r.CorrelationID = "orphan-" + c.ID
		r.EventType = string(previous) // what the fact saw, for the test
		return r, nil
	}

	// PENDING is not live: onboarding owns the connection.
	got, marked, err := b.store.ConnectionOrphan(b.ctx, c.ID, "gone", fact)
	require.NoError(t, err)
	require.False(t, marked)
	require.Equal(t, registry.StatusPending, got.Status)

	_, err = b.store.ConnectionActivate(b.ctx, c.ID, 1, "")
	require.NoError(t, err)
	_, err = b.store.ConnectionStartHealing(b.ctx, c.ID, "/test", "repair-1", "applying a new catalog")
	require.NoError(t, err)

	// A fact that cannot be built leaves the connection as it was.
	_, _, err = b.store.ConnectionOrphan(b.ctx, c.ID, "gone", func(registry.Connection, registry.ConnectionStatus) (registry.OutboxRow, error) {
		return registry.OutboxRow{}, errors.New("no fact")
	})
	require.Error(t, err)
	require.Equal(t, registry.StatusHealing, connectionStatus(t, b, c.ID))

	var wg sync.WaitGroup
	var marks atomic.Int32
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, marked, err := b.store.ConnectionOrphan(b.ctx, c.ID, "Airbyte does not know connection X", fact)
			if err != nil {
				t.Error(err)
				return
			}
			if marked {
				marks.Add(1)
			}
			if got.Status != registry.StatusOrphaned {
				t.Errorf("status %s after the call, want ORPHANED", got.Status)
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 1, marks.Load(), "one caller marks the connection")
	require.EqualValues(t, 1, built.Load(), "one fact built")

	conn, err := b.store.ConnectionGet(b.ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, registry.StatusOrphaned, conn.Status)
	require.Equal(t, "Airbyte does not know connection X", conn.StatusReason)
	h, err := b.store.ConnectionHealingHolder(b.ctx, c.ID)
	require.NoError(t, err)
	require.False(t, h.Held(), "the repair request no longer holds it")
	msgs, err := b.store.OutboxByCorrelation(b.ctx, "orphan-"+c.ID)
	require.NoError(t, err)
	require.Len(t, msgs, 1, "one fact queued")
	require.Equal(t, string(registry.StatusHealing), msgs[0].EventType, "the fact saw the previous status")

	// Neither ORPHANED nor DELETED is live.
	_, err = b.store.ConnectionSetStatus(b.ctx, c.ID, registry.StatusDeleted, "deleted on request")
	require.NoError(t, err)
	got, marked, err = b.store.ConnectionOrphan(b.ctx, c.ID, "gone", fact)
	require.NoError(t, err)
	require.False(t, marked)
	require.Equal(t, registry.StatusDeleted, got.Status)
	require.EqualValues(t, 1, built.Load())

	_, _, err = b.store.ConnectionOrphan(context.Background(), registry.NewID(), "gone", fact)
	require.ErrorIs(t, err, registry.ErrNotFound)
}

func connectionStatus(t *testing.T, b *testBundle, id string) registry.ConnectionStatus {
	t.Helper()
	c, err := b.store.ConnectionGet(b.ctx, id)
	require.NoError(t, err)
	return c.Status
}

func TestConnectionStatusLive(t *testing.T) {
	t.Parallel()
	for s, want := range map[registry.ConnectionStatus]bool{
		registry.StatusActive: true, registry.StatusHealing: true, registry.StatusPaused: true,
		registry.StatusPending: false, registry.StatusFailed: false, registry.StatusDeleted: false, registry.StatusOrphaned: false,
	} {
		require.Equal(t, want, s.Live(), s)
	}
}
