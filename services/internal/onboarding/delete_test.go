package onboarding

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// onboarded onboards a connection and returns its registry row.
func (b *bundle) onboarded(t *testing.T, name string) registry.Connection {
	t.Helper()
	reqID, _ := b.request(name)
	b.env.WaitFact(reqID, events.TypeOnboarded, 30*time.Second)
	return b.env.Connection(ConnectionID(b.requestSource(), reqID))
}

// requireDeletedOnce checks that a delete request was answered by exactly
// one connection.deleted, that the Airbyte connection and source are gone
// and that the registry kept the connection's history.
func requireDeletedOnce(t *testing.T, b *bundle, reqID string, c registry.Connection) events.ConnectionDeleted {
	t.Helper()
	fact := b.env.WaitFact(reqID, events.TypeConnectionDeleted, 30*time.Second)
	got := testenv.Data[events.ConnectionDeleted](t, fact)
	require.Equal(t, c.ID, got.ConnectionID)
	require.Equal(t, "DELETED", got.Status)
	require.Equal(t, c.AirbyteSourceID, got.AirbyteSourceID)
	require.Equal(t, c.AirbyteConnectionID, got.AirbyteConnectionID)
	require.Equal(t, map[string]int{events.TypeConnectionDeleted: 1}, b.env.OutboxTypes(reqID), "one fact")
	require.Len(t, b.factIDs(reqID, events.TypeConnectionDeleted), 1, "one fact id")

	for _, s := range b.env.Emulator.Sources() {
		if s.ID == c.AirbyteSourceID {
			require.True(t, s.Deleted, "the Airbyte source is deleted")
		}
	}
	for _, ac := range b.env.Emulator.Connections() {
		if ac.ID == c.AirbyteConnectionID {
			require.Equal(t, "deprecated", ac.Status, "the Airbyte connection is deleted")
		}
	}
	conn := b.env.Connection(c.ID)
	require.Equal(t, registry.StatusDeleted, conn.Status)
	require.Equal(t, c.AirbyteSourceID, conn.AirbyteSourceID, "the Airbyte ids stay recorded")
	versions, err := b.env.Store.CatalogVersionList(context.Background(), c.ID)
	require.NoError(t, err)
	require.Len(t, versions, 1, "the catalog versions stay")
	return got
}

func TestDeleteHappyPath(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t)
	c := b.onboarded(t, "Doomed")

	reqID := b.env.Publish(events.TypeDeleteRequested, events.DeleteRequested{ConnectionID: c.ID, Reason: "replaced"})
	got := requireDeletedOnce(t, b, reqID, c)
	require.Equal(t, "ACTIVE", got.PreviousStatus)
	require.Equal(t, "replaced", got.Reason)
	require.Equal(t, "replaced", b.env.Connection(c.ID).StatusReason)
	require.Equal(t, 1, b.calls.Count(http.MethodDelete, "/v1/connections/"+c.AirbyteConnectionID))
	require.Equal(t, 1, b.calls.Count(http.MethodDelete, "/v1/sources/"+c.AirbyteSourceID))

	// Deleting again answers at once, without asking Airbyte.
	again := b.env.Publish(events.TypeDeleteRequested, events.DeleteRequested{ConnectionID: c.ID})
	got = testenv.Data[events.ConnectionDeleted](t, b.env.WaitFact(again, events.TypeConnectionDeleted))
	require.Equal(t, "DELETED", got.PreviousStatus)
	require.Equal(t, 1, b.calls.Count(http.MethodDelete, "/v1/connections/"+c.AirbyteConnectionID))

	// An unknown connection is refused with the reason.
	unknown := b.env.Publish(events.TypeDeleteRequested, events.DeleteRequested{ConnectionID: "7b0e0a3c-0000-4000-8000-000000000000"})
	rej := testenv.Data[events.RequestRejected](t, b.env.WaitFact(unknown, events.TypeRequestRejected))
	require.Contains(t, rej.Reason, "is not registered")
}

// TestDeleteObjectsAlreadyGone deletes a connection whose Airbyte objects
// someone else deleted: Airbyte's 404s count as deleted.
func TestDeleteObjectsAlreadyGone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t)
	c := b.onboarded(t, "Gone before")
	require.NoError(t, b.env.Airbyte.DeleteSource(context.Background(), c.AirbyteSourceID))

	reqID := b.env.Publish(events.TypeDeleteRequested, events.DeleteRequested{ConnectionID: c.ID})
	requireDeletedOnce(t, b, reqID, c)
}

// TestDeleteCrash kills the worker between the Airbyte deletes, between
// them and the registry update, and after the registry update before the
// message is acknowledged: the redelivery ends with exactly one
// connection.deleted and the Airbyte objects gone.
func TestDeleteCrash(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"delete_started", "airbyte_connection_deleted", "airbyte_deleted", "delete_recorded"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			onb := b.start(t, workerOpts{ownConn: true})
			c := b.onboarded(t, "Crashy delete")
			onb.Kill()

			first := b.start(t, workerOpts{crashAt: point})
			reqID := b.env.Publish(events.TypeDeleteRequested, events.DeleteRequested{ConnectionID: c.ID})
			select {
			case <-first.Crashed:
			case <-time.After(15 * time.Second):
				t.Fatalf("the worker never reached %s", point)
			}
			first.Kill()
			b.start(t, workerOpts{ownConn: true})
			requireDeletedOnce(t, b, reqID, c)
		})
	}
}
