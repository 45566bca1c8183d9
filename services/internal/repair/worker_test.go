package repair

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/schemas"
	"github.com/aam-mesh/aam/services/internal/drift"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

const updatePath = "/api/v1/connections/update"

// TestRepairAppliesSeedCatalog applies the seed's documented repair (in the
// Airbyte protocol form) after the source drifted.
func TestRepairAppliesSeedCatalog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t)
	ctx := context.Background()
	conn := b.seed(t, seedOpts{})
	// The source drifts: Account gains a field.
	require.NoError(t, b.env.Emulator.MutateSchema(conn.AirbyteSourceID,
		emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"}))

	reqID := b.repair(t, conn.ID, catalogOf(
		protocol("Account", "incremental", "append_dedup"),
		protocol("Contact", "full_refresh", "overwrite"),
	), "Region__c added upstream")
	fact := b.env.WaitFact(reqID, events.TypeCatalogVersioned)

	versions := b.versions(t, conn.ID)
	require.Len(t, versions, 2)
	v2 := versions[1]
	require.Equal(t, 2, v2.VersionNumber)
	require.Equal(t, "Region__c added upstream", v2.Reason)
	require.Equal(t, reqID, v2.RequestID)
	require.Equal(t, b.requestSource(), v2.RequestSource)
	hash, err := registry.CatalogHash(v2.SyncCatalog)
	require.NoError(t, err)
	require.Equal(t, hash, v2.ContentHash)
	require.NotEqual(t, versions[0].ContentHash, v2.ContentHash)

	// The fact: the seed's repair response, answering the request.
	require.Equal(t, Source, fact.Source())
	require.Equal(t, conn.ID, fact.Subject())
	require.Equal(t, reqID, events.CorrelationID(fact))
	require.Equal(t, events.DeterministicID(b.requestSource(), reqID, events.TypeCatalogVersioned), fact.ID())
	require.NoError(t, schemas.Validate(events.TypeCatalogVersioned, fact.Data()))
	want := events.CatalogVersioned{ConnectionID: conn.ID, PreviousVersion: 1, NewVersion: 2, Status: "success",
		Message: "Catalog updated and versioned successfully", ContentHash: v2.ContentHash, Reason: "Region__c added upstream"}
	got := testenv.Data[events.CatalogVersioned](t, fact)
	// The changes from version 1 ride along.
	require.Equal(t, "Account: field Region__c added; Contact: stream added", got.Summary)
	require.Contains(t, string(got.Changes), `"kind":"field_added"`)
	require.Contains(t, string(got.Diff), `"add_field"`)
	require.JSONEq(t, `[]`, string(got.Refresh))
	got.Summary, got.Diff, got.Changes, got.Refresh = "", nil, nil, nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("catalog.versioned (-want +got):\n%s", diff)
	}

	// Registry: ACTIVE at version 2, the new source catalog recorded.
	b.requireActiveAndFree(t, conn.ID)
	after := b.env.Connection(conn.ID)
	require.Equal(t, 2, after.CatalogVersion)
	require.Equal(t, v2.SourceCatalogID, after.AirbyteSourceCatalogID)
	require.NotEqual(t, conn.AirbyteSourceCatalogID, after.AirbyteSourceCatalogID, "a fresh discover's catalog")

	// Airbyte: the whole catalog replaced, the new field there, the
	// connection pointing at the new discover, breakingChange false.
	ac := b.airbyteConnection(t, conn.AirbyteConnectionID)
	require.Equal(t, []string{"Account", "Contact"}, streamNames(ac))
	require.Equal(t, after.AirbyteSourceCatalogID, ac.SourceCatalogID)
	require.False(t, ac.BreakingChange)
	account := ac.Streams[0]
	require.Contains(t, account.Stream.JSONSchema["properties"], "Region__c")
	require.Equal(t, "incremental", account.Config.SyncMode)
	require.Equal(t, "append_dedup", account.Config.DestinationSyncMode)
	require.Equal(t, []string{"SystemModstamp"}, account.Config.CursorField, "the source's cursor")
	require.Equal(t, [][]string{{"Id"}}, account.Config.PrimaryKey, "the source's primary key")
	require.Equal(t, "full_refresh", ac.Streams[1].Config.SyncMode)

	// The stored version is what Airbyte now holds.
	var stored airbyte.AirbyteCatalog
	require.NoError(t, json.Unmarshal(v2.SyncCatalog, &stored))
	require.Len(t, stored.Streams, 2)
	require.Contains(t, string(stored.Streams[0].Stream.JSONSchema), "Region__c")

	require.Equal(t, 1, b.calls.Count(http.MethodPost, updatePath))
	require.Equal(t, map[string]int{events.TypeCatalogVersioned: 1}, b.env.OutboxTypes(reqID))
	in, err := b.env.Store.InboxGet(ctx, b.requestSource(), reqID)
	require.NoError(t, err)
	require.Equal(t, registry.OutcomeDone, in.Outcome)
}

// TestRepairConfigAPIForm applies a catalog in the configuration API's form,
// with a user-chosen cursor on a stream whose source defines none.
func TestRepairConfigAPIForm(t *testing.T) {
	t.Parallel()
	b := setup(t)
	registerWarehouse(t, b.env.Emulator)
	b.start(t)
	conn := b.seed(t, seedOpts{sourceType: "Warehouse", streams: []airbyte.StreamConfiguration{
		{Name: "orders", SyncMode: airbyte.SyncModeFullRefreshOverwrite}}})

	reqID := b.repair(t, conn.ID, map[string]any{"streams": []any{
		map[string]any{
			"stream": map[string]any{"name": "orders"},
			"config": map[string]any{"syncMode": "incremental", "destinationSyncMode": "append_dedup",
				"cursorField": []string{"updated_at"}, "primaryKey": [][]string{{"id"}}, "selected": true},
		},
		map[string]any{ // not selected: dropped
			"stream": map[string]any{"name": "customers"},
			"config": map[string]any{"syncMode": "full_refresh", "destinationSyncMode": "overwrite", "selected": false},
		},
	}}, "")
	fact := b.env.WaitFact(reqID, events.TypeCatalogVersioned)
	got := testenv.Data[events.CatalogVersioned](t, fact)
	require.Equal(t, 2, got.NewVersion)
	require.Equal(t, DefaultReason, got.Reason)

	ac := b.airbyteConnection(t, conn.AirbyteConnectionID)
	require.Equal(t, []string{"orders"}, streamNames(ac))
	cfg := ac.Streams[0].Config
	require.Equal(t, "incremental", cfg.SyncMode)
	require.Equal(t, []string{"updated_at"}, cfg.CursorField)
	require.Equal(t, [][]string{{"id"}}, cfg.PrimaryKey)
	b.requireActiveAndFree(t, conn.ID)
}

// TestRepairIdenticalCatalogIsIdempotent applies the connection's current
// catalog: no new version, no Airbyte update.
func TestRepairIdenticalCatalogIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t)
	conn := b.seed(t, seedOpts{})
	before := b.versions(t, conn.ID)

	// The same configuration in the protocol form, and the stored version
	// itself in the configuration API form.
	for _, catalog := range []any{
		catalogOf(protocol("Account", "incremental", "append_dedup")),
		json.RawMessage(before[0].SyncCatalog),
	} {
		reqID := b.repair(t, conn.ID, catalog, "nothing changed")
		fact := b.env.WaitFact(reqID, events.TypeCatalogVersioned)
		require.NoError(t, schemas.Validate(events.TypeCatalogVersioned, fact.Data()))
		want := events.CatalogVersioned{ConnectionID: conn.ID, PreviousVersion: 1, NewVersion: 1, Status: "success",
			Message: MessageUnchanged, ContentHash: before[0].ContentHash, Reason: "nothing changed", Unchanged: true}
		if diff := cmp.Diff(want, testenv.Data[events.CatalogVersioned](t, fact)); diff != "" {
			t.Errorf("catalog.versioned (-want +got):\n%s", diff)
		}
	}
	require.Len(t, b.versions(t, conn.ID), 1)
	require.Zero(t, b.calls.Count(http.MethodPost, updatePath))
	b.requireActiveAndFree(t, conn.ID)
	require.Equal(t, 1, b.env.Connection(conn.ID).CatalogVersion)
}

// TestRepairRejectsCatalog sends catalogs Airbyte would refuse: each ends
// in repair_failed naming the stream and field, the connection ACTIVE as it
// was, and no connections/update call.
func TestRepairRejectsCatalog(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		warehouse  bool
		drift      []emulator.SchemaOp
		catalog    any
		wantStream string
		wantField  string
		wantReason string
	}{
		{
			name:       "unknown stream",
			catalog:    catalogOf(protocol("Invoice__c", "full_refresh", "overwrite")),
			wantStream: "Invoice__c", wantField: "stream.name",
			wantReason: "No streams found with name [Invoice__c] and namespace [null]",
		},
		{
			name:       "unsupported sync mode",
			drift:      []emulator.SchemaOp{{Op: "add_stream", Stream: "Note", Schema: plainSchema("Id", "Body")}},
			catalog:    catalogOf(protocol("Note", "incremental", "append")),
			wantStream: "Note", wantField: "sync_mode",
			wantReason: "Cannot set sync mode to incremental for stream Note. Supported sync modes are: [full_refresh]",
		},
		{
			name:       "destination sync mode the destination lacks",
			catalog:    catalogOf(protocol("Account", "incremental", "update")),
			wantStream: "Account", wantField: "destination_sync_mode",
			wantReason: "Cannot set sync mode to incremental_update for stream Account. Valid sync modes are:",
		},
		{
			name:       "missing cursor",
			warehouse:  true,
			catalog:    catalogOf(protocol("orders", "incremental", "append")),
			wantStream: "orders", wantField: "cursor_field",
			wantReason: "No default cursor field for stream: orders. Please include a cursor field configuration for this stream.",
		},
		{
			name:       "cursor not in the schema",
			warehouse:  true,
			catalog:    catalogOf(protocol("orders", "incremental", "append", map[string]any{"cursor_field": []string{"modified"}})),
			wantStream: "orders", wantField: "cursor_field",
			wantReason: "Invalid cursor field [modified] for stream: orders",
		},
		{
			name:       "cursor contradicting the source's",
			catalog:    catalogOf(protocol("Account", "incremental", "append_dedup", map[string]any{"cursor_field": []string{"CreatedDate"}})),
			wantStream: "Account", wantField: "cursor_field",
			wantReason: "Cursor Field [CreatedDate] is already defined by source for stream: Account.",
		},
		{
			name:       "primary key contradicting the source's",
			catalog:    catalogOf(protocol("Account", "incremental", "append_dedup", map[string]any{"primary_key": [][]string{{"Name"}}})),
			wantStream: "Account", wantField: "primary_key",
			wantReason: "Primary key for stream: Account is already pre-defined. Please remove the primaryKey or provide the value as [[Id]].",
		},
		{
			name:       "dedup without a primary key",
			warehouse:  true,
			catalog:    catalogOf(protocol("events", "incremental", "append_dedup", map[string]any{"cursor_field": []string{"at"}})),
			wantStream: "events", wantField: "primary_key",
			wantReason: "No default primary key for stream: events.",
		},
		{
			name:      "primary key not in the schema",
			warehouse: true,
			catalog: catalogOf(protocol("events", "incremental", "append_dedup", map[string]any{
				"cursor_field": []string{"at"}, "primary_key": [][]string{{"event_id"}}})),
			wantStream: "events", wantField: "primary_key",
			wantReason: "Invalid primary key [[event_id]] for stream: events.",
		},
		{
			name: "configuration API form names its own fields",
			catalog: map[string]any{"streams": []any{map[string]any{
				"stream": map[string]any{"name": "Account"},
				"config": map[string]any{"syncMode": "incremental", "destinationSyncMode": "append_dedup", "cursorField": []string{"Name"}},
			}}},
			wantStream: "Account", wantField: "config.cursorField",
			wantReason: "Cursor Field [Name] is already defined by source",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var conn registry.Connection
			if tc.warehouse {
				registerWarehouse(t, b.env.Emulator)
				conn = b.seed(t, seedOpts{sourceType: "Warehouse", streams: []airbyte.StreamConfiguration{
					{Name: "orders", SyncMode: airbyte.SyncModeFullRefreshOverwrite}}})
			} else {
				conn = b.seed(t, seedOpts{})
			}
			if len(tc.drift) > 0 {
				require.NoError(t, b.env.Emulator.MutateSchema(conn.AirbyteSourceID, tc.drift...))
			}
			before := b.airbyteConnection(t, conn.AirbyteConnectionID)
			b.start(t)

			reqID := b.repair(t, conn.ID, tc.catalog, "")
			fact := b.env.WaitFact(reqID, events.TypeRepairFailed)
			require.NoError(t, schemas.Validate(events.TypeRepairFailed, fact.Data()))
			got := testenv.Data[events.RepairFailed](t, fact)
			require.Equal(t, conn.ID, got.ConnectionID)
			require.Equal(t, conn.ID, fact.Subject())
			require.Equal(t, reqID, events.CorrelationID(fact))
			require.Equal(t, tc.wantStream, got.Stream)
			require.Equal(t, tc.wantField, got.Field)
			require.Contains(t, got.Reason, tc.wantReason)
			require.Equal(t, events.StatusActive, got.Status)

			b.requireActiveAndFree(t, conn.ID)
			require.Len(t, b.versions(t, conn.ID), 1)
			require.Zero(t, b.calls.Count(http.MethodPost, updatePath), "Airbyte was not changed")
			if diff := cmp.Diff(before, b.airbyteConnection(t, conn.AirbyteConnectionID)); diff != "" {
				t.Errorf("Airbyte connection changed (-before +after):\n%s", diff)
			}
			in, err := b.env.Store.InboxGet(context.Background(), b.requestSource(), reqID)
			require.NoError(t, err)
			require.Equal(t, registry.OutcomeFailed, in.Outcome)
			require.Equal(t, map[string]int{events.TypeRepairFailed: 1}, b.env.OutboxTypes(reqID))
		})
	}
}

// TestRepairRefusesConnections covers connections that cannot be repaired:
// unknown, or not ACTIVE. Airbyte is not called.
func TestRepairRefusesConnections(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t)
	ctx := context.Background()
	failed := b.seed(t, seedOpts{})
	_, err := b.env.Store.ConnectionSetStatus(ctx, failed.ID, registry.StatusFailed, "create_connection: boom")
	require.NoError(t, err)
	pending, _, err := b.env.Store.ConnectionCreate(ctx, registry.ConnectionCreateParams{
		ID: registry.NewID(), Name: "Pending", SourceType: "Salesforce", RequestSource: "/test", RequestID: "pending"})
	require.NoError(t, err)
	calls := b.calls.Total()

	unknown := registry.NewID()
	for _, tc := range []struct {
		id, wantStatus, wantReason string
	}{
		{unknown, "", "connection " + unknown + " is not registered"},
		{failed.ID, events.StatusFailed, "is FAILED, not ACTIVE: only an ACTIVE connection can be repaired"},
		{pending.ID, events.StatusPending, "is PENDING, not ACTIVE"},
	} {
		reqID := b.repair(t, tc.id, catalogOf(protocol("Account", "incremental", "append_dedup")), "")
		fact := b.env.WaitFact(reqID, events.TypeRepairFailed)
		require.NoError(t, schemas.Validate(events.TypeRepairFailed, fact.Data()))
		got := testenv.Data[events.RepairFailed](t, fact)
		require.Equal(t, tc.id, got.ConnectionID)
		require.Equal(t, tc.wantStatus, got.Status)
		require.Contains(t, got.Reason, tc.wantReason)
		require.Equal(t, "connection_id", got.Field)
	}
	require.Equal(t, calls, b.calls.Total(), "no Airbyte call")
	require.Equal(t, registry.StatusFailed, b.env.Connection(failed.ID).Status)
	require.Equal(t, registry.StatusPending, b.env.Connection(pending.ID).Status)
}

// TestRepairWaitsForAnotherRepair starts a repair while another request
// holds the connection HEALING; it goes through once that one ends.
func TestRepairWaitsForAnotherRepair(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conn := b.seed(t, seedOpts{})
	b.holdHealing(t, conn.ID, "other-repair")
	b.start(t, workerOpts{maxDeliver: 100})

	reqID := b.repair(t, conn.ID, catalogOf(protocol("Contact", "full_refresh", "overwrite")), "")
	require.Eventually(t, func() bool { return b.env.Logs.FilterMessage("request will be retried").Len() >= 2 },
		10*time.Second, 10*time.Millisecond)
	require.Empty(t, b.env.Facts(reqID))
	require.Zero(t, b.calls.Count(http.MethodPost, updatePath))

	// The other repair ends.
	b.endHealing(t, conn.ID)
	got := testenv.Data[events.CatalogVersioned](t, b.env.WaitFact(reqID, events.TypeCatalogVersioned))
	require.Equal(t, 2, got.NewVersion)
	require.Equal(t, []string{"Contact"}, streamNames(b.airbyteConnection(t, conn.AirbyteConnectionID)))
}

// TestRepairRidesOutAirbyteFaults injects 5xx and 429 answers on every
// Airbyte call the repair makes.
func TestRepairRidesOutAirbyteFaults(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conn := b.seed(t, seedOpts{})
	b.env.Emulator.SetFaults(emulator.Faults{ErrorRate: 0.4, ErrorStatus: http.StatusServiceUnavailable, RateLimitRate: 0.2})
	b.start(t, workerOpts{maxDeliver: 50})
	reqID := b.repair(t, conn.ID, catalogOf(protocol("Account", "full_refresh", "overwrite")), "")
	got := testenv.Data[events.CatalogVersioned](t, b.env.WaitFact(reqID, events.TypeCatalogVersioned, 60*time.Second))
	require.Equal(t, 2, got.NewVersion)
	require.Positive(t, b.calls.Status(http.StatusServiceUnavailable))
	require.Positive(t, b.calls.Status(http.StatusTooManyRequests))
	require.Len(t, b.versions(t, conn.ID), 2)
	b.requireActiveAndFree(t, conn.ID)
	require.Equal(t, map[string]int{events.TypeCatalogVersioned: 1}, b.env.OutboxTypes(reqID))
}

// TestRepairGivesUpRestoresStatus fails every update until the request
// gives up: the connection is ACTIVE again and the reason says why.
func TestRepairGivesUpRestoresStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{airbyte: airbyte.Config{MaxAttempts: 1}})
	conn := b.seed(t, seedOpts{})
	b.env.Emulator.SetFaults(emulator.Faults{Path: updatePath, ErrorRate: 1, ErrorStatus: http.StatusInternalServerError})
	b.start(t, workerOpts{maxDeliver: 3})
	reqID := b.repair(t, conn.ID, catalogOf(protocol("Contact", "full_refresh", "overwrite")), "")
	got := testenv.Data[events.RepairFailed](t, b.env.WaitFact(reqID, events.TypeRepairFailed))
	require.Equal(t, events.StatusActive, got.Status)
	require.Contains(t, got.Reason, "update the Airbyte connection's catalog")
	require.Contains(t, got.Reason, "gave up after 3 deliveries")
	b.requireActiveAndFree(t, conn.ID)
	require.Len(t, b.versions(t, conn.ID), 1)
}

// registerWarehouse adds a source type whose streams have no source-defined
// cursor: "orders" (primary key id; fields id, updated_at, total) and
// "events" (no primary key; fields at, kind).
func registerWarehouse(t *testing.T, e *emulator.Emulator) {
	t.Helper()
	require.NoError(t, e.RegisterSourceDefinition(emulator.SourceDefinition{
		ID: "4f0b6c8e-2a51-4b6c-9d0e-7a3c1e5b9f21", Name: "Warehouse", SourceType: "warehouse",
		Streams: []emulator.Stream{
			{Name: "orders", JSONSchema: plainSchema("id", "updated_at", "total"),
				SupportedSyncModes: []string{"full_refresh", "incremental"}, DefaultCursorField: []string{},
				SourceDefinedPrimaryKey: [][]string{{"id"}}},
			{Name: "events", JSONSchema: plainSchema("at", "kind"),
				SupportedSyncModes: []string{"full_refresh", "incremental"}, DefaultCursorField: []string{},
				SourceDefinedPrimaryKey: [][]string{}},
		},
		SuggestedStreams: []string{"orders"},
	}))
}

func plainSchema(fields ...string) map[string]any {
	props := map[string]any{}
	for _, f := range fields {
		props[f] = map[string]any{"type": []any{"string", "null"}}
	}
	return map[string]any{"type": "object", "properties": props}
}

// TestRepairRefusesASchemaThatMovedAgain sends a repair decided on one
// schema of the source after the source changed again: it is refused with
// nothing applied, and the same repair decided on the current schema goes
// through.
func TestRepairRefusesASchemaThatMovedAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t)
	ctx := context.Background()
	conn := b.seed(t, seedOpts{})
	schemaHash := func() string {
		disc, err := b.env.Airbyte.ConfigAPI().DiscoverSchema(ctx, airbyte.DiscoverSchemaRequest{SourceID: conn.AirbyteSourceID})
		require.NoError(t, err)
		h, err := drift.SchemaHash(disc.Catalog)
		require.NoError(t, err)
		return h
	}
	publish := func(hash string) string {
		raw, err := json.Marshal(catalogOf(protocol("Account", "incremental", "append_dedup"), protocol("Contact", "full_refresh", "overwrite")))
		require.NoError(t, err)
		return b.env.Publish(events.TypeRepairRequested, events.RepairRequested{
			ConnectionID: conn.ID, NewSyncCatalog: raw, Reason: "decided", SourceSchemaHash: hash})
	}

	decided := schemaHash()
	require.NoError(t, b.env.Emulator.MutateSchema(conn.AirbyteSourceID,
		emulator.SchemaOp{Op: "change_type", Stream: "Account", Field: "AnnualRevenue", Type: "integer"}))
	current := schemaHash()
	require.NotEqual(t, decided, current)

	fact := b.env.WaitFact(publish(decided), events.TypeRepairFailed)
	require.NoError(t, schemas.Validate(events.TypeRepairFailed, fact.Data()))
	got := testenv.Data[events.RepairFailed](t, fact)
	require.Contains(t, got.Reason, "the source's schema changed again after this repair was decided")
	require.Equal(t, "source_schema_hash", got.Field)
	require.Zero(t, b.calls.Count(http.MethodPost, updatePath), "nothing applied in Airbyte")
	require.Len(t, b.versions(t, conn.ID), 1)
	b.requireActiveAndFree(t, conn.ID)

	fact = b.env.WaitFact(publish(current), events.TypeCatalogVersioned)
	require.Equal(t, 2, testenv.Data[events.CatalogVersioned](t, fact).NewVersion)
	require.Len(t, b.versions(t, conn.ID), 2)
}

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

// bare404 answers every call whose path ends in suffix with a 404 that
// names nothing, as a proxy in front of Airbyte (or a server that sends
// only an errorId) would, without sending it.
type bare404 struct {
	next   http.RoundTripper
	suffix string
}

func (b bare404) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.URL.Path, b.suffix) {
		return b.next.RoundTrip(r)
	}
	return &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"errorId":"0b1e2f3a-0000-4000-8000-000000000000"}`)), Request: r}, nil
}

// TestRepairConfirmsA404ThatNamesNothing answers the repair's discover
// with a 404 that names nothing: the connection is marked ORPHANED only
// when Airbyte's GET /connections/{id} says it does not know it either.
func TestRepairConfirmsA404ThatNamesNothing(t *testing.T) {
	t.Parallel()
	for _, forgotten := range []bool{false, true} {
		t.Run(fmt.Sprintf("forgotten=%t", forgotten), func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{transport: func(next http.RoundTripper) http.RoundTripper {
				return bare404{next: next, suffix: "/sources/discover_schema"}
			}})
			b.start(t)
			c := b.seed(t, seedOpts{})
			if forgotten {
				b.env.Emulator.Reset()
				// The reset expired the client's token: fetch a new one
				// now, so that the look-up counted below is answered at once.
				_, err := b.env.Airbyte.GetWorkspace(b.env.Ctx, b.env.Emulator.WorkspaceID())
				require.NoError(t, err)
			}
			reqID := b.repair(t, c.ID, catalogOf(protocol("Account", "incremental", "append_dedup")), "")
			got := testenv.Data[events.RepairFailed](t, b.env.WaitFact(reqID, events.TypeRepairFailed))
			require.Equal(t, 1, b.calls.Count(http.MethodGet, "/api/public/v1/connections/"+c.AirbyteConnectionID), "one look-up")
			if !forgotten {
				require.Equal(t, events.StatusActive, got.Status)
				require.Contains(t, got.Reason, "discover the source's catalog")
				require.Equal(t, registry.StatusActive, b.env.Connection(c.ID).Status)
				require.Empty(t, b.env.FactsAbout(events.TypeConnectionOrphaned, c.ID))
				return
			}
			reason := "Airbyte does not know connection " + c.AirbyteConnectionID + ": GET /api/public/v1/connections/" +
				c.AirbyteConnectionID + " answered 404"
			require.Equal(t, events.StatusOrphaned, got.Status)
			require.Equal(t, "connection "+c.ID+" is ORPHANED ("+reason+")", got.Reason)
			require.Equal(t, reason, b.env.Connection(c.ID).StatusReason)
			require.Equal(t, map[string]int{events.TypeRepairFailed: 1, events.TypeConnectionOrphaned: 1}, b.env.OutboxTypes(reqID))
		})
	}
}

// regionSetup is a worker and a seeded connection at version 2 (withRegion).
func regionSetup(t *testing.T) (*bundle, registry.Connection) {
	t.Helper()
	b := setup(t)
	conn := b.seed(t, seedOpts{})
	b.start(t)
	b.withRegion(t, conn)
	return b, conn
}

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
	b, conn := regionSetup(t)

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
	b.env.WaitAcked(RollbackConsumer, b.env.PublishCopy(events.TypeRollbackRequested, id,
		events.RollbackRequested{ConnectionID: conn.ID, ToVersion: 1}, events.WithSubject(conn.ID)))
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
	b, conn := regionSetup(t)
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

// TestRepairOutwaitsALostRepair: while another repair holds the connection
// for longer than the request's deliveries at a fixed BusyRetry would last
// (its worker lost, its delivery back only after AckWait), the request's
// waits grow up to AckWait, and it goes through once that repair ends.
func TestRepairOutwaitsALostRepair(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conn := b.seed(t, seedOpts{})
	b.holdHealing(t, conn.ID, "lost-repair")
	// 6 deliveries: 50 ms apart would end in 250 ms; 50, 100, 200, 400 and
	// 500 ms apart they last 1.25 s.
	b.start(t, workerOpts{maxDeliver: 6})
	reqID := b.repair(t, conn.ID, catalogOf(protocol("Contact", "full_refresh", "overwrite")), "")
	time.Sleep(time.Second)
	require.Empty(t, b.env.Facts(reqID), "still waiting")
	b.endHealing(t, conn.ID)
	got := testenv.Data[events.CatalogVersioned](t, b.env.WaitFact(reqID, events.TypeCatalogVersioned))
	require.Equal(t, 2, got.NewVersion)
}
