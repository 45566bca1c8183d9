package events

import (
	"slices"
	"sort"
)

// Subjects of requests. Requests are stored in the AAM_REQUESTS stream.
const (
	SubjectOnboardRequest  = "aam.requests.connection.onboard"
	SubjectSyncRequest     = "aam.requests.connection.sync"
	SubjectRepairRequest   = "aam.requests.connection.repair"
	SubjectPolicyRequest   = "aam.requests.connection.policy"
	SubjectResolveRequest  = "aam.requests.drift.resolve"
	SubjectDeleteRequest   = "aam.requests.connection.delete"
	SubjectRollbackRequest = "aam.requests.connection.rollback"
)

// Subjects of facts (completion events). Facts are stored in the replayable
// AAM_EVENTS stream.
const (
	SubjectOnboarded         = "aam.events.connection.onboarded"
	SubjectOnboardFailed     = "aam.events.connection.onboard_failed"
	SubjectSyncStarted       = "aam.events.sync.started"
	SubjectSyncSucceeded     = "aam.events.sync.succeeded"
	SubjectSyncFailed        = "aam.events.sync.failed"
	SubjectSyncCancelled     = "aam.events.sync.cancelled"
	SubjectCatalogVersioned  = "aam.events.catalog.versioned"
	SubjectRepairFailed      = "aam.events.connection.repair_failed"
	SubjectDriftDetected     = "aam.events.drift.detected"
	SubjectApprovalRequested = "aam.events.drift.approval_requested"
	SubjectConnectionPaused  = "aam.events.connection.paused"
	SubjectPolicySet         = "aam.events.connection.policy_set"
	SubjectDriftResolved     = "aam.events.drift.resolved"
	SubjectConnectionDeleted = "aam.events.connection.deleted"
	SubjectRollbackPlanned   = "aam.events.catalog.rollback_planned"
	SubjectRequestRejected   = "aam.events.request.rejected"

	// SubjectConnectionOrphaned carries the fact that Airbyte does not know
	// a connection any more.
	SubjectConnectionOrphaned = "aam.events.connection.orphaned"
)

// Wildcards and prefixes of the three streams.
const (
	SubjectRequestsAll = "aam.requests.>"
	SubjectEventsAll   = "aam.events.>"
	SubjectDLQAll      = "aam.dlq.>"

	// SubjectDLQPrefix prefixes the dead-letter copy of a request: a request
	// published on aam.requests.connection.sync is copied, when it cannot be
	// processed, to aam.dlq.connection.sync.
	SubjectDLQPrefix = "aam.dlq."
)

// CloudEvent types. The version suffix lets a v2 payload live beside v1.
const (
	TypeOnboardRequested  = "io.aam.connection.onboard.requested.v1"
	TypeSyncRequested     = "io.aam.connection.sync.requested.v1"
	TypeRepairRequested   = "io.aam.connection.repair.requested.v1"
	TypePolicyRequested   = "io.aam.connection.policy.set.requested.v1"
	TypeResolveRequested  = "io.aam.drift.resolve.requested.v1"
	TypeDeleteRequested   = "io.aam.connection.delete.requested.v1"
	TypeRollbackRequested = "io.aam.connection.rollback.requested.v1"

	TypeOnboarded         = "io.aam.connection.onboarded.v1"
	TypeOnboardFailed     = "io.aam.connection.onboard_failed.v1"
	TypeSyncStarted       = "io.aam.sync.started.v1"
	TypeSyncSucceeded     = "io.aam.sync.succeeded.v1"
	TypeSyncFailed        = "io.aam.sync.failed.v1"
	TypeSyncCancelled     = "io.aam.sync.cancelled.v1"
	TypeCatalogVersioned  = "io.aam.catalog.versioned.v1"
	TypeRepairFailed      = "io.aam.connection.repair_failed.v1"
	TypeDriftDetected     = "io.aam.drift.detected.v1"
	TypeApprovalRequested = "io.aam.drift.approval_requested.v1"
	TypeConnectionPaused  = "io.aam.connection.paused.v1"
	TypePolicySet         = "io.aam.connection.policy_set.v1"
	TypeDriftResolved     = "io.aam.drift.resolved.v1"
	TypeConnectionDeleted = "io.aam.connection.deleted.v1"
	TypeRollbackPlanned   = "io.aam.catalog.rollback_planned.v1"
	TypeRequestRejected   = "io.aam.request.rejected.v1"

	TypeConnectionOrphaned = "io.aam.connection.orphaned.v1"
)

// Subjects and types of connection health: the release request and the
// warning, quarantine and release facts.
const (
	SubjectReleaseRequest = "aam.requests.connection.release"
	SubjectHealthWarning  = "aam.events.connection.health_warning"
	SubjectQuarantined    = "aam.events.connection.quarantined"
	SubjectReleased       = "aam.events.connection.released"

	TypeReleaseRequested = "io.aam.connection.release.requested.v1"
	TypeHealthWarning    = "io.aam.connection.health_warning.v1"
	TypeQuarantined      = "io.aam.connection.quarantined.v1"
	TypeReleased         = "io.aam.connection.released.v1"
)

// Subject and type of a volume anomaly: a successful sync whose stream
// volume or duration is far from the connection's trailing history.
const (
	SubjectSyncAnomaly = "aam.events.sync.anomaly.detected"
	TypeSyncAnomaly    = "io.aam.sync.anomaly.detected.v1"
)

// Extension attribute names used by AAM.
const (
	// ExtCorrelationID is set on every completion event to the id of the
	// request it answers.
	ExtCorrelationID = "correlationid"
	// ExtTraceParent carries the W3C trace context of the starting operation
	// (CloudEvents distributed tracing extension).
	ExtTraceParent = "traceparent"
	// ExtTraceState is the optional companion of ExtTraceParent.
	ExtTraceState = "tracestate"
)

// Kind tells requests from facts.
type Kind int

const (
	// KindRequest is a request for work, consumed by exactly one worker.
	KindRequest Kind = iota + 1
	// KindFact is a completion event for downstream listeners.
	KindFact
)

func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindFact:
		return "fact"
	}
	return "unknown"
}

// Descriptor describes one event type of the catalog.
type Descriptor struct {
	// Type is the CloudEvent type.
	Type string
	// Subject is the NATS subject the event travels on.
	Subject string
	// Kind is KindRequest or KindFact.
	Kind Kind
	// Schema is the file name of the JSON Schema of the event's data in the
	// schemas/ folder (and its dataschema URI suffix).
	Schema string
	// Summary is one line for documentation.
	Summary string
	// New returns a pointer to a zero payload struct for this type.
	New func() any
}

// DataSchemaBase prefixes Descriptor.Schema to form the dataschema URI.
const DataSchemaBase = "https://schemas.aam.dev/events/"

// DataSchema returns the dataschema URI of the descriptor's payload.
func (d Descriptor) DataSchema() string { return DataSchemaBase + d.Schema }

var catalog = []Descriptor{
	{TypeOnboardRequested, SubjectOnboardRequest, KindRequest, "connection.onboard.requested.v1.json",
		"Onboard a source connection: credentials, source, discover, connection, registry at catalog version 1.",
		func() any { return new(OnboardRequested) }},
	{TypeSyncRequested, SubjectSyncRequest, KindRequest, "connection.sync.requested.v1.json",
		"Start a sync job for a registered connection and follow it to its terminal state.",
		func() any { return new(SyncRequested) }},
	{TypeRepairRequested, SubjectRepairRequest, KindRequest, "connection.repair.requested.v1.json",
		"Apply a new sync catalog to a connection (drift repair) and record it as a new catalog version.",
		func() any { return new(RepairRequested) }},
	{TypePolicyRequested, SubjectPolicyRequest, KindRequest, "connection.policy.set.requested.v1.json",
		"Set a connection's drift policy: CEL rules deciding what each drift change does; stored as a new policy version.",
		func() any { return new(PolicySetRequested) }},
	{TypeResolveRequested, SubjectResolveRequest, KindRequest, "drift.resolve.requested.v1.json",
		"Approve a drift (applied as a new catalog version) or reject it, resuming a paused connection when asked.",
		func() any { return new(ResolveRequested) }},
	{TypeDeleteRequested, SubjectDeleteRequest, KindRequest, "connection.delete.requested.v1.json",
		"Delete a connection: its Airbyte connection and source go, its registry history stays (status DELETED).",
		func() any { return new(DeleteRequested) }},
	{TypeReleaseRequested, SubjectReleaseRequest, KindRequest, "connection.release.requested.v1.json",
		"Release a QUARANTINED connection: it is ACTIVE again (and active in Airbyte) with its failure count reset.",
		func() any { return new(ReleaseRequested) }},
	{TypeRollbackRequested, SubjectRollbackRequest, KindRequest, "connection.rollback.requested.v1.json",
		"Roll a connection's catalog back to an earlier version, validated against a fresh discover, as a new version; or, with dry_run, only say what would change.",
		func() any { return new(RollbackRequested) }},
	{TypeOnboarded, SubjectOnboarded, KindFact, "connection.onboarded.v1.json",
		"A connection was onboarded and is ACTIVE at catalog version 1.",
		func() any { return new(ConnectionOnboarded) }},
	{TypeOnboardFailed, SubjectOnboardFailed, KindFact, "connection.onboard_failed.v1.json",
		"Onboarding failed at a step; the connection is FAILED.",
		func() any { return new(OnboardFailed) }},
	{TypeSyncStarted, SubjectSyncStarted, KindFact, "sync.started.v1.json",
		"An Airbyte sync job was started (or an already running one was attached).",
		func() any { return new(SyncStarted) }},
	{TypeSyncSucceeded, SubjectSyncSucceeded, KindFact, "sync.succeeded.v1.json",
		"A sync job succeeded, with rows, bytes and duration.",
		func() any { return new(SyncFinished) }},
	{TypeSyncFailed, SubjectSyncFailed, KindFact, "sync.failed.v1.json",
		"A sync request failed: the job failed (with Airbyte's failure reason) or could not start.",
		func() any { return new(SyncFinished) }},
	{TypeSyncCancelled, SubjectSyncCancelled, KindFact, "sync.cancelled.v1.json",
		"A sync job was cancelled (by Airbyte, by a user, or after the follow timeout).",
		func() any { return new(SyncFinished) }},
	{TypeSyncAnomaly, SubjectSyncAnomaly, KindFact, "sync.anomaly.detected.v1.json",
		"A successful sync moved a stream's volume (or took a time) far from the median of its last successful jobs: drop, spike, zero or duration, once per job and stream.",
		func() any { return new(SyncAnomaly) }},
	{TypeCatalogVersioned, SubjectCatalogVersioned, KindFact, "catalog.versioned.v1.json",
		"A new sync catalog was applied and recorded as a new version (or was identical to the current one).",
		func() any { return new(CatalogVersioned) }},
	{TypeRepairFailed, SubjectRepairFailed, KindFact, "connection.repair_failed.v1.json",
		"A repair request was rejected or failed; the connection keeps its previous catalog and status.",
		func() any { return new(RepairFailed) }},
	{TypeDriftDetected, SubjectDriftDetected, KindFact, "drift.detected.v1.json",
		"The schema observer found the source's schema drifted from the connection's catalog.",
		func() any { return new(DriftDetected) }},
	{TypeApprovalRequested, SubjectApprovalRequested, KindFact, "drift.approval_requested.v1.json",
		"A connection's drift policy asks a person to approve or reject a drift.",
		func() any { return new(ApprovalRequested) }},
	{TypeConnectionPaused, SubjectConnectionPaused, KindFact, "connection.paused.v1.json",
		"A connection's drift policy paused it (inactive in Airbyte, PAUSED in the registry).",
		func() any { return new(ConnectionPaused) }},
	{TypePolicySet, SubjectPolicySet, KindFact, "connection.policy_set.v1.json",
		"A connection's drift policy was stored as a new version (or the request had stored it before).",
		func() any { return new(PolicySet) }},
	{TypeDriftResolved, SubjectDriftResolved, KindFact, "drift.resolved.v1.json",
		"A drift was approved (its repair requested) or rejected; a paused connection resumed when asked.",
		func() any { return new(DriftResolved) }},
	{TypeConnectionDeleted, SubjectConnectionDeleted, KindFact, "connection.deleted.v1.json",
		"A connection was deleted: its Airbyte connection and source are gone, its registry row is DELETED with its history.",
		func() any { return new(ConnectionDeleted) }},
	{TypeHealthWarning, SubjectHealthWarning, KindFact, "connection.health_warning.v1.json",
		"A connection's syncs failed as many times in a row as its health policy warns at (once per run of failures).",
		func() any { return new(HealthWarning) }},
	{TypeQuarantined, SubjectQuarantined, KindFact, "connection.quarantined.v1.json",
		"A connection was QUARANTINED by its health policy (inactive in Airbyte, sync requests refused), with its last failures.",
		func() any { return new(ConnectionQuarantined) }},
	{TypeReleased, SubjectReleased, KindFact, "connection.released.v1.json",
		"A QUARANTINED connection was released on request: ACTIVE again, its failure count reset.",
		func() any { return new(ConnectionReleased) }},
	{TypeConnectionOrphaned, SubjectConnectionOrphaned, KindFact, "connection.orphaned.v1.json",
		"Airbyte answered that it does not know a connection's Airbyte connection (or source): the registry row is ORPHANED with the reason, once.",
		func() any { return new(ConnectionOrphaned) }},
	{TypeRollbackPlanned, SubjectRollbackPlanned, KindFact, "catalog.rollback_planned.v1.json",
		"A dry-run rollback's answer: the changes from the current catalog version to the one asked for, the streams Airbyte would need to refresh or clear, and whether it applies.",
		func() any { return new(RollbackPlanned) }},
	{TypeRequestRejected, SubjectRequestRejected, KindFact, "request.rejected.v1.json",
		"A request could not be accepted (not a CloudEvent, missing attribute, unknown type, invalid data).",
		func() any { return new(RequestRejected) }},
}

var byType = func() map[string]Descriptor {
	m := make(map[string]Descriptor, len(catalog))
	for _, d := range catalog {
		m[d.Type] = d
	}
	return m
}()

// Catalog returns every event type AAM knows, requests first, sorted by type
// within each kind. The slice is a copy.
func Catalog() []Descriptor {
	out := append([]Descriptor(nil), catalog...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Type < out[j].Type
	})
	return out
}

// Lookup returns the descriptor of a CloudEvent type.
func Lookup(eventType string) (Descriptor, bool) {
	d, ok := byType[eventType]
	return d, ok
}

// RequestTypeForSubject returns the request type published on a request
// subject, if the subject is one of AAM's request subjects.
func RequestTypeForSubject(subject string) (string, bool) {
	for _, d := range catalog {
		if d.Kind == KindRequest && d.Subject == subject {
			return d.Type, true
		}
	}
	return "", false
}

// RequestSubjects returns the subjects of AAM's requests, sorted: the only
// subjects the requests stream stores, so that a publish to any other
// subject under aam.requests. is refused instead of stored unanswered.
func RequestSubjects() []string {
	var out []string
	for _, d := range catalog {
		if d.Kind == KindRequest && !slices.Contains(out, d.Subject) {
			out = append(out, d.Subject)
		}
	}
	slices.Sort(out)
	return out
}

// DLQSubject returns the dead-letter subject for a request subject:
// aam.requests.X becomes aam.dlq.X. Other subjects are placed under
// aam.dlq.other.
func DLQSubject(requestSubject string) string {
	const prefix = "aam.requests."
	if len(requestSubject) > len(prefix) && requestSubject[:len(prefix)] == prefix {
		return SubjectDLQPrefix + requestSubject[len(prefix):]
	}
	return SubjectDLQPrefix + "other"
}
