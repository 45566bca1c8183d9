package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/aam-mesh/aam/events"
)

// FactState returns the request state a fact stands for: succeeded,
// running (sync.started), failed, cancelled or rejected; "" for facts that
// answer no request (drift.detected).
func FactState(factType string) string {
	switch factType {
	case events.TypeOnboarded, events.TypeCatalogVersioned, events.TypeSyncSucceeded, events.TypePolicySet, events.TypeDriftResolved,
		events.TypeConnectionDeleted, events.TypeRollbackPlanned, events.TypeReleased:
		return RequestSucceeded
	case events.TypeSyncStarted:
		return RequestRunning
	case events.TypeOnboardFailed, events.TypeRepairFailed, events.TypeSyncFailed:
		return RequestFailed
	case events.TypeSyncCancelled:
		return RequestCancelled
	case events.TypeRequestRejected:
		return RequestRejected
	}
	return ""
}

// Completes reports whether a fact ends a wait for the request it answers.
// sync.started ends it unless untilTerminal is set; then only the job's
// terminal state (succeeded, failed, cancelled) does. Rejections and every
// other answer always end it.
func Completes(factType string, untilTerminal bool) bool {
	switch FactState(factType) {
	case "":
		return false
	case RequestRunning:
		return !untilTerminal
	}
	return true
}

// requestTypeOf returns the request type a fact answers ("" when the fact
// does not tell, as request.rejected).
func requestTypeOf(factType string) string {
	switch factType {
	case events.TypeOnboarded, events.TypeOnboardFailed:
		return events.TypeOnboardRequested
	case events.TypeSyncStarted, events.TypeSyncSucceeded, events.TypeSyncFailed, events.TypeSyncCancelled:
		return events.TypeSyncRequested
	case events.TypeCatalogVersioned, events.TypeRepairFailed:
		return events.TypeRepairRequested
	case events.TypePolicySet:
		return events.TypePolicyRequested
	case events.TypeDriftResolved:
		return events.TypeResolveRequested
	case events.TypeConnectionDeleted:
		return events.TypeDeleteRequested
	case events.TypeRollbackPlanned:
		return events.TypeRollbackRequested
	case events.TypeReleased:
		return events.TypeReleaseRequested
	}
	return ""
}

// answeredType returns the request type a fact answers, reading it from
// the data when needed: a rejection's request type, a rollback's
// rollback_to on catalog.versioned and repair_failed.
func answeredType(fact event.Event) string {
	switch fact.Type() {
	case events.TypeRequestRejected:
		var d events.RequestRejected
		if json.Unmarshal(fact.Data(), &d) == nil {
			return d.RequestType
		}
		return ""
	case events.TypeCatalogVersioned, events.TypeRepairFailed:
		var d struct {
			RollbackTo int `json:"rollback_to"`
		}
		if json.Unmarshal(fact.Data(), &d) == nil && d.RollbackTo > 0 {
			return events.TypeRollbackRequested
		}
	}
	return requestTypeOf(fact.Type())
}

// failure is what a failure or rejection fact says went wrong.
type failure struct {
	reason, field, connectionID string
}

func failureOf(fact event.Event) failure {
	f := failure{connectionID: fact.Subject()}
	switch fact.Type() {
	case events.TypeOnboardFailed:
		var d events.OnboardFailed
		_ = json.Unmarshal(fact.Data(), &d)
		f.reason = d.Reason
		if d.Step != "" {
			f.reason = d.Step + ": " + d.Reason
		}
	case events.TypeRepairFailed:
		var d events.RepairFailed
		_ = json.Unmarshal(fact.Data(), &d)
		f.reason, f.field = d.Reason, d.Field
		if d.Stream != "" && d.Field == "" {
			f.field = d.Stream
		}
		f.connectionID = firstNonEmpty(f.connectionID, d.ConnectionID)
	case events.TypeSyncFailed, events.TypeSyncCancelled:
		var d events.SyncFinished
		_ = json.Unmarshal(fact.Data(), &d)
		f.reason = firstNonEmpty(d.ErrorMessage, "sync "+d.Status)
		f.connectionID = firstNonEmpty(f.connectionID, d.ConnectionID)
	case events.TypeRequestRejected:
		var d events.RequestRejected
		_ = json.Unmarshal(fact.Data(), &d)
		f.reason, f.field = d.Reason, d.Field
	}
	if f.reason == "" {
		f.reason = "the request ended with " + fact.Type()
	}
	return f
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}

// structured encodes a fact as a structured CloudEvent (one line of JSON).
func structured(e event.Event) json.RawMessage {
	b, err := json.Marshal(e)
	if err != nil {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// shape selects how a completed request is answered.
type shape int

const (
	// shapeSeed answers with the seed API's bodies (the JSON routes).
	shapeSeed shape = iota
	// shapeEvent answers with the completion CloudEvent (POST /v1/events).
	shapeEvent
)

// writeOutcome answers a completed request. Successes are 200 with the
// seed's body (or the CloudEvent); failures 422 and rejections 400, both
// with an Error naming the reason and carrying the fact.
func writeOutcome(w http.ResponseWriter, requestID string, fact event.Event, sh shape, dataPrefix bool) {
	w.Header().Set("Aam-Event-Type", fact.Type())
	switch st := FactState(fact.Type()); st {
	case RequestFailed, RequestCancelled, RequestRejected:
		f := failureOf(fact)
		status := http.StatusUnprocessableEntity
		if st == RequestRejected {
			status = http.StatusBadRequest
			if !dataPrefix {
				f.field = strings.TrimPrefix(f.field, "data.")
			}
		}
		writeError(w, status, Error{Error: f.reason, Field: f.field, RequestID: requestID, Status: st,
			Type: fact.Type(), ConnectionID: f.connectionID, Event: structured(fact)})
		return
	}
	if sh == shapeEvent {
		w.Header().Set("Content-Type", events.MediaTypeCloudEventsJSON)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(append(structured(fact), '\n'))
		return
	}
	switch fact.Type() {
	case events.TypeOnboarded:
		var d events.ConnectionOnboarded
		_ = json.Unmarshal(fact.Data(), &d)
		writeJSON(w, http.StatusOK, SeedConnection{ID: d.ID, Name: d.Name, SourceType: d.SourceType, Status: d.Status,
			AirbyteSourceID: d.AirbyteSourceID, AirbyteConnectionID: d.AirbyteConnectionID, CreatedAt: d.CreatedAt.UTC()})
	case events.TypeSyncStarted:
		var d events.SyncStarted
		_ = json.Unmarshal(fact.Data(), &d)
		writeJSON(w, http.StatusOK, SeedSync{ConnectionID: d.ConnectionID, JobID: d.JobID, Status: d.Status, Message: d.Message})
	case events.TypeCatalogVersioned:
		var d events.CatalogVersioned
		_ = json.Unmarshal(fact.Data(), &d)
		writeJSON(w, http.StatusOK, SeedRepair{ConnectionID: d.ConnectionID, PreviousVersion: d.PreviousVersion,
			NewVersion: d.NewVersion, Status: d.Status, Message: d.Message})
	default: // sync.succeeded: the job's terminal record as the worker wrote it
		writeJSON(w, http.StatusOK, json.RawMessage(fact.Data()))
	}
}
