package registry_test

import (
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
