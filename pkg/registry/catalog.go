package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

const catalogColumns = `id::text, connection_id::text, version_number, sync_catalog, content_hash,
	coalesce(source_catalog_id, ''), reason, request_source, request_id, created_at`

func scanCatalog(row pgx.Row) (CatalogVersion, error) {
	var v CatalogVersion
	var cat []byte
	err := row.Scan(&v.ID, &v.ConnectionID, &v.VersionNumber, &cat, &v.ContentHash,
		&v.SourceCatalogID, &v.Reason, &v.RequestSource, &v.RequestID, &v.CreatedAt)
	if err != nil {
		return CatalogVersion{}, translate(err)
	}
	v.SyncCatalog = json.RawMessage(cat)
	return v, nil
}

// CatalogHash returns the content hash of a catalog: the SHA-256 of its
// canonical JSON (object keys sorted, no insignificant whitespace), so that
// the same catalog written twice hashes the same.
func CatalogHash(catalog json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(catalog, &v); err != nil {
		return "", fmt.Errorf("catalog hash: %w", err)
	}
	canon, err := json.Marshal(v) // encoding/json sorts map keys
	if err != nil {
		return "", fmt.Errorf("catalog hash: %w", err)
	}
	sum := sha256.Sum256(canon)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// CatalogVersionCreateParams are the fields of a new catalog version.
type CatalogVersionCreateParams struct {
	ConnectionID    string
	VersionNumber   int
	SyncCatalog     json.RawMessage
	SourceCatalogID string
	Reason          string
	RequestSource   string
	RequestID       string
}

// CatalogVersionCreate records a catalog version. The content hash is
// computed here. A version number already taken is ErrConflict.
func (q *Queries) CatalogVersionCreate(ctx context.Context, p CatalogVersionCreateParams) (CatalogVersion, error) {
	hash, err := CatalogHash(p.SyncCatalog)
	if err != nil {
		return CatalogVersion{}, &Error{Kind: ErrInvalid, Err: err}
	}
	return scanCatalog(q.db.QueryRow(ctx, `INSERT INTO sync_catalog_versions
			(id, connection_id, version_number, sync_catalog, content_hash, source_catalog_id,
			 reason, request_source, request_id)
		VALUES ($1, $2, $3, $4, $5, nullif($6, ''), $7, $8, $9)
		RETURNING `+catalogColumns,
		NewID(), p.ConnectionID, p.VersionNumber, []byte(p.SyncCatalog), hash, p.SourceCatalogID,
		p.Reason, p.RequestSource, p.RequestID))
}

// CatalogVersionLatest returns a connection's newest catalog version.
func (q *Queries) CatalogVersionLatest(ctx context.Context, connectionID string) (CatalogVersion, error) {
	if !validUUID(connectionID) {
		return CatalogVersion{}, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	return scanCatalog(q.db.QueryRow(ctx, `SELECT `+catalogColumns+` FROM sync_catalog_versions
		WHERE connection_id = $1 ORDER BY version_number DESC LIMIT 1`, connectionID))
}

// CatalogVersionGet returns one catalog version of a connection.
func (q *Queries) CatalogVersionGet(ctx context.Context, connectionID string, version int) (CatalogVersion, error) {
	if !validUUID(connectionID) {
		return CatalogVersion{}, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	return scanCatalog(q.db.QueryRow(ctx, `SELECT `+catalogColumns+` FROM sync_catalog_versions
		WHERE connection_id = $1 AND version_number = $2`, connectionID, version))
}

// CatalogVersionList lists a connection's catalog versions, oldest first.
func (q *Queries) CatalogVersionList(ctx context.Context, connectionID string) ([]CatalogVersion, error) {
	if !validUUID(connectionID) {
		return nil, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	return list(ctx, q.db, scanCatalog, `SELECT `+catalogColumns+` FROM sync_catalog_versions
		WHERE connection_id = $1 ORDER BY version_number`, connectionID)
}

// CatalogVersionByRequest returns the version a request created, if any.
func (q *Queries) CatalogVersionByRequest(ctx context.Context, connectionID, source, id string) (CatalogVersion, error) {
	return scanCatalog(q.db.QueryRow(ctx, `SELECT `+catalogColumns+` FROM sync_catalog_versions
		WHERE connection_id = $1 AND request_source = $2 AND request_id = $3`, connectionID, source, id))
}
