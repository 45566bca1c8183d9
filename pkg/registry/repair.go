package registry

import (
	"context"
	"time"
)

// HealingHolder is the repair request that holds a connection HEALING.
type HealingHolder struct {
	// RequestSource and RequestID identify the repair request; both are
	// empty when no request holds the connection.
	RequestSource string
	RequestID     string
	// StartedAt is when the request set HEALING (zero when none holds it).
	StartedAt time.Time
}

// Held reports whether a request holds the connection.
func (h HealingHolder) Held() bool { return h.RequestSource != "" || h.RequestID != "" }

// Is reports whether the request source+id holds the connection.
func (h HealingHolder) Is(source, id string) bool {
	return h.Held() && h.RequestSource == source && h.RequestID == id
}

// ConnectionStartHealing sets a connection HEALING on behalf of a repair
// request and records the request as the holder. The caller checks, under
// ConnectionGetForUpdate, that the connection may be repaired.
func (q *Queries) ConnectionStartHealing(ctx context.Context, id, requestSource, requestID, reason string) (Connection, error) {
	if !validUUID(id) {
		return Connection{}, &Error{Kind: ErrNotFound, Err: errBadID(id)}
	}
	return scanConnection(q.db.QueryRow(ctx, `UPDATE connections
		SET status = 'HEALING', status_reason = $4, healing_request_source = $2,
			healing_request_id = $3, healing_started_at = now(), updated_at = now()
		WHERE id = $1 RETURNING `+connectionColumns, id, requestSource, requestID, reason))
}

// ConnectionHealingHolder returns the repair request that holds a
// connection HEALING (an empty HealingHolder when none does).
func (q *Queries) ConnectionHealingHolder(ctx context.Context, id string) (HealingHolder, error) {
	if !validUUID(id) {
		return HealingHolder{}, &Error{Kind: ErrNotFound, Err: errBadID(id)}
	}
	var h HealingHolder
	var started *time.Time
	err := q.db.QueryRow(ctx, `SELECT healing_request_source, healing_request_id, healing_started_at
		FROM connections WHERE id = $1`, id).Scan(&h.RequestSource, &h.RequestID, &started)
	if err != nil {
		return HealingHolder{}, translate(err)
	}
	if started != nil {
		h.StartedAt = *started
	}
	return h, nil
}

// ConnectionStopHealing forgets the repair request holding a connection.
// Call it in the transaction that ends the repair (ConnectionActivate or
// ConnectionSetStatus).
func (q *Queries) ConnectionStopHealing(ctx context.Context, id string) error {
	if !validUUID(id) {
		return &Error{Kind: ErrNotFound, Err: errBadID(id)}
	}
	tag, err := q.db.Exec(ctx, `UPDATE connections
		SET healing_request_source = '', healing_request_id = '', healing_started_at = NULL
		WHERE id = $1`, id)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return &Error{Kind: ErrNotFound, Err: errBadID(id)}
	}
	return nil
}
