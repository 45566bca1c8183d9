package testenv

import (
	"encoding/json"
	"fmt"
	"sync/atomic"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/registry"
)

// SeedOptions tune SeedConnection.
type SeedOptions struct {
	// Name of the registry connection and of the Airbyte source (default
	// "Salesforce <n>").
	Name string
	// Streams selected in the Airbyte connection, each synced incremental
	// with deduplication on the source's cursor and primary key (default
	// Account).
	Streams []string
}

// Seeded is a connection created by SeedConnection.
type Seeded struct {
	// Connection is the registry row: ACTIVE at catalog version 1.
	registry.Connection
	// Catalog is catalog version 1: the Airbyte connection's sync catalog.
	Catalog registry.CatalogVersion
}

var seedCount atomic.Int64

// SeedConnection creates an ACTIVE connection without the onboarding
// worker: a Salesforce source and a connection to the emulator's
// destination in the emulator (through the Airbyte client), and the
// registry row ACTIVE at catalog version 1.
func (e *Env) SeedConnection(opts ...SeedOptions) Seeded {
	e.T.Helper()
	var o SeedOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	n := seedCount.Add(1)
	if o.Name == "" {
		o.Name = fmt.Sprintf("Salesforce %d", n)
	}
	if len(o.Streams) == 0 {
		o.Streams = []string{"Account"}
	}
	ctx, t := e.Ctx, e.T

	def, err := e.Airbyte.FindSourceDefinition(ctx, e.Emulator.WorkspaceID(), "Salesforce")
	require.NoError(t, err)
	src, err := e.Airbyte.CreateSource(ctx, airbyte.SourceCreateRequest{
		Name: o.Name, DefinitionID: def.ID, WorkspaceID: e.Emulator.WorkspaceID(),
		Configuration: map[string]any{
			"client_id": "seed-client", "client_secret": "seed-secret", "refresh_token": "seed-refresh-token",
			"is_sandbox": false, "start_date": "2024-01-01T00:00:00Z",
		},
	})
	require.NoError(t, err)
	streams := make([]airbyte.StreamConfiguration, len(o.Streams))
	for i, s := range o.Streams {
		streams[i] = airbyte.StreamConfiguration{Name: s, SyncMode: airbyte.SyncModeIncrementalDedupedHistory}
	}
	abConn, err := e.Airbyte.CreateConnection(ctx, airbyte.ConnectionCreateRequest{
		Name: o.Name, SourceID: src.SourceID, DestinationID: e.Emulator.DestinationID(),
		Configurations: &airbyte.StreamConfigurations{Streams: streams},
	})
	require.NoError(t, err)
	read, err := e.Airbyte.ConfigAPI().GetConnection(ctx, abConn.ConnectionID)
	require.NoError(t, err)
	catalog, err := json.Marshal(read.SyncCatalog)
	require.NoError(t, err)

	var seeded Seeded
	err = e.Store.InTx(ctx, func(q *registry.Queries) error {
		c, _, err := q.ConnectionCreate(ctx, registry.ConnectionCreateParams{
			ID: registry.NewID(), Name: o.Name, SourceType: "Salesforce", CredentialID: "seed",
			AirbyteDestinationID: e.Emulator.DestinationID(),
			RequestSource:        "/testenv/seed", RequestID: fmt.Sprintf("%s-%d", t.Name(), n),
			RequestedStreams: o.Streams,
		})
		if err != nil {
			return err
		}
		if _, err := q.ConnectionSaveCheckpoint(ctx, c.ID, registry.ConnectionCheckpoint{
			Step: "connection_created", AirbyteSourceDefinitionID: def.ID, AirbyteSourceID: src.SourceID,
			AirbyteSourceCatalogID: read.SourceCatalogID, AirbyteConnectionID: abConn.ConnectionID,
		}); err != nil {
			return err
		}
		if seeded.Catalog, err = q.CatalogVersionCreate(ctx, registry.CatalogVersionCreateParams{
			ConnectionID: c.ID, VersionNumber: 1, SyncCatalog: catalog, SourceCatalogID: read.SourceCatalogID,
			Reason: "seeded for a test", RequestSource: "/testenv/seed", RequestID: c.RequestID,
		}); err != nil {
			return err
		}
		seeded.Connection, err = q.ConnectionActivate(ctx, c.ID, 1, read.SourceCatalogID)
		return err
	})
	require.NoError(t, err)
	return seeded
}
