package schemas_test

import (
	"path/filepath"
	"testing"

	"github.com/aam-mesh/aam/events/eventstest"
)

const (
	exampleConnectionID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
	exampleRequestID    = "0194a3c6-1f2e-7d3c-8b4a-5e6f7a8b9c0d"
)

// seedRepairCatalog is the new_sync_catalog of the seed README's drift
// repair example, verbatim.
const seedRepairCatalog = `{
      "streams": [
        {
          "stream": {
            "name": "Account",
            "json_schema": {},
            "supported_sync_modes": ["full_refresh", "incremental"]
          },
          "sync_mode": "incremental",
          "destination_sync_mode": "append_dedup"
        }
      ]
    }`

// configAPICatalog is a catalog in the Airbyte configuration API form, as
// connections/get returns it.
const configAPICatalog = `{
  "streams": [
    {
      "stream": {
        "name": "Account",
        "jsonSchema": {"type": "object", "properties": {"Id": {"type": "string"}}},
        "supportedSyncModes": ["full_refresh", "incremental"],
        "sourceDefinedCursor": true,
        "defaultCursorField": ["SystemModstamp"],
        "sourceDefinedPrimaryKey": [["Id"]],
        "namespace": null
      },
      "config": {
        "syncMode": "incremental",
        "cursorField": ["SystemModstamp"],
        "destinationSyncMode": "append_dedup",
        "primaryKey": [["Id"]],
        "aliasName": "Account",
        "selected": true,
        "suggested": false,
        "fieldSelectionEnabled": false,
        "selectedFields": [],
        "hashedFields": [],
        "mappers": [],
        "generationId": 1,
        "minimumGenerationId": 0,
        "syncId": 42
      }
    }
  ]
}`

// examplePayload returns the payload struct of a catalog type decoded from
// its valid example, testdata/valid/<type>.json, every field filled.
func examplePayload(t testing.TB, eventType string) any {
	t.Helper()
	return eventstest.Payload(t, filepath.Join("testdata", "valid"), eventType)
}
