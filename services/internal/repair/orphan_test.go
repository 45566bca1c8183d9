package repair

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/schemas"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// TestRepairOfAForgottenConnection repairs a connection whose Airbyte has
// forgotten everything: the discover of its source answers 404, so the
// connection goes from HEALING to ORPHANED, once, and the repair fails
// with the reason; a second repair fails at once, without Airbyte.
func TestRepairOfAForgottenConnection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t)
	c := b.seed(t, seedOpts{})
	b.env.Emulator.Reset()
	catalog := catalogOf(protocol("Account", "incremental", "append_dedup"))

	reqID := b.repair(t, c.ID, catalog, "")
	fact := b.env.WaitFact(reqID, events.TypeRepairFailed)
	require.NoError(t, schemas.Validate(events.TypeRepairFailed, fact.Data()))
	got := testenv.Data[events.RepairFailed](t, fact)
	reason := "Airbyte does not know source " + c.AirbyteSourceID + ": POST /api/v1/sources/discover_schema answered 404"
	require.Equal(t, events.StatusOrphaned, got.Status)
	require.Equal(t, "connection "+c.ID+" is ORPHANED ("+reason+")", got.Reason)
	require.Equal(t, 1, b.calls.Status(http.StatusNotFound), "one Airbyte call answered 404")
	conn := b.env.Connection(c.ID)
	require.Equal(t, registry.StatusOrphaned, conn.Status)
	require.Equal(t, reason, conn.StatusReason)
	h, err := b.env.Store.ConnectionHealingHolder(b.env.Ctx, c.ID)
	require.NoError(t, err)
	require.False(t, h.Held())
	require.Equal(t, map[string]int{events.TypeRepairFailed: 1, events.TypeConnectionOrphaned: 1}, b.env.OutboxTypes(reqID))
	orphaned := testenv.Data[events.ConnectionOrphaned](t, b.env.WaitFact(reqID, events.TypeConnectionOrphaned))
	require.Equal(t, events.OrphanedSource, orphaned.Resource)
	require.Equal(t, c.AirbyteSourceID, orphaned.ResourceID)
	require.Equal(t, "HEALING", orphaned.PreviousStatus)

	calls := b.calls.Total()
	again := b.repair(t, c.ID, catalog, "")
	got = testenv.Data[events.RepairFailed](t, b.env.WaitFact(again, events.TypeRepairFailed))
	require.Contains(t, got.Reason, "is ORPHANED, not ACTIVE: only an ACTIVE connection can be repaired ("+reason+")")
	require.Equal(t, calls, b.calls.Total(), "no Airbyte call")
	require.Equal(t, map[string]int{events.TypeRepairFailed: 1}, b.env.OutboxTypes(again))
}
