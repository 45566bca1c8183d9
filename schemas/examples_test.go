package schemas_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/aam-mesh/aam/events"
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

// examplePayload returns a payload struct of the given type with every
// field filled.
func examplePayload(t testing.TB, eventType string) any {
	t.Helper()
	started := time.Date(2025, 1, 15, 10, 25, 0, 0, time.UTC)
	ended := time.Date(2025, 1, 15, 10, 29, 30, 500000000, time.UTC)
	switch eventType {
	case events.TypeOnboardRequested:
		return events.OnboardRequested{
			SourceType: "Salesforce", ConnectionName: "Salesforce Production", CredentialID: "salesforce-prod",
			DestinationID: "5e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7", Streams: []string{"Account", "Contact"},
		}
	case events.TypeSyncRequested:
		return events.SyncRequested{ConnectionID: exampleConnectionID}
	case events.TypeRepairRequested:
		return events.RepairRequested{ConnectionID: exampleConnectionID, NewSyncCatalog: compact(t, seedRepairCatalog), Reason: "Account gained a column"}
	case events.TypeOnboarded:
		return events.ConnectionOnboarded{
			ID: exampleConnectionID, Name: "Salesforce Production", SourceType: "Salesforce", Status: events.StatusActive,
			AirbyteSourceID: "e5f6a7b8-7890-4bcd-8f12-3456789abcde", AirbyteConnectionID: "78901234-abcd-4f12-8456-7890abcdef12",
			CreatedAt: started, CatalogVersion: 1, Streams: []string{"Account", "Contact"},
		}
	case events.TypeOnboardFailed:
		return events.OnboardFailed{
			ID: exampleConnectionID, Name: "Salesforce Production", SourceType: "Salesforce", Status: events.StatusFailed,
			Step: "discover", Reason: "airbyte: discover schema: 502 Bad Gateway", AirbyteSourceID: "e5f6a7b8-7890-4bcd-8f12-3456789abcde",
		}
	case events.TypeSyncStarted:
		return events.SyncStarted{
			ConnectionID: exampleConnectionID, JobID: "12345678", Status: "triggered", Message: "Sync job started successfully",
			CatalogVersion: 2, Attached: true, StartedAt: started,
		}
	case events.TypeSyncSucceeded:
		return events.SyncFinished{
			ConnectionID: exampleConnectionID, JobID: "12345678", Status: events.JobSucceeded, CatalogVersion: 2,
			RowsSynced: 1200, BytesSynced: 524288, DurationMS: 270500, StartedAt: &started, CompletedAt: &ended,
		}
	case events.TypeSyncFailed:
		return events.SyncFinished{
			ConnectionID: exampleConnectionID, JobID: "12345678", Status: events.JobFailed, CatalogVersion: 2,
			RowsSynced: 10, BytesSynced: 2048, DurationMS: 270500, StartedAt: &started, CompletedAt: &ended,
			ErrorMessage: "Source process exited with non-zero exit code 1",
			FailureClass: events.FailureSource, FailureType: "system_error", FailureOrigin: "source",
		}
	case events.TypeSyncCancelled:
		return events.SyncFinished{
			ConnectionID: exampleConnectionID, JobID: "12345678", Status: events.JobCancelled, CatalogVersion: 2,
			DurationMS: 3600000, StartedAt: &started, CompletedAt: &ended, ErrorMessage: "job did not finish within the follow timeout",
		}
	case events.TypeCatalogVersioned:
		return events.CatalogVersioned{
			ConnectionID: exampleConnectionID, PreviousVersion: 1, NewVersion: 2, Status: "success",
			Message:     "Catalog updated and versioned successfully",
			ContentHash: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Reason:      "Account gained a column",
			CatalogChanges: events.CatalogChanges{Summary: "Account: field Region__c added",
				Diff:    compact(t, `{"transforms":[{"transformType":"update_stream","streamDescriptor":{"name":"Account"},"updateStream":{"fieldTransforms":[{"transformType":"add_field","fieldName":["Region__c"],"breaking":false}]}}]}`),
				Changes: compact(t, `[{"kind":"field_added","stream":"Account","field":["Region__c"],"new_type":"string|null","breaking":false,"risk":"none"}]`),
				Refresh: compact(t, `[]`)},
		}
	case events.TypeRollbackRequested:
		return events.RollbackRequested{ConnectionID: exampleConnectionID, ToVersion: 1, DryRun: true, Reason: "the new column broke the report"}
	case events.TypeRollbackPlanned:
		return events.RollbackPlanned{
			ConnectionID: exampleConnectionID, CurrentVersion: 3, ToVersion: 1,
			CatalogChanges: events.CatalogChanges{Summary: "Account: field Region__c removed; Account: sync mode full_refresh → incremental",
				Diff:    compact(t, `{"transforms":[{"transformType":"update_stream","streamDescriptor":{"name":"Account"},"updateStream":{"fieldTransforms":[{"transformType":"remove_field","fieldName":["Region__c"],"breaking":false}]}}]}`),
				Changes: compact(t, `[{"kind":"field_removed","stream":"Account","field":["Region__c"],"old_type":"string|null","breaking":true,"risk":"high"}]`),
				Refresh: compact(t, `[{"stream":"Account","action":"refresh","reasons":["sync mode full_refresh → incremental"]}]`)},
			Breaking:   true,
			Applicable: true,
		}
	case events.TypeRepairFailed:
		return events.RepairFailed{
			ConnectionID: exampleConnectionID, Status: events.StatusActive,
			Reason: "stream Account does not support sync mode incremental", Stream: "Account",
			Field: "new_sync_catalog.streams[0].sync_mode",
		}
	case events.TypeDriftDetected:
		return events.DriftDetected{
			ConnectionID: exampleConnectionID, CatalogVersion: 2, Breaking: true,
			Diff: compact(t, `{"transforms":[{"transformType":"update_stream","streamDescriptor":{"name":"Account"},"updateStream":{"fieldTransforms":[{"transformType":"remove_field","fieldName":["Fax"],"breaking":false}]}}]}`),
		}
	case events.TypePolicyRequested:
		return events.PolicySetRequested{ConnectionID: exampleConnectionID, Policy: compact(t, `{"rules":[{"id":"pause-breaking","when":"change.breaking","action":"pause"},{"id":"rest","when":"true","action":"propagate"}]}`)}
	case events.TypePolicySet:
		return events.PolicySet{ConnectionID: exampleConnectionID, Version: 2, Policy: compact(t, `{"rules":[{"id":"pause-breaking","when":"change.breaking","action":"pause"},{"id":"rest","when":"true","action":"propagate"}]}`)}
	case events.TypeResolveRequested:
		return events.ResolveRequested{ConnectionID: exampleConnectionID, DriftID: "2-5d41402abc4b2a76", Decision: events.ResolveApprove,
			Reason: "finance checked the new type"}
	case events.TypeDriftResolved:
		return events.DriftResolved{ConnectionID: exampleConnectionID, DriftID: "2-5d41402abc4b2a76", Decision: events.ResolveApprove, Resumed: true,
			RepairRequestID: "0194a3c6-1f2e-7d3c-8b4a-5e6f7a8b9c0e"}
	case events.TypeDeleteRequested:
		return events.DeleteRequested{ConnectionID: exampleConnectionID, Reason: "replaced by the EU connection"}
	case events.TypeReleaseRequested:
		return events.ReleaseRequested{ConnectionID: exampleConnectionID, Reason: "credentials renewed"}
	case events.TypeHealthWarning, events.TypeQuarantined:
		last := []events.FailedJob{{JobID: "12345678", FailureClass: events.FailureSource, CompletedAt: &ended,
			ErrorMessage: "Salesforce API request limit exceeded: REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."}}
		if eventType == events.TypeHealthWarning {
			return events.HealthWarning{ConnectionID: exampleConnectionID, ConsecutiveFailures: 3, WarnAfter: 3, QuarantineAfter: 5, LastFailures: last}
		}
		return events.ConnectionQuarantined{ConnectionID: exampleConnectionID, Status: "QUARANTINED", ConsecutiveFailures: 5,
			Reason: "quarantined after 5 consecutive failed syncs; last failure (source): " + last[0].ErrorMessage, LastFailures: last}
	case events.TypeReleased:
		return events.ConnectionReleased{ConnectionID: exampleConnectionID, Status: "ACTIVE", PreviousStatus: "QUARANTINED",
			ConsecutiveFailures: 5, Reason: "credentials renewed"}
	case events.TypeSyncAnomaly:
		return events.SyncAnomaly{ConnectionID: exampleConnectionID, JobID: "12345678", Stream: "Account", Kind: events.AnomalyDrop,
			Metric: events.MetricRecords, Observed: 98, Expected: events.ExpectedRange{Min: 490, Max: 2940}, Median: 980, HistoryJobs: 10}
	case events.TypeConnectionDeleted:
		return events.ConnectionDeleted{ConnectionID: exampleConnectionID, Name: "Salesforce Production", Status: "DELETED",
			PreviousStatus: "ACTIVE", AirbyteSourceID: "9b1c5e2a-7d4f-4e8b-a6c3-2f1d0e9b8a7c",
			AirbyteConnectionID: "3e7a9c1b-5d2f-4a8e-b6c4-1f0e9d8c7b6a", Reason: "replaced by the EU connection"}
	case events.TypeConnectionOrphaned:
		ab, call := "3e7a9c1b-5d2f-4a8e-b6c4-1f0e9d8c7b6a", "POST /api/public/v1/jobs"
		return events.ConnectionOrphaned{ConnectionID: exampleConnectionID, Name: "Salesforce Production", Status: "ORPHANED", PreviousStatus: "ACTIVE", AirbyteConnectionID: ab, AirbyteSourceID: "9b1c5e2a-7d4f-4e8b-a6c3-2f1d0e9b8a7c", Resource: events.OrphanedConnection, ResourceID: ab, Call: call, Reason: "Airbyte does not know connection " + ab + ": " + call + " answered 404"}
	case events.TypeApprovalRequested:
		return events.ApprovalRequested{
			ConnectionID: exampleConnectionID, CatalogVersion: 2, DriftID: "2-5d41402abc4b2a76",
			Summary: "Account: field Amount type changed",
			Changes: compact(t, `[{"kind":"type_narrowed","stream":"Account","field":["Amount"],"old_type":"number|null","new_type":"integer|null","breaking":true,"risk":"high"}]`),
			Decision: events.DriftDecision{Action: "require_approval", RuleID: "finance-approves", PolicyVersion: 3,
				Decisions: compact(t, `[{"action":"require_approval","rule_id":"finance-approves","scope":"connection","policy_version":3}]`)},
		}
	case events.TypeConnectionPaused:
		return events.ConnectionPaused{
			ConnectionID: exampleConnectionID, CatalogVersion: 2, DriftID: "2-5d41402abc4b2a76",
			Reason:   "schema drift: Account: field Amount type changed (policy v0, rule pause-breaking)",
			Decision: events.DriftDecision{Action: "pause", RuleID: "pause-breaking", PolicyVersion: 0},
		}
	case events.TypeRequestRejected:
		return events.RequestRejected{
			RequestID: exampleRequestID, RequestType: events.TypeRepairRequested, RequestSource: "/billing/nightly",
			Subject: events.SubjectRepairRequest, Reason: `missing required property "connection_id"`,
			Field: "connection_id", StreamSequence: 42,
		}
	}
	t.Fatalf("no example payload for %s", eventType)
	return nil
}

func compact(t testing.TB, s string) json.RawMessage {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("example JSON: %v", err)
	}
	return b.Bytes()
}
