package registry

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// DriftPolicy is a row of drift_policies: one immutable version of a
// connection's drift policy (the policy document is opaque here).
type DriftPolicy struct {
	ConnectionID  string          `json:"connection_id"`
	Version       int             `json:"version"`
	Policy        json.RawMessage `json:"policy"`
	RequestSource string          `json:"request_source"`
	RequestID     string          `json:"request_id"`
	CreatedAt     time.Time       `json:"created_at"`
}

const policyColumns = `connection_id::text, version, policy, request_source, request_id, created_at`

func scanPolicy(row pgx.Row) (DriftPolicy, error) {
	var p DriftPolicy
	var doc []byte
	if err := row.Scan(&p.ConnectionID, &p.Version, &doc, &p.RequestSource, &p.RequestID, &p.CreatedAt); err != nil {
		return DriftPolicy{}, translate(err)
	}
	p.Policy = doc
	return p, nil
}

// PolicyCreate stores policy as the connection's next version; created is
// false when the request (source, id) stored it before, whose version is
// returned. Run it holding the connection's row lock
// (ConnectionGetForUpdate), which orders versions.
func (q *Queries) PolicyCreate(ctx context.Context, connectionID string, policy json.RawMessage, requestSource, requestID string) (p DriftPolicy, created bool, err error) {
	if !validUUID(connectionID) {
		return DriftPolicy{}, false, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	if requestID != "" {
		p, err := scanPolicy(q.db.QueryRow(ctx, `SELECT `+policyColumns+` FROM drift_policies
			WHERE connection_id = $1 AND request_source = $2 AND request_id = $3`, connectionID, requestSource, requestID))
		if err == nil {
			return p, false, nil
		}
		if !IsNotFound(err) {
			return DriftPolicy{}, false, err
		}
	}
	p, err = scanPolicy(q.db.QueryRow(ctx, `INSERT INTO drift_policies (connection_id, version, policy, request_source, request_id)
		SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4 FROM drift_policies WHERE connection_id = $1
		RETURNING `+policyColumns, connectionID, []byte(policy), requestSource, requestID))
	if err != nil {
		return DriftPolicy{}, false, err
	}
	return p, true, nil
}

// PolicyLatest returns the connection's policy in force; ErrNotFound when
// none was set (the default policy applies).
func (q *Queries) PolicyLatest(ctx context.Context, connectionID string) (DriftPolicy, error) {
	if !validUUID(connectionID) {
		return DriftPolicy{}, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	return scanPolicy(q.db.QueryRow(ctx, `SELECT `+policyColumns+` FROM drift_policies
		WHERE connection_id = $1 ORDER BY version DESC LIMIT 1`, connectionID))
}

// PolicyList lists every version of a connection's policy, oldest first.
func (q *Queries) PolicyList(ctx context.Context, connectionID string) ([]DriftPolicy, error) {
	if !validUUID(connectionID) {
		return nil, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	out, err := list(ctx, q.db, scanPolicy, `SELECT `+policyColumns+` FROM drift_policies
		WHERE connection_id = $1 ORDER BY version`, connectionID)
	if err == nil && out == nil {
		out = []DriftPolicy{}
	}
	return out, err
}

// DriftSetStatus moves a drift's decision to status; resolvedBy, when not
// empty, records who resolved it (an approval or rejection) and when.
func (q *Queries) DriftSetStatus(ctx context.Context, connectionID string, version int, hash, status, resolvedBy string) error {
	_, err := q.db.Exec(ctx, `UPDATE schema_drifts SET status = $4,
			resolved_by = CASE WHEN $5 <> '' THEN $5 ELSE resolved_by END,
			resolved_at = CASE WHEN $5 <> '' THEN now() ELSE resolved_at END
		WHERE connection_id = $1 AND catalog_version = $2 AND discovered_hash = $3`, connectionID, version, hash, status, resolvedBy)
	return translate(err)
}

// DriftAirbytePaused records that a paused drift's Airbyte connection was
// made inactive.
func (q *Queries) DriftAirbytePaused(ctx context.Context, connectionID string, version int, hash string, at time.Time) error {
	_, err := q.db.Exec(ctx, `UPDATE schema_drifts SET airbyte_paused_at = $4
		WHERE connection_id = $1 AND catalog_version = $2 AND discovered_hash = $3`, connectionID, version, hash, at)
	return translate(err)
}

// DriftPausePending returns a connection's paused drift whose Airbyte
// connection was not yet made inactive; ErrNotFound when there is none.
func (q *Queries) DriftPausePending(ctx context.Context, connectionID string) (Drift, error) {
	if !validUUID(connectionID) {
		return Drift{}, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	return scanDrift(q.db.QueryRow(ctx, `SELECT `+driftColumns+` FROM schema_drifts
		WHERE connection_id = $1 AND status = 'paused' AND airbyte_paused_at IS NULL
		ORDER BY detected_at LIMIT 1`, connectionID))
}

// DriftResolve records a person's decision on a drift: its status
// (approved or rejected), who decided (the request), and the repair
// request that applies an approval ("" for none; its publication is then
// pending).
func (q *Queries) DriftResolve(ctx context.Context, connectionID string, version int, hash, status, resolvedBy, repairRequestID string) error {
	_, err := q.db.Exec(ctx, `UPDATE schema_drifts SET status = $4, resolved_by = $5, resolved_at = now(),
			repair_request_id = CASE WHEN $6 <> '' THEN $6 ELSE repair_request_id END,
			repair_published_at = CASE WHEN $6 <> '' THEN NULL ELSE repair_published_at END
		WHERE connection_id = $1 AND catalog_version = $2 AND discovered_hash = $3`,
		connectionID, version, hash, status, resolvedBy, repairRequestID)
	return translate(err)
}

// DriftApprovedUnpublished returns a connection's approved drift whose
// repair request was not yet published; ErrNotFound when there is none.
func (q *Queries) DriftApprovedUnpublished(ctx context.Context, connectionID string) (Drift, error) {
	if !validUUID(connectionID) {
		return Drift{}, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	return scanDrift(q.db.QueryRow(ctx, `SELECT `+driftColumns+` FROM schema_drifts
		WHERE connection_id = $1 AND status = 'approved' AND repair_request_id <> '' AND repair_published_at IS NULL
		ORDER BY detected_at LIMIT 1`, connectionID))
}
