package observer

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/services/internal/drift"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// TestDiffAgreesWithAirbyte checks Diff against the CatalogDiff that
// Airbyte (the emulator's own implementation of its rules) answers a
// discover with a connectionId, for one drift of every kind.
func TestDiffAgreesWithAirbyte(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{NoRelay: true})
	seeded := env.SeedConnection(testenv.SeedOptions{Streams: []string{"Account", "Lead", "Contact"}})
	ctx, cfgAPI := env.Ctx, env.Airbyte.ConfigAPI()

	cached, err := cfgAPI.DiscoverSchema(ctx, airbyte.DiscoverSchemaRequest{SourceID: seeded.AirbyteSourceID, UseCache: true})
	require.NoError(t, err)
	require.Equal(t, seeded.Catalog.SourceCatalogID, cached.CatalogID, "the version's source catalog")
	var configured airbyte.AirbyteCatalog
	require.NoError(t, json.Unmarshal(seeded.Catalog.SyncCatalog, &configured))

	require.NoError(t, env.Emulator.MutateSchema(seeded.AirbyteSourceID,
		emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c", Type: "string"},
		emulator.SchemaOp{Op: "add_field", Stream: "Account", Path: []string{"BillingAddress", "county"}, Type: "string"},
		emulator.SchemaOp{Op: "change_type", Stream: "Account", Field: "NumberOfEmployees", Type: "string"},
		emulator.SchemaOp{Op: "remove_field", Stream: "Account", Field: "Website"},
		emulator.SchemaOp{Op: "remove_field", Stream: "Account", Field: "SystemModstamp"},
		emulator.SchemaOp{Op: "change_primary_key", Stream: "Lead", PrimaryKey: [][]string{{"Email"}}},
		emulator.SchemaOp{Op: "remove_field", Stream: "Contact", Field: "Id"},
		emulator.SchemaOp{Op: "remove_field", Stream: "Task", Field: "Subject"},
		emulator.SchemaOp{Op: "remove_stream", Stream: "User"},
		emulator.SchemaOp{Op: "add_stream", Stream: "Invoice__c", PrimaryKey: [][]string{{"Id"}}},
	))

	disc, err := cfgAPI.DiscoverSchema(ctx, airbyte.DiscoverSchemaRequest{SourceID: seeded.AirbyteSourceID})
	require.NoError(t, err)
	ours := drift.Diff(streamDescriptors(cached.Catalog), &configured, disc.Catalog)

	theirs, err := cfgAPI.DiscoverSchema(ctx, airbyte.DiscoverSchemaRequest{SourceID: seeded.AirbyteSourceID,
		ConnectionID: seeded.AirbyteConnectionID})
	require.NoError(t, err)
	require.NotNil(t, theirs.CatalogDiff)
	require.NotNil(t, theirs.BreakingChange)

	require.Len(t, ours.Transforms, 5, "Account, Contact and Lead updated, User removed, Invoice__c added: %s", drift.Summary(ours))
	require.Equal(t, *theirs.BreakingChange, ours.HasBreakingChange())
	require.True(t, ours.HasBreakingChange())
	want, err := json.Marshal(theirs.CatalogDiff)
	require.NoError(t, err)
	got, err := json.Marshal(ours)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got))

	// The classification refines the diff and keeps Airbyte's verdict on
	// every change it reports: breaking per Airbyte exactly when Airbyte
	// says so, and every breaking Airbyte transform has its change.
	changes := drift.Classify(ours, &configured, disc.Catalog)
	require.Equal(t, *theirs.BreakingChange, drift.AirbyteBreaking(changes))
	require.True(t, drift.Breaking(changes))
	for _, tr := range theirs.CatalogDiff.Transforms {
		if tr.UpdateStream == nil {
			continue
		}
		for _, f := range tr.UpdateStream.FieldTransforms {
			if !f.Breaking {
				continue
			}
			require.True(t, slices.ContainsFunc(changes, func(c drift.Change) bool {
				return c.Stream == tr.StreamDescriptor.Name && slices.Equal(c.Field, f.FieldName) && c.AirbyteBreaking && c.Breaking
			}), "Airbyte's breaking %s of %s.%v", f.TransformType, tr.StreamDescriptor.Name, f.FieldName)
		}
	}
	kinds := map[string]drift.Kind{}
	for _, c := range changes {
		kinds[c.Stream+"."+c.FieldPath()] = c.Kind
	}
	require.Equal(t, drift.TypeChanged, kinds["Account.NumberOfEmployees"], "integer to string: breaking for AAM, not Airbyte")
	require.Equal(t, drift.StreamRemoved, kinds["User."], "User is offered, not synced")
	require.Equal(t, drift.StreamAdded, kinds["Invoice__c."])
}
