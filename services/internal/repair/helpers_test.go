package repair

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

type bundle struct {
	env   *testenv.Env
	calls *testenv.CallLog
}

type setupOpts struct {
	airbyte   airbyte.Config
	transport func(http.RoundTripper) http.RoundTripper
}

func setup(t *testing.T, opts ...setupOpts) *bundle {
	t.Helper()
	var o setupOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	env, calls := testenv.NewWorkerEnv(t, testenv.WorkerEnvOptions{Airbyte: o.airbyte, Transport: o.transport})
	return &bundle{env: env, calls: calls}
}

// seedOpts describe a connection made by seed.
type seedOpts struct {
	// sourceType names the source definition (default Salesforce).
	sourceType string
	// streams are configured in the Airbyte connection (default: Account,
	// incremental with deduplication).
	streams []airbyte.StreamConfiguration
}

// seed creates an ACTIVE connection at catalog version 1 without the
// onboard worker: an Airbyte source and connection in the emulator, and the
// registry row and version as onboarding records them.
func (b *bundle) seed(t *testing.T, o seedOpts) registry.Connection {
	t.Helper()
	ctx := context.Background()
	if o.sourceType == "" {
		o.sourceType = "Salesforce"
	}
	if o.streams == nil {
		o.streams = []airbyte.StreamConfiguration{{Name: "Account", SyncMode: airbyte.SyncModeIncrementalDedupedHistory}}
	}
	ab := b.env.Airbyte
	def, err := ab.FindSourceDefinition(ctx, b.env.Emulator.WorkspaceID(), o.sourceType)
	require.NoError(t, err)
	id := registry.NewID()
	name := "Repair " + id[:8]
	src, err := ab.CreateSource(ctx, airbyte.SourceCreateRequest{
		Name: name, DefinitionID: def.ID, WorkspaceID: b.env.Emulator.WorkspaceID(),
		Configuration: map[string]any{"client_id": "seed-client", "client_secret": "seed-secret", "refresh_token": "seed-token"},
	})
	require.NoError(t, err)
	conn, err := ab.CreateConnection(ctx, airbyte.ConnectionCreateRequest{
		Name: name, SourceID: src.SourceID, DestinationID: b.env.Emulator.DestinationID(),
		Configurations: &airbyte.StreamConfigurations{Streams: o.streams},
	})
	require.NoError(t, err)
	read, err := ab.ConfigAPI().GetConnection(ctx, conn.ConnectionID)
	require.NoError(t, err)
	catalog, err := json.Marshal(read.SyncCatalog)
	require.NoError(t, err)

	var c registry.Connection
	require.NoError(t, b.env.Store.InTx(ctx, func(q *registry.Queries) error {
		if _, _, err := q.ConnectionCreate(ctx, registry.ConnectionCreateParams{
			ID: id, Name: name, SourceType: o.sourceType, CredentialID: "seed",
			AirbyteDestinationID: b.env.Emulator.DestinationID(), RequestSource: "/test/seed", RequestID: id,
		}); err != nil {
			return err
		}
		if _, err := q.ConnectionSaveCheckpoint(ctx, id, registry.ConnectionCheckpoint{
			Step: "create_connection", AirbyteSourceDefinitionID: def.ID, AirbyteSourceID: src.SourceID,
			AirbyteSourceCatalogID: read.SourceCatalogID, AirbyteConnectionID: conn.ConnectionID,
		}); err != nil {
			return err
		}
		if _, err := q.CatalogVersionCreate(ctx, registry.CatalogVersionCreateParams{
			ConnectionID: id, VersionNumber: 1, SyncCatalog: catalog, SourceCatalogID: read.SourceCatalogID,
			Reason: "onboarded", RequestSource: "/test/seed", RequestID: id,
		}); err != nil {
			return err
		}
		c, err = q.ConnectionActivate(ctx, id, 1, read.SourceCatalogID)
		return err
	}))
	return c
}

type workerOpts struct {
	crashAt    string
	ownConn    bool
	maxDeliver int
}

func (b *bundle) start(t *testing.T, opts ...workerOpts) *testenv.Worker {
	t.Helper()
	var o workerOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	return b.env.StartWorker(testenv.WorkerOptions{OwnConn: o.ownConn, CrashAt: o.crashAt}, func(deps *app.Deps, crash func(string) error) func(context.Context) error {
		cfg := Config{BusyRetry: 50 * time.Millisecond, Delivery: testenv.QuickDelivery(o.maxDeliver)}
		w, err := New(deps, b.env.Airbyte, cfg)
		require.NoError(t, err)
		w.crash = crash
		return w.Run
	})
}

func (b *bundle) requestSource() string { return "/test/" + b.env.T.Name() }

// repair publishes a repair request with catalog (marshalled as given).
func (b *bundle) repair(t *testing.T, connectionID string, catalog any, reason string) string {
	t.Helper()
	raw, err := json.Marshal(catalog)
	require.NoError(t, err)
	return b.env.Publish(events.TypeRepairRequested, events.RepairRequested{
		ConnectionID: connectionID, NewSyncCatalog: raw, Reason: reason})
}

func (b *bundle) versions(t *testing.T, id string) []registry.CatalogVersion {
	t.Helper()
	v, err := b.env.Store.CatalogVersionList(context.Background(), id)
	require.NoError(t, err)
	return v
}

func (b *bundle) airbyteConnection(t *testing.T, id string) emulator.ConnectionSnapshot {
	t.Helper()
	for _, c := range b.env.Emulator.Connections() {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no emulator connection %s", id)
	return emulator.ConnectionSnapshot{}
}

// holdHealing sets the connection HEALING for another repair request,
// requestID, as if that repair were running.
func (b *bundle) holdHealing(t *testing.T, id, requestID string) {
	t.Helper()
	_, err := b.env.Store.ConnectionStartHealing(context.Background(), id, "/other", requestID, "repair: applying a new catalog")
	require.NoError(t, err)
}

// endHealing ends the other repair holdHealing started: the connection
// ACTIVE, no repair holding it.
func (b *bundle) endHealing(t *testing.T, id string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, b.env.Store.InTx(ctx, func(q *registry.Queries) error {
		if _, err := q.ConnectionSetStatus(ctx, id, registry.StatusActive, ""); err != nil {
			return err
		}
		return q.ConnectionStopHealing(ctx, id)
	}))
}

// requireNotHealing checks the connection is ACTIVE and no repair holds it.
func (b *bundle) requireActiveAndFree(t *testing.T, id string) {
	t.Helper()
	c := b.env.Connection(id)
	require.Equal(t, registry.StatusActive, c.Status)
	require.Empty(t, c.StatusReason)
	h, err := b.env.Store.ConnectionHealingHolder(context.Background(), id)
	require.NoError(t, err)
	require.False(t, h.Held(), "holder %+v", h)
}

// protocol is a stream in the Airbyte protocol form, as in the seed.
func protocol(name, syncMode, destMode string, extra ...map[string]any) map[string]any {
	s := map[string]any{
		"stream": map[string]any{"name": name, "json_schema": map[string]any{},
			"supported_sync_modes": []string{"full_refresh", "incremental"}},
		"sync_mode": syncMode, "destination_sync_mode": destMode,
	}
	for _, e := range extra {
		for k, v := range e {
			s[k] = v
		}
	}
	return s
}

func catalogOf(streams ...map[string]any) map[string]any {
	return map[string]any{"streams": streams}
}

func streamNames(c emulator.ConnectionSnapshot) []string {
	var out []string
	for _, s := range c.Streams {
		out = append(out, s.Stream.Name)
	}
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return string(b)
}
