package registry

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// The schema observer's statements: its per-connection observation (the
// baseline new streams are measured against, and the claim that keeps two
// observers from discovering the same source at once) and the drifts it
// found.

// StreamName names a stream of a source.
type StreamName struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// Observation is a row of schema_observations.
type Observation struct {
	ConnectionID   string `json:"connection_id"`
	CatalogVersion int    `json:"catalog_version"`
	// Baseline is nil until known.
	Baseline          []StreamName `json:"baseline_streams"`
	BaselineCatalogID string       `json:"baseline_catalog_id"`
	LastHash          string       `json:"last_hash"`
	CheckedAt         time.Time    `json:"checked_at"`
}

// ObservationClaim claims a connection's observation at a catalog version:
// it succeeds (claimed true) when nobody checked the connection since
// checkedBefore, or when the version changed (the baseline is then reset),
// and marks it checked now.
func (q *Queries) ObservationClaim(ctx context.Context, connectionID string, version int, checkedBefore time.Time) (o Observation, claimed bool, err error) {
	if !validUUID(connectionID) {
		return Observation{}, false, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	var baseline []byte
	err = q.db.QueryRow(ctx, `INSERT INTO schema_observations AS o (connection_id, catalog_version)
		VALUES ($1, $2)
		ON CONFLICT (connection_id) DO UPDATE SET
			checked_at = now(),
			catalog_version = $2,
			baseline_streams = CASE WHEN o.catalog_version = $2 THEN o.baseline_streams END,
			baseline_catalog_id = CASE WHEN o.catalog_version = $2 THEN o.baseline_catalog_id ELSE '' END
		WHERE o.checked_at < $3 OR o.catalog_version <> $2
		RETURNING connection_id::text, catalog_version, baseline_streams, baseline_catalog_id, last_hash, checked_at`,
		connectionID, version, checkedBefore).
		Scan(&o.ConnectionID, &o.CatalogVersion, &baseline, &o.BaselineCatalogID, &o.LastHash, &o.CheckedAt)
	if IsNotFound(translate(err)) {
		return Observation{}, false, nil
	}
	if err != nil {
		return Observation{}, false, translate(err)
	}
	if baseline != nil {
		if err := json.Unmarshal(baseline, &o.Baseline); err != nil {
			return Observation{}, false, &Error{Kind: ErrInvalid, Err: err}
		}
		if o.Baseline == nil {
			o.Baseline = []StreamName{}
		}
	}
	return o, true, nil
}

// ObservationRecord records a check's outcome: the baseline (when it was
// unknown) and the hash of the discovered catalog. A version that changed
// meanwhile is left alone.
func (q *Queries) ObservationRecord(ctx context.Context, connectionID string, version int, baseline []StreamName, baselineCatalogID, hash string) error {
	var b []byte
	if baseline != nil {
		var err error
		if b, err = json.Marshal(baseline); err != nil {
			return &Error{Kind: ErrInvalid, Err: err}
		}
	}
	_, err := q.db.Exec(ctx, `UPDATE schema_observations SET
			baseline_streams = coalesce(baseline_streams, $3::jsonb),
			baseline_catalog_id = CASE WHEN baseline_streams IS NULL THEN $4 ELSE baseline_catalog_id END,
			last_hash = $5
		WHERE connection_id = $1 AND catalog_version = $2`, connectionID, version, b, baselineCatalogID, hash)
	return translate(err)
}

// Drift is a row of schema_drifts.
type Drift struct {
	ConnectionID    string          `json:"connection_id"`
	CatalogVersion  int             `json:"catalog_version"`
	DiscoveredHash  string          `json:"discovered_hash"`
	SourceCatalogID string          `json:"source_catalog_id"`
	Breaking        bool            `json:"breaking"`
	Diff            json.RawMessage `json:"diff"`
	RepairRequestID string          `json:"repair_request_id"`
	// RepairPublishedAt is when the repair request was published.
	RepairPublishedAt *time.Time `json:"repair_published_at,omitempty"`
	DetectedAt        time.Time  `json:"detected_at"`
	// Changes are the classified changes; Action, RuleID, PolicyVersion and
	// Decisions the policy's decision and its provenance; Status where the
	// decision stands (DriftStatus values).
	Changes         json.RawMessage `json:"changes"`
	Action          string          `json:"action"`
	RuleID          string          `json:"rule_id"`
	PolicyVersion   int             `json:"policy_version"`
	Decisions       json.RawMessage `json:"decisions"`
	Status          string          `json:"status"`
	AirbytePausedAt *time.Time      `json:"airbyte_paused_at,omitempty"`
	ResolvedAt      *time.Time      `json:"resolved_at,omitempty"`
	ResolvedBy      string          `json:"resolved_by,omitempty"`
}

// Where a drift's decision stands (schema_drifts.status).
const (
	DriftReported          = ""
	DriftPropagated        = "propagated"
	DriftIgnored           = "ignored"
	DriftPaused            = "paused"
	DriftApprovalRequested = "approval_requested"
	DriftApproved          = "approved"
	DriftRejected          = "rejected"
)

const driftColumns = `connection_id::text, catalog_version, discovered_hash, source_catalog_id,
	breaking, diff, repair_request_id, repair_published_at, detected_at,
	changes, action, rule_id, policy_version, decisions, status, airbyte_paused_at, resolved_at, resolved_by`

func scanDrift(row pgx.Row) (Drift, error) {
	var d Drift
	var diff, changes, decisions []byte
	if err := row.Scan(&d.ConnectionID, &d.CatalogVersion, &d.DiscoveredHash, &d.SourceCatalogID,
		&d.Breaking, &diff, &d.RepairRequestID, &d.RepairPublishedAt, &d.DetectedAt,
		&changes, &d.Action, &d.RuleID, &d.PolicyVersion, &decisions, &d.Status, &d.AirbytePausedAt,
		&d.ResolvedAt, &d.ResolvedBy); err != nil {
		return Drift{}, translate(err)
	}
	d.Diff, d.Changes, d.Decisions = diff, changes, decisions
	return d, nil
}

func jsonOr(b json.RawMessage, empty string) []byte {
	if len(b) == 0 {
		return []byte(empty)
	}
	return b
}

// DriftInsert records a drift; it reports false when the same drift (the
// connection's version and discovered catalog) was recorded before.
func (q *Queries) DriftInsert(ctx context.Context, d Drift) (bool, error) {
	tag, err := q.db.Exec(ctx, `INSERT INTO schema_drifts (connection_id, catalog_version, discovered_hash,
			source_catalog_id, breaking, diff, repair_request_id, changes, action, rule_id, policy_version, decisions, status)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING`,
		d.ConnectionID, d.CatalogVersion, d.DiscoveredHash, d.SourceCatalogID, d.Breaking, []byte(d.Diff), d.RepairRequestID,
		jsonOr(d.Changes, "[]"), d.Action, d.RuleID, d.PolicyVersion, jsonOr(d.Decisions, "[]"), d.Status)
	if err != nil {
		return false, translate(err)
	}
	return tag.RowsAffected() == 1, nil
}

// DriftGet returns a recorded drift.
func (q *Queries) DriftGet(ctx context.Context, connectionID string, version int, hash string) (Drift, error) {
	if !validUUID(connectionID) {
		return Drift{}, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	return scanDrift(q.db.QueryRow(ctx, `SELECT `+driftColumns+` FROM schema_drifts
		WHERE connection_id = $1 AND catalog_version = $2 AND discovered_hash = $3`, connectionID, version, hash))
}

// DriftRepairPublished records that a drift's repair request was published.
func (q *Queries) DriftRepairPublished(ctx context.Context, connectionID string, version int, hash string, at time.Time) error {
	_, err := q.db.Exec(ctx, `UPDATE schema_drifts SET repair_published_at = $4
		WHERE connection_id = $1 AND catalog_version = $2 AND discovered_hash = $3`, connectionID, version, hash, at)
	return translate(err)
}

// DriftList lists a connection's drifts, oldest first.
func (q *Queries) DriftList(ctx context.Context, connectionID string) ([]Drift, error) {
	if !validUUID(connectionID) {
		return nil, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	return list(ctx, q.db, scanDrift, `SELECT `+driftColumns+`
		FROM schema_drifts WHERE connection_id = $1 ORDER BY detected_at, catalog_version, discovered_hash`, connectionID)
}
