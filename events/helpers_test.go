package events_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/nats-io/nats.go"

	"github.com/aam-mesh/aam/events"
)

// Fixed attribute values of the golden events.
const (
	goldenConnectionID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
	goldenRequestID    = "0194a3c6-1f2e-7d3c-8b4a-5e6f7a8b9c0d"
	goldenTraceParent  = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
)

var (
	goldenTime    = time.Date(2025, 1, 15, 10, 30, 0, 123456789, time.UTC)
	goldenStarted = time.Date(2025, 1, 15, 10, 25, 0, 0, time.UTC)
	goldenEnded   = time.Date(2025, 1, 15, 10, 29, 30, 500000000, time.UTC)
)

// examplePayload returns a payload of the given catalog type with every
// field filled, so that the golden files show the whole contract.
func examplePayload(t testing.TB, eventType string) any {
	t.Helper()
	started, ended := goldenStarted, goldenEnded
	catalog := json.RawMessage(`{"streams":[{"stream":{"name":"Account","json_schema":{},"supported_sync_modes":["full_refresh","incremental"]},"sync_mode":"incremental","destination_sync_mode":"append_dedup"}]}`)
	switch eventType {
	case events.TypeOnboardRequested:
		return events.OnboardRequested{
			SourceType:     "Salesforce",
			ConnectionName: "Salesforce Production",
			CredentialID:   "salesforce-prod",
			DestinationID:  "5e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7",
			Streams:        []string{"Account", "Contact"},
		}
	case events.TypeSyncRequested:
		return events.SyncRequested{ConnectionID: goldenConnectionID}
	case events.TypeRepairRequested:
		return events.RepairRequested{ConnectionID: goldenConnectionID, NewSyncCatalog: catalog, Reason: "Account gained a column"}
	case events.TypeOnboarded:
		return events.ConnectionOnboarded{
			ID:                  goldenConnectionID,
			Name:                "Salesforce Production",
			SourceType:          "Salesforce",
			Status:              events.StatusActive,
			AirbyteSourceID:     "e5f6a7b8-7890-4bcd-8f12-3456789abcde",
			AirbyteConnectionID: "78901234-abcd-4f12-8456-7890abcdef12",
			CreatedAt:           goldenStarted,
			CatalogVersion:      1,
			Streams:             []string{"Account", "Contact"},
		}
	case events.TypeOnboardFailed:
		return events.OnboardFailed{
			ID:              goldenConnectionID,
			Name:            "Salesforce Production",
			SourceType:      "Salesforce",
			Status:          events.StatusFailed,
			Step:            "discover",
			Reason:          "airbyte: discover schema: 502 Bad Gateway",
			AirbyteSourceID: "e5f6a7b8-7890-4bcd-8f12-3456789abcde",
		}
	case events.TypeSyncStarted:
		return events.SyncStarted{
			ConnectionID:   goldenConnectionID,
			JobID:          "12345678",
			Status:         "triggered",
			Message:        "Sync job started successfully",
			CatalogVersion: 2,
			StartedAt:      goldenStarted,
		}
	case events.TypeSyncSucceeded:
		return events.SyncFinished{
			ConnectionID: goldenConnectionID, JobID: "12345678", Status: events.JobSucceeded, CatalogVersion: 2,
			RowsSynced: 1200, BytesSynced: 524288, DurationMS: 270500, StartedAt: &started, CompletedAt: &ended,
		}
	case events.TypeSyncFailed:
		return events.SyncFinished{
			ConnectionID: goldenConnectionID, JobID: "12345678", Status: events.JobFailed, CatalogVersion: 2,
			RowsSynced: 10, BytesSynced: 2048, DurationMS: 270500, StartedAt: &started, CompletedAt: &ended,
			ErrorMessage: "Source process exited with non-zero exit code 1",
			FailureClass: events.FailureSource, FailureType: "system_error", FailureOrigin: "source",
		}
	case events.TypeSyncCancelled:
		return events.SyncFinished{
			ConnectionID: goldenConnectionID, JobID: "12345678", Status: events.JobCancelled, CatalogVersion: 2,
			DurationMS: 3600000, StartedAt: &started, CompletedAt: &ended,
			ErrorMessage: "job did not finish within the follow timeout",
		}
	case events.TypeCatalogVersioned:
		return events.CatalogVersioned{
			ConnectionID: goldenConnectionID, PreviousVersion: 1, NewVersion: 2, Status: "success",
			Message:     "Catalog updated and versioned successfully",
			ContentHash: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Reason:      "Account gained a column",
			CatalogChanges: events.CatalogChanges{Summary: "Account: field Region__c added",
				Diff:    json.RawMessage(`{"transforms":[{"transformType":"update_stream","streamDescriptor":{"name":"Account"},"updateStream":{"fieldTransforms":[{"transformType":"add_field","fieldName":["Region__c"],"breaking":false}]}}]}`),
				Changes: json.RawMessage(`[{"kind":"field_added","stream":"Account","field":["Region__c"],"new_type":"string|null","breaking":false,"risk":"none"}]`),
				Refresh: json.RawMessage(`[]`)},
		}
	case events.TypeRollbackRequested:
		return events.RollbackRequested{ConnectionID: goldenConnectionID, ToVersion: 1, DryRun: true, Reason: "the new column broke the report"}
	case events.TypeRollbackPlanned:
		return events.RollbackPlanned{
			ConnectionID: goldenConnectionID, CurrentVersion: 3, ToVersion: 1,
			CatalogChanges: events.CatalogChanges{Summary: "Account: field Region__c removed; Account: sync mode full_refresh → incremental",
				Diff:    json.RawMessage(`{"transforms":[{"transformType":"update_stream","streamDescriptor":{"name":"Account"},"updateStream":{"fieldTransforms":[{"transformType":"remove_field","fieldName":["Region__c"],"breaking":false}]}}]}`),
				Changes: json.RawMessage(`[{"kind":"field_removed","stream":"Account","field":["Region__c"],"old_type":"string|null","breaking":true,"risk":"high"}]`),
				Refresh: json.RawMessage(`[{"stream":"Account","action":"refresh","reasons":["sync mode full_refresh → incremental"]}]`)},
			Breaking:   true,
			Applicable: true,
		}
	case events.TypeRepairFailed:
		return events.RepairFailed{
			ConnectionID: goldenConnectionID, Status: events.StatusActive,
			Reason: "stream Account does not support sync mode incremental",
			Stream: "Account", Field: "new_sync_catalog.streams[0].sync_mode",
		}
	case events.TypeDriftDetected:
		return events.DriftDetected{
			ConnectionID: goldenConnectionID, CatalogVersion: 2, Breaking: true,
			Diff: json.RawMessage(`{"streams":[{"name":"Account","removed_fields":["Fax"]}]}`),
		}
	case events.TypePolicyRequested:
		return events.PolicySetRequested{ConnectionID: goldenConnectionID, Policy: json.RawMessage(`{"rules":[{"id":"pause-breaking","when":"change.breaking","action":"pause"},{"id":"rest","when":"true","action":"propagate"}]}`)}
	case events.TypePolicySet:
		return events.PolicySet{ConnectionID: goldenConnectionID, Version: 2, Policy: json.RawMessage(`{"rules":[{"id":"pause-breaking","when":"change.breaking","action":"pause"},{"id":"rest","when":"true","action":"propagate"}]}`)}
	case events.TypeResolveRequested:
		return events.ResolveRequested{ConnectionID: goldenConnectionID, DriftID: "2-5d41402abc4b2a76", Decision: events.ResolveApprove,
			Reason: "finance checked the new type"}
	case events.TypeDriftResolved:
		return events.DriftResolved{ConnectionID: goldenConnectionID, DriftID: "2-5d41402abc4b2a76", Decision: events.ResolveApprove, Resumed: true,
			RepairRequestID: "0194a3c6-1f2e-7d3c-8b4a-5e6f7a8b9c0e"}
	case events.TypeDeleteRequested:
		return events.DeleteRequested{ConnectionID: goldenConnectionID, Reason: "replaced by the EU connection"}
	case events.TypeReleaseRequested:
		return events.ReleaseRequested{Reason: "credentials renewed", ConnectionID: goldenConnectionID}
	case events.TypeHealthWarning:
		return events.HealthWarning{
			ConnectionID: goldenConnectionID, ConsecutiveFailures: 3, WarnAfter: 3, QuarantineAfter: 5,
			LastFailures: goldenFailures(&ended),
		}
	case events.TypeQuarantined:
		return events.ConnectionQuarantined{
			ConnectionID: goldenConnectionID, Status: "QUARANTINED", ConsecutiveFailures: 5,
			Reason: "quarantined at a credentials failure: invalid_grant", LastFailures: goldenFailures(&ended),
		}
	case events.TypeReleased:
		return events.ConnectionReleased{
			ConnectionID: goldenConnectionID, Status: "ACTIVE", PreviousStatus: "QUARANTINED", ConsecutiveFailures: 5,
		}
	case events.TypeSyncAnomaly:
		return events.SyncAnomaly{ConnectionID: goldenConnectionID, JobID: "12345678", Stream: "Account", Kind: events.AnomalyDrop,
			Metric: events.MetricRecords, Observed: 98, Expected: events.ExpectedRange{Min: 490, Max: 2940}, Median: 980, HistoryJobs: 10}
	case events.TypeConnectionDeleted:
		return events.ConnectionDeleted{ConnectionID: goldenConnectionID, Name: "Salesforce Production", Status: "DELETED",
			PreviousStatus: "ACTIVE", AirbyteSourceID: "9b1c5e2a-7d4f-4e8b-a6c3-2f1d0e9b8a7c",
			AirbyteConnectionID: "3e7a9c1b-5d2f-4a8e-b6c4-1f0e9d8c7b6a", Reason: "replaced by the EU connection"}
	case events.TypeConnectionOrphaned:
		ab, call := "3e7a9c1b-5d2f-4a8e-b6c4-1f0e9d8c7b6a", "POST /api/public/v1/jobs"
		return events.ConnectionOrphaned{ConnectionID: goldenConnectionID, Name: "Salesforce Production", Status: "ORPHANED", PreviousStatus: "ACTIVE", AirbyteConnectionID: ab, AirbyteSourceID: "9b1c5e2a-7d4f-4e8b-a6c3-2f1d0e9b8a7c", Resource: events.OrphanedConnection, ResourceID: ab, Call: call, Reason: "Airbyte does not know connection " + ab + ": " + call + " answered 404"}
	case events.TypeApprovalRequested:
		return events.ApprovalRequested{
			ConnectionID: goldenConnectionID, CatalogVersion: 2, DriftID: "2-0c4e6f",
			Summary: "Account: field Amount type changed",
			Changes: json.RawMessage(`[{"kind":"type_narrowed","stream":"Account","field":["Amount"],"breaking":true,"risk":"high"}]`),
			Decision: events.DriftDecision{Action: "require_approval", RuleID: "finance-approves", PolicyVersion: 3,
				Decisions: json.RawMessage(`[{"action":"require_approval","rule_id":"finance-approves","scope":"connection","policy_version":3}]`)},
		}
	case events.TypeConnectionPaused:
		return events.ConnectionPaused{
			ConnectionID: goldenConnectionID, CatalogVersion: 2, DriftID: "2-0c4e6f",
			Reason:   "schema drift: Account: field Amount type changed (policy v0, rule pause-breaking)",
			Decision: events.DriftDecision{Action: "pause", RuleID: "pause-breaking", PolicyVersion: 0},
		}
	case events.TypeRequestRejected:
		return events.RequestRejected{
			RequestID: goldenRequestID, RequestType: events.TypeRepairRequested, RequestSource: "/billing/nightly",
			Subject: events.SubjectRepairRequest, Reason: "missing property 'connection_id'",
			Field: "connection_id", StreamSequence: 42,
		}
	}
	t.Fatalf("no example payload for %s", eventType)
	return nil
}

// goldenEvent builds the fixed event of a catalog type: requests come from
// an outside publisher; facts from an AAM role and answer goldenRequestID.
func goldenEvent(t testing.TB, d events.Descriptor) event.Event {
	t.Helper()
	opts := []events.Option{
		events.WithID(events.DeterministicID("/golden", "1", d.Type)),
		events.WithTime(goldenTime),
		events.WithTraceParent(goldenTraceParent),
	}
	source := "/billing/nightly"
	if d.Kind == events.KindFact {
		source = "/aam/" + strings.Split(strings.TrimPrefix(d.Subject, "aam.events."), ".")[0]
		opts = append(opts, events.WithSubject(goldenConnectionID), events.WithCorrelationID(goldenRequestID))
	} else if d.Type != events.TypeOnboardRequested {
		opts = append(opts, events.WithSubject(goldenConnectionID))
	}
	e, err := events.New(d.Type, source, examplePayload(t, d.Type), opts...)
	if err != nil {
		t.Fatalf("build golden %s: %v", d.Type, err)
	}
	return e
}

// flat is a comparable view of an event: every attribute in its canonical
// string form, so that events read from either mode compare equal when they
// carry the same information.
type flat struct {
	SpecVersion     string
	ID              string
	Source          string
	Type            string
	Subject         string
	Time            string
	DataSchema      string
	DataContentType string
	Extensions      map[string]string
	Data            string
}

func flatten(t testing.TB, e event.Event) flat {
	t.Helper()
	f := flat{
		SpecVersion:     e.SpecVersion(),
		ID:              e.ID(),
		Source:          e.Source(),
		Type:            e.Type(),
		Subject:         e.Subject(),
		DataSchema:      e.DataSchema(),
		DataContentType: e.DataContentType(),
		Data:            string(e.Data()),
	}
	// JSON data is a JSON value: white space between tokens carries no
	// information (structured mode re-indents it).
	if isJSONMediaType(e.DataMediaType()) && json.Valid(e.Data()) {
		var b bytes.Buffer
		if err := json.Compact(&b, e.Data()); err != nil {
			t.Fatal(err)
		}
		f.Data = b.String()
	}
	if tm := e.Time(); !tm.IsZero() {
		f.Time = tm.UTC().Format(time.RFC3339Nano)
	}
	for name, v := range e.Extensions() {
		s, err := types.Format(v)
		if err != nil {
			t.Fatalf("extension %s: %v", name, err)
		}
		if f.Extensions == nil {
			f.Extensions = map[string]string{}
		}
		f.Extensions[name] = s
	}
	return f
}

// header builds a nats.Header from "Key: value" lines, keeping the keys'
// case as written (as `nats pub -H` does).
func header(lines ...string) nats.Header {
	h := nats.Header{}
	for _, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			panic("header line without colon: " + l)
		}
		h.Add(k, strings.TrimPrefix(v, " "))
	}
	return h
}

// headerText renders headers as "Key: value" lines sorted by key, the form
// the fuzz corpus uses.
func headerText(h nats.Header) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	return b.String()
}

// parseHeaderText is the inverse of headerText; malformed lines are skipped.
func parseHeaderText(s string) nats.Header {
	h := nats.Header{}
	for _, l := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		h.Add(k, strings.TrimPrefix(v, " "))
	}
	return h
}

func isJSONMediaType(mt string) bool {
	switch mt {
	case "", "application/json", "text/json", "application/cloudevents+json", "application/cloudevents-batch+json":
		return true
	}
	return false
}

// goldenFailures are the last failures of the golden health facts.
func goldenFailures(at *time.Time) []events.FailedJob {
	return []events.FailedJob{{JobID: "12345678", FailureClass: events.FailureCredentials, CompletedAt: at,
		ErrorMessage: "Salesforce: invalid_grant: expired access/refresh token."}}
}
