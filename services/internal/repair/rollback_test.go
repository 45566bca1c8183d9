package repair

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/drift"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// withRegion makes a seeded connection's version 2: the source gained
// Account.Region__c, and a repair propagated it.
func (b *bundle) withRegion(t *testing.T, conn registry.Connection) {
	t.Helper()
	require.NoError(t, b.env.Emulator.MutateSchema(conn.AirbyteSourceID,
		emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"}))
	id := b.repair(t, conn.ID, catalogOf(protocol("Account", "incremental", "append_dedup")), "Region__c added")
	require.Equal(t, 2, testenv.Data[events.CatalogVersioned](t, b.env.WaitFact(id, events.TypeCatalogVersioned)).NewVersion)
}

func (b *bundle) rollback(t *testing.T, connID string, to int, dryRun bool) string {
	t.Helper()
	return b.env.Publish(events.TypeRollbackRequested, events.RollbackRequested{ConnectionID: connID, ToVersion: to, DryRun: dryRun},
		events.WithSubject(connID))
}

// accountFields lists the top-level fields of Account in a catalog version.
func accountFields(t *testing.T, v registry.CatalogVersion) map[string]json.RawMessage {
	t.Helper()
	var c airbyte.AirbyteCatalog
	require.NoError(t, json.Unmarshal(v.SyncCatalog, &c))
	s, ok := c.Stream("Account", "")
	require.True(t, ok)
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(s.Stream.JSONSchema, &schema))
	return schema.Properties
}

// TestRollback: a dry run answers the changes and changes nothing; the
// rollback itself is the next version, reason "rollback to 1", carrying
// version 1's definitions and the changes in catalog.versioned.
func TestRollback(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conn := b.seed(t, seedOpts{})
	b.start(t)
	b.withRegion(t, conn)

	plan := testenv.Data[events.RollbackPlanned](t, b.env.WaitFact(b.rollback(t, conn.ID, 1, true), events.TypeRollbackPlanned))
	require.True(t, plan.Applicable, "%+v", plan)
	require.Equal(t, 2, plan.CurrentVersion)
	require.Equal(t, 1, plan.ToVersion)
	require.Contains(t, plan.Summary, "field Region__c removed")
	var changes []drift.Change
	require.NoError(t, json.Unmarshal(plan.Changes, &changes))
	require.Len(t, changes, 1)
	require.Equal(t, drift.FieldRemoved, changes[0].Kind)
	require.JSONEq(t, `[]`, string(plan.Refresh), "the configuration is the same")
	require.Len(t, b.versions(t, conn.ID), 2, "a dry run changes nothing")
	require.Equal(t, 2, b.env.Connection(conn.ID).CatalogVersion)

	id := b.rollback(t, conn.ID, 1, false)
	v := testenv.Data[events.CatalogVersioned](t, b.env.WaitFact(id, events.TypeCatalogVersioned))
	require.Equal(t, 2, v.PreviousVersion)
	require.Equal(t, 3, v.NewVersion)
	require.Equal(t, 1, v.RollbackTo)
	require.Equal(t, "rollback to 1", v.Reason)
	require.Contains(t, v.Summary, "field Region__c removed")
	require.JSONEq(t, string(plan.Changes), string(v.Changes), "the dry run said what the rollback did")
	versions := b.versions(t, conn.ID)
	require.Len(t, versions, 3)
	require.Equal(t, "rollback to 1", versions[2].Reason)
	require.NotContains(t, accountFields(t, versions[2]), "Region__c")
	require.Equal(t, accountFields(t, versions[0]), accountFields(t, versions[2]), "version 1's definitions")
	b.requireActiveAndFree(t, conn.ID)
	require.Equal(t, 3, b.env.Connection(conn.ID).CatalogVersion)

	// The same request again (after JetStream's window): nothing new.
	b.env.PublishCopy(events.TypeRollbackRequested, id, events.RollbackRequested{ConnectionID: conn.ID, ToVersion: 1},
		events.WithSubject(conn.ID))
	again := b.rollback(t, conn.ID, 1, false)
	u := testenv.Data[events.CatalogVersioned](t, b.env.WaitFact(again, events.TypeCatalogVersioned))
	require.True(t, u.Unchanged, "version 3 is version 1 already")
	require.Equal(t, 1, u.RollbackTo)
	require.Len(t, b.versions(t, conn.ID), 3, "one version")
	require.Equal(t, map[string]int{events.TypeCatalogVersioned: 1}, b.env.OutboxTypes(id), "one fact")
}

// TestRollbackRefused: a version whose field the source no longer has, or
// a version that does not exist, is refused with the reason; the dry run
// says so too, and nothing changes.
func TestRollbackRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conn := b.seed(t, seedOpts{})
	b.start(t)
	b.withRegion(t, conn)
	require.NoError(t, b.env.Emulator.MutateSchema(conn.AirbyteSourceID,
		emulator.SchemaOp{Op: "remove_field", Stream: "Account", Field: "Phone"}))

	plan := testenv.Data[events.RollbackPlanned](t, b.env.WaitFact(b.rollback(t, conn.ID, 1, true), events.TypeRollbackPlanned))
	require.False(t, plan.Applicable)
	require.Equal(t, "Field [Phone] of stream Account in catalog version 1 no longer exists in the source's discovered catalog.", plan.Reason)
	require.Equal(t, "Account", plan.Stream)
	require.Contains(t, plan.Summary, "field Region__c removed", "measured on version 1 as recorded")

	failed := testenv.Data[events.RepairFailed](t, b.env.WaitFact(b.rollback(t, conn.ID, 1, false), events.TypeRepairFailed))
	require.Equal(t, plan.Reason, failed.Reason)
	require.Equal(t, "Account", failed.Stream)
	require.Equal(t, 1, failed.RollbackTo)
	require.Equal(t, string(registry.StatusActive), failed.Status)

	missing := testenv.Data[events.RepairFailed](t, b.env.WaitFact(b.rollback(t, conn.ID, 9, true), events.TypeRepairFailed))
	require.Contains(t, missing.Reason, "has no catalog version 9")
	require.Equal(t, "to_version", missing.Field)

	require.Len(t, b.versions(t, conn.ID), 2)
	b.requireActiveAndFree(t, conn.ID)
}

// TestRollbackPlansRefreshes: rolling back across a change of sync modes
// names the streams Airbyte must clear or refresh.
func TestRollbackPlansRefreshes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conn := b.seed(t, seedOpts{})
	b.start(t)
	id := b.repair(t, conn.ID, catalogOf(protocol("Account", "full_refresh", "overwrite")), "")
	v := testenv.Data[events.CatalogVersioned](t, b.env.WaitFact(id, events.TypeCatalogVersioned))
	require.Equal(t, 2, v.NewVersion)
	var refresh []drift.StreamRefresh
	require.NoError(t, json.Unmarshal(v.Refresh, &refresh))
	require.Len(t, refresh, 1, "catalog.versioned names them too")

	plan := testenv.Data[events.RollbackPlanned](t, b.env.WaitFact(b.rollback(t, conn.ID, 1, true), events.TypeRollbackPlanned))
	require.True(t, plan.Applicable)
	require.NoError(t, json.Unmarshal(plan.Refresh, &refresh))
	require.Equal(t, []drift.StreamRefresh{{Stream: "Account", Action: drift.NeedClear, Reasons: []string{
		"sync mode full_refresh → incremental", "destination sync mode overwrite → append_dedup"}}}, refresh)
	require.Contains(t, plan.Summary, "Account: sync mode full_refresh → incremental")
}

// TestRollbackCrashAtEachStep kills the worker after HEALING is committed,
// after the catalog is validated, and after connections/update answered
// but before the version was recorded; a new worker finishes the rollback
// with one version and one fact.
func TestRollbackCrashAtEachStep(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"healing", "validated", "updated"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			conn := b.seed(t, seedOpts{})
			w := b.start(t, workerOpts{ownConn: true})
			b.withRegion(t, conn)
			w.Kill()
			first := b.start(t, workerOpts{crashAt: point})
			reqID := b.rollback(t, conn.ID, 1, false)
			select {
			case <-first.Crashed:
			case <-time.After(15 * time.Second):
				t.Fatalf("the worker never reached %s", point)
			}
			first.Kill()
			require.Equal(t, registry.StatusHealing, b.env.Connection(conn.ID).Status, "left HEALING by the crash")
			b.start(t, workerOpts{ownConn: true})

			fact := b.env.WaitFact(reqID, events.TypeCatalogVersioned, 30*time.Second)
			got := testenv.Data[events.CatalogVersioned](t, fact)
			require.Equal(t, 3, got.NewVersion)
			require.Equal(t, "rollback to 1", got.Reason)
			versions := b.versions(t, conn.ID)
			require.Len(t, versions, 3, "one new version")
			require.Equal(t, reqID, versions[2].RequestID)
			b.requireActiveAndFree(t, conn.ID)
			require.Equal(t, map[string]int{events.TypeCatalogVersioned: 1}, b.env.OutboxTypes(reqID), "one fact")
			ids := map[string]bool{}
			for _, f := range b.env.Facts(reqID) {
				require.Equal(t, events.TypeCatalogVersioned, f.Type(), "no other fact answers the request")
				ids[f.ID()] = true
			}
			require.Len(t, ids, 1, "one fact id")
		})
	}
}
