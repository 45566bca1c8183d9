package repair

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// TestRepairCrashAtEachStep kills the worker after HEALING is committed,
// after the catalog is validated, and after connections/update answered but
// before the version was recorded; a new worker finishes the repair with
// one version and one fact.
func TestRepairCrashAtEachStep(t *testing.T) {
	eachCrashPoint(t, func(t *testing.T, point string, b *bundle, conn registry.Connection) {
		require.NoError(t, b.env.Emulator.MutateSchema(conn.AirbyteSourceID,
			emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"}))
		reqID := b.crashAt(t, point, conn.ID, func() string {
			return b.repair(t, conn.ID, catalogOf(protocol("Account", "incremental", "append_dedup"),
				protocol("Lead", "full_refresh", "overwrite")), "")
		})
		requireRepairedOnce(t, b, conn, reqID)
	})
}

// eachCrashPoint runs test, in parallel, for every crash point of the
// worker, each on a connection of its own.
func eachCrashPoint(t *testing.T, test func(t *testing.T, point string, b *bundle, conn registry.Connection)) {
	t.Parallel()
	for _, point := range []string{"healing", "validated", "updated"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			test(t, point, b, b.seed(t, seedOpts{}))
		})
	}
}

// TestRepairCrashWhileUpdating loses the answer of connections/update,
// which Airbyte carried out, and kills the worker at that instant.
func TestRepairCrashWhileUpdating(t *testing.T) {
	t.Parallel()
	loss := testenv.NewAnswerLoss(http.MethodPost, updatePath)
	b := setup(t, setupOpts{transport: loss.Transport})
	conn := b.seed(t, seedOpts{})
	first := loss.Kills(b.start(t, workerOpts{ownConn: true}))
	reqID := b.repair(t, conn.ID, catalogOf(protocol("Account", "incremental", "append_dedup"),
		protocol("Lead", "full_refresh", "overwrite")), "")
	loss.Wait(t)
	first.Kill()
	b.start(t, workerOpts{ownConn: true})
	requireRepairedOnce(t, b, conn, reqID)
	require.Equal(t, 2, b.calls.Count(http.MethodPost, updatePath), "the update is sent again: it converges")
}

func requireRepairedOnce(t *testing.T, b *bundle, conn registry.Connection, reqID string) {
	t.Helper()
	fact := b.env.WaitFact(reqID, events.TypeCatalogVersioned, 30*time.Second)
	got := testenv.Data[events.CatalogVersioned](t, fact)
	require.Equal(t, 1, got.PreviousVersion)
	require.Equal(t, 2, got.NewVersion)
	require.False(t, got.Unchanged)

	versions := b.versions(t, conn.ID)
	require.Len(t, versions, 2, "one new version")
	require.Equal(t, reqID, versions[1].RequestID)
	require.Equal(t, got.ContentHash, versions[1].ContentHash)
	b.requireActiveAndFree(t, conn.ID)
	require.Equal(t, 2, b.env.Connection(conn.ID).CatalogVersion)
	require.Equal(t, []string{"Account", "Lead"}, streamNames(b.airbyteConnection(t, conn.AirbyteConnectionID)))
	requireOneFact(t, b, reqID)
}

// crashAt starts a worker that dies at point, publishes a request about
// connection connID with publish, waits for the crash, checks that it left
// the connection HEALING and starts a worker that carries on.
func (b *bundle) crashAt(t *testing.T, point, connID string, publish func() string) string {
	t.Helper()
	first := b.start(t, workerOpts{crashAt: point})
	reqID := publish()
	select {
	case <-first.Crashed:
	case <-time.After(15 * time.Second):
		t.Fatalf("the worker never reached %s", point)
	}
	first.Kill()
	require.Equal(t, registry.StatusHealing, b.env.Connection(connID).Status, "left HEALING by the crash")
	b.start(t, workerOpts{ownConn: true})
	return reqID
}

// requireOneFact checks that one catalog.versioned, with one id, answers
// the request.
func requireOneFact(t *testing.T, b *bundle, reqID string) {
	t.Helper()
	require.Equal(t, map[string]int{events.TypeCatalogVersioned: 1}, b.env.OutboxTypes(reqID), "one fact")
	ids := map[string]bool{}
	for _, f := range b.env.Facts(reqID) {
		require.Equal(t, events.TypeCatalogVersioned, f.Type(), "no other fact answers the request")
		ids[f.ID()] = true
	}
	require.Len(t, ids, 1, "one fact id")
}

// TestRollbackCrashAtEachStep kills the worker after HEALING is committed,
// after the catalog is validated, and after connections/update answered
// but before the version was recorded; a new worker finishes the rollback
// with one version and one fact.
func TestRollbackCrashAtEachStep(t *testing.T) {
	eachCrashPoint(t, func(t *testing.T, point string, b *bundle, conn registry.Connection) {
		w := b.start(t, workerOpts{ownConn: true})
		b.withRegion(t, conn)
		w.Kill()
		reqID := b.crashAt(t, point, conn.ID, func() string { return b.rollback(t, conn.ID, 1, false) })
		got := testenv.Data[events.CatalogVersioned](t, b.env.WaitFact(reqID, events.TypeCatalogVersioned, 30*time.Second))
		require.Equal(t, 3, got.NewVersion)
		require.Equal(t, "rollback to 1", got.Reason)
		versions := b.versions(t, conn.ID)
		require.Len(t, versions, 3, "one new version")
		require.Equal(t, reqID, versions[2].RequestID)
		b.requireActiveAndFree(t, conn.ID)
		requireOneFact(t, b, reqID)
	})
}
