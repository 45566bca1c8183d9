package gatewaytest

// The seed README's curl request bodies, verbatim but for the connection
// id of the repair example.
const (
	// SeedConnectionID is the connection the seed's sync and repair
	// examples name.
	SeedConnectionID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
	// SeedOnboardBody is the body of the onboard example.
	SeedOnboardBody = `{
    "source_type": "Salesforce",
    "connection_name": "Salesforce Production",
    "credential_id": "salesforce-prod"
  }`
)

// SeedRepairBody is the body of the repair example, for the connection id.
func SeedRepairBody(connectionID string) string {
	return `{
    "connection_id": "` + connectionID + `",
    "new_sync_catalog": {
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
    }
  }`
}
