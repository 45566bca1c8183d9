package outbox_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
)

// TestEmitKeyed queues a keyed fact twice and once under another key: the
// outbox keeps one row of the id the key derives (the second is the same
// event), on the type's subject, with the subject and correlation given;
// the other key gives another id.
func TestEmitKeyed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := registry.NewStore(dbtest.NewSchema(t).Pool)
	conn := registry.NewID()
	emit := func(key string) {
		require.NoError(t, store.InTx(ctx, func(q *registry.Queries) error {
			return outbox.EmitKeyed(ctx, q, events.TypeConnectionPaused, "/aam/schema-observer", key, conn, "drift-fact",
				events.ConnectionPaused{ConnectionID: conn, CatalogVersion: 1, DriftID: "1-ab", Reason: "paused"})
		}))
	}
	emit("k1")
	emit("k1")
	emit("k2")
	rows, err := store.OutboxByConnection(ctx, conn, 10)
	require.NoError(t, err)
	require.Len(t, rows, 2, "the same key queues the same event once")
	var ids []string
	for _, r := range rows {
		e, err := outbox.Decode(r.OutboxRow)
		require.NoError(t, err)
		require.Equal(t, events.SubjectConnectionPaused, r.Subject)
		require.Equal(t, conn, e.Subject())
		require.Equal(t, "drift-fact", e.Extensions()[events.ExtCorrelationID])
		ids = append(ids, e.ID())
	}
	want := events.DeterministicID("/aam/schema-observer", "k1", events.TypeConnectionPaused)
	require.Equal(t, want, ids[0])
	require.Equal(t, events.DeterministicID("/aam/schema-observer", "k2", events.TypeConnectionPaused), ids[1])
}
