package registry

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

const connectionColumns = `id::text, name, source_type, credential_id, airbyte_destination_id,
	airbyte_source_definition_id, coalesce(airbyte_source_id, ''), coalesce(airbyte_connection_id, ''),
	coalesce(airbyte_source_catalog_id, ''), status::text, status_reason, onboard_step,
	request_source, request_id, requested_streams, discovered_catalog, catalog_version,
	created_at, updated_at`

func scanConnection(row pgx.Row) (Connection, error) {
	var c Connection
	var status string
	var discovered []byte
	err := row.Scan(&c.ID, &c.Name, &c.SourceType, &c.CredentialID, &c.AirbyteDestinationID,
		&c.AirbyteSourceDefinitionID, &c.AirbyteSourceID, &c.AirbyteConnectionID,
		&c.AirbyteSourceCatalogID, &status, &c.StatusReason, &c.OnboardStep,
		&c.RequestSource, &c.RequestID, &c.RequestedStreams, &discovered, &c.CatalogVersion,
		&c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return Connection{}, translate(err)
	}
	c.Status = ConnectionStatus(status)
	if len(discovered) > 0 {
		c.DiscoveredCatalog = json.RawMessage(discovered)
	}
	if c.RequestedStreams == nil {
		c.RequestedStreams = []string{}
	}
	return c, nil
}

// ConnectionCreateParams are the fields of a new connection.
type ConnectionCreateParams struct {
	ID                   string
	Name                 string
	SourceType           string
	CredentialID         string
	AirbyteDestinationID string
	RequestSource        string
	RequestID            string
	RequestedStreams     []string
	// Holder names the delivery that creates the connection (see
	// ConnectionClaimOnboarding); it holds the onboarding for Lease.
	Holder string
	Lease  time.Duration
}

// ConnectionCreate inserts a PENDING connection for an onboarding request.
// When the request already created a connection, that connection is
// returned with created false.
func (q *Queries) ConnectionCreate(ctx context.Context, p ConnectionCreateParams) (c Connection, created bool, err error) {
	streams := p.RequestedStreams
	if streams == nil {
		streams = []string{}
	}
	var leaseUntil *time.Time
	if p.Holder != "" {
		t := time.Now().Add(p.Lease)
		leaseUntil = &t
	}
	c, err = scanConnection(q.db.QueryRow(ctx, `
		INSERT INTO connections (id, name, source_type, credential_id, airbyte_destination_id,
			request_source, request_id, requested_streams, onboard_holder, onboard_lease_until)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (request_source, request_id) DO NOTHING
		RETURNING `+connectionColumns,
		p.ID, p.Name, p.SourceType, p.CredentialID, p.AirbyteDestinationID,
		p.RequestSource, p.RequestID, streams, p.Holder, leaseUntil))
	if err == nil {
		return c, true, nil
	}
	if !IsNotFound(err) {
		return Connection{}, false, err
	}
	c, err = q.ConnectionGetByRequest(ctx, p.RequestSource, p.RequestID)
	return c, false, err
}

// ConnectionGet returns a connection by registry id.
func (q *Queries) ConnectionGet(ctx context.Context, id string) (Connection, error) {
	if !validUUID(id) {
		return Connection{}, &Error{Kind: ErrNotFound, Err: errBadID(id)}
	}
	return scanConnection(q.db.QueryRow(ctx, `SELECT `+connectionColumns+` FROM connections WHERE id = $1`, id))
}

// ConnectionExists reports whether a connection is registered, reading
// its key only (no columns, no catalog).
func (q *Queries) ConnectionExists(ctx context.Context, id string) (bool, error) {
	if !validUUID(id) {
		return false, nil
	}
	var ok bool
	err := q.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM connections WHERE id = $1)`, id).Scan(&ok)
	return ok, translate(err)
}

// ConnectionGetForUpdate returns a connection and locks its row until the
// transaction ends. Use it in every transaction that changes a connection
// or emits events about it.
func (q *Queries) ConnectionGetForUpdate(ctx context.Context, id string) (Connection, error) {
	if !validUUID(id) {
		return Connection{}, &Error{Kind: ErrNotFound, Err: errBadID(id)}
	}
	return scanConnection(q.db.QueryRow(ctx, `SELECT `+connectionColumns+` FROM connections WHERE id = $1 FOR UPDATE`, id))
}

// ConnectionGetByRequest returns the connection created by an onboarding
// request.
func (q *Queries) ConnectionGetByRequest(ctx context.Context, source, id string) (Connection, error) {
	return scanConnection(q.db.QueryRow(ctx, `SELECT `+connectionColumns+`
		FROM connections WHERE request_source = $1 AND request_id = $2`, source, id))
}

// ConnectionListParams filter and page ConnectionList.
type ConnectionListParams struct {
	// Status filters by status when set.
	Status ConnectionStatus
	// Health filters by health when set.
	Health HealthFilter
	// Limit caps the page (default 100, max 1000).
	Limit int
	// AfterCreatedAt and AfterID continue after the last row of the
	// previous page (keyset pagination in creation order).
	AfterCreatedAt time.Time
	AfterID        string
}

// ConnectionList lists connections in creation order.
func (q *Queries) ConnectionList(ctx context.Context, p ConnectionListParams) ([]Connection, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	afterID := p.AfterID
	if afterID == "" || !validUUID(afterID) {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	return list(ctx, q.db, scanConnection, `SELECT `+connectionColumns+` FROM connections
		WHERE ($5 = '' OR status::text = $5)
		  AND `+healthFilterSQL+`
		  AND (created_at, id) > ($2, $3::uuid)
		ORDER BY created_at, id LIMIT $4`,
		string(p.Health), p.AfterCreatedAt, afterID, limit, string(p.Status))
}

// ConnectionCheckpoint records the result of one onboarding step. Empty
// fields leave the column unchanged.
type ConnectionCheckpoint struct {
	Step                      string
	AirbyteDestinationID      string
	AirbyteSourceDefinitionID string
	AirbyteSourceID           string
	AirbyteSourceCatalogID    string
	AirbyteConnectionID       string
	DiscoveredCatalog         json.RawMessage
}

// ConnectionSaveCheckpoint records an onboarding checkpoint.
func (q *Queries) ConnectionSaveCheckpoint(ctx context.Context, id string, cp ConnectionCheckpoint) (Connection, error) {
	var discovered []byte
	if len(cp.DiscoveredCatalog) > 0 {
		discovered = cp.DiscoveredCatalog
	}
	return scanConnection(q.db.QueryRow(ctx, `UPDATE connections SET
			onboard_step = coalesce(nullif($2, ''), onboard_step),
			airbyte_destination_id = coalesce(nullif($3, ''), airbyte_destination_id),
			airbyte_source_definition_id = coalesce(nullif($4, ''), airbyte_source_definition_id),
			airbyte_source_id = coalesce(nullif($5, ''), airbyte_source_id),
			airbyte_source_catalog_id = coalesce(nullif($6, ''), airbyte_source_catalog_id),
			airbyte_connection_id = coalesce(nullif($7, ''), airbyte_connection_id),
			discovered_catalog = coalesce($8::jsonb, discovered_catalog),
			updated_at = now()
		WHERE id = $1 RETURNING `+connectionColumns,
		id, cp.Step, cp.AirbyteDestinationID, cp.AirbyteSourceDefinitionID, cp.AirbyteSourceID,
		cp.AirbyteSourceCatalogID, cp.AirbyteConnectionID, discovered))
}

// ConnectionSetStatus sets a connection's status and the reason for it.
func (q *Queries) ConnectionSetStatus(ctx context.Context, id string, status ConnectionStatus, reason string) (Connection, error) {
	return scanConnection(q.db.QueryRow(ctx, `UPDATE connections
		SET status = $2, status_reason = $3, updated_at = now()
		WHERE id = $1 RETURNING `+connectionColumns, id, string(status), reason))
}

// ConnectionActivate marks a connection ACTIVE at a catalog version and
// clears the onboarding scratch catalog.
func (q *Queries) ConnectionActivate(ctx context.Context, id string, version int, sourceCatalogID string) (Connection, error) {
	return scanConnection(q.db.QueryRow(ctx, `UPDATE connections
		SET status = 'ACTIVE', status_reason = '', catalog_version = $2,
			airbyte_source_catalog_id = coalesce(nullif($3, ''), airbyte_source_catalog_id),
			discovered_catalog = NULL, updated_at = now()
		WHERE id = $1 RETURNING `+connectionColumns, id, version, sourceCatalogID))
}

// ConnectionCount returns the number of connections.
func (q *Queries) ConnectionCount(ctx context.Context) (int64, error) {
	var n int64
	err := q.db.QueryRow(ctx, `SELECT count(*) FROM connections`).Scan(&n)
	return n, translate(err)
}

// ConnectionClaimOnboarding makes holder (a delivery of the onboarding
// request: its stream and sequence) the one doing the connection's
// onboarding for lease, unless another holder's lease is still running.
// It reports whether holder has the claim and, when not, until when the
// other holds it. Redeliveries of one message share a holder and resume
// each other's work; a copy of the request in another message leaves the
// work to the holder.
func (q *Queries) ConnectionClaimOnboarding(ctx context.Context, id, holder string, lease time.Duration) (bool, time.Time, error) {
	var claimed bool
	var until *time.Time
	err := q.db.QueryRow(ctx, `WITH c AS (
			UPDATE connections SET onboard_holder = $2, onboard_lease_until = now() + $3 * interval '1 millisecond'
			WHERE id = $1 AND (onboard_holder = '' OR onboard_holder = $2 OR onboard_lease_until IS NULL
				OR onboard_lease_until < now())
			RETURNING onboard_lease_until)
		SELECT EXISTS (SELECT 1 FROM c), coalesce((SELECT onboard_lease_until FROM c),
			(SELECT onboard_lease_until FROM connections WHERE id = $1))`,
		id, holder, lease.Milliseconds()).Scan(&claimed, &until)
	if err != nil {
		return false, time.Time{}, translate(err)
	}
	if until == nil {
		return claimed, time.Time{}, nil
	}
	return claimed, *until, nil
}
