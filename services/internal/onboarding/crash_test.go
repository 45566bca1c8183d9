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

// crashPoints are the instants at which a test kills the worker: every step
// boundary, and inside the create calls after Airbyte acted but before the
// worker recorded the result (source_created, connection_created).
var crashPoints = []string{
	"registered",
	"credentials",
	"source_definition",
	"create_source",  // the intent to create is recorded, POST /sources not sent
	"source_created", // POST /sources answered, its id not recorded
	"source_checkpointed",
	"discovered",
	"create_connection",  // the intent is recorded, POST /connections not sent
	"connection_created", // POST /connections answered, its id not recorded
	"connection_checkpointed",
	"connection_read",
}

// TestOnboardCrashAtEachStep kills the worker at each crash point and
// shows that a new worker finishes the onboarding with exactly one Airbyte
// source, one connection, one catalog version and one fact.
func TestOnboardCrashAtEachStep(t *testing.T) {
	t.Parallel()
	for _, point := range crashPoints {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			first := b.start(t, workerOpts{crashAt: point})
			reqID, _ := b.request("Crashy")
			select {
			case <-first.Crashed:
			case <-time.After(15 * time.Second):
				t.Fatalf("the worker never reached %s", point)
			}
			first.Kill()
			b.start(t, workerOpts{ownConn: true})
			requireOnboardedOnce(t, b, reqID, "Crashy")
		})
	}
}

// TestOnboardCrashWhileCreating loses the answer of a create call that
// Airbyte carried out and kills the worker at that instant.
func TestOnboardCrashWhileCreating(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/v1/sources", "/v1/connections"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			loss := testenv.NewAnswerLoss(http.MethodPost, path)
			b := setup(t, setupOpts{transport: loss.Transport})
			first := loss.Kills(b.start(t, workerOpts{ownConn: true}))
			reqID, _ := b.request("Reset")
			loss.Wait(t)
			first.Kill()
			b.start(t, workerOpts{ownConn: true})
			requireOnboardedOnce(t, b, reqID, "Reset")
			// The second delivery looked the object up before creating it.
			require.Equal(t, 1, b.calls.Count(http.MethodPost, path), "%s was created once", path)
		})
	}
}

// TestOnboardCrashTwice kills the worker at the same point on
// two deliveries in a row; the third finishes.
func TestOnboardCrashTwice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.start(t, workerOpts{crashAt: "source_created"})
	reqID, _ := b.request("Twice crashed")
	<-first.Crashed
	first.Kill()
	second := b.start(t, workerOpts{crashAt: "connection_created"})
	select {
	case <-second.Crashed:
	case <-time.After(15 * time.Second):
		t.Fatal("the second worker never reached connection_created")
	}
	second.Kill()
	b.start(t, workerOpts{ownConn: true})
	requireOnboardedOnce(t, b, reqID, "Twice crashed")
}

func requireOnboardedOnce(t *testing.T, b *bundle, reqID, name string) {
	t.Helper()
	fact := b.env.WaitFact(reqID, events.TypeOnboarded, 30*time.Second)
	got := testenv.Data[events.ConnectionOnboarded](t, fact)
	id := ConnectionID(b.requestSource(), reqID)
	require.Equal(t, id, got.ID)

	srcs := b.sourcesNamed(ObjectName(name, id))
	require.Len(t, srcs, 1, "one Airbyte source")
	conns := b.connectionsNamed(ObjectName(name, id))
	require.Len(t, conns, 1, "one Airbyte connection")
	require.Equal(t, srcs[0].ID, got.AirbyteSourceID)
	require.Equal(t, conns[0].ID, got.AirbyteConnectionID)
	require.Len(t, b.env.Emulator.Sources(), 1, "no other source at all")
	require.Len(t, b.env.Emulator.Connections(), 1, "no other connection at all")

	conn := b.env.Connection(id)
	require.Equal(t, registry.StatusActive, conn.Status)
	versions, err := b.env.Store.CatalogVersionList(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, versions, 1, "one catalog version")

	require.Equal(t, map[string]int{events.TypeOnboarded: 1}, b.env.OutboxTypes(reqID), "one fact")
	require.Len(t, b.factIDs(reqID, events.TypeOnboarded), 1, "one fact id")
	for _, f := range b.env.Facts(reqID) {
		require.Equal(t, events.TypeOnboarded, f.Type(), "no other fact answers the request")
	}
}
