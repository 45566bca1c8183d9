package registry

import (
	"context"
	"time"
)

// RequestKey is what a keyed request asked: its type, its subject (the
// connection) and a digest of its data.
type RequestKey struct {
	Source     string
	ID         string
	Type       string
	Subject    string
	DataSHA256 []byte
	CreatedAt  time.Time
}

// RequestKeyClaim records k unless its source and id are already recorded,
// and returns the record that holds: k itself (claimed true) or the one made
// first (claimed false), which the caller compares with k.
func (q *Queries) RequestKeyClaim(ctx context.Context, k RequestKey) (RequestKey, bool, error) {
	var (
		out     RequestKey
		claimed bool
	)
	err := q.db.QueryRow(ctx, `WITH ins AS (
			INSERT INTO request_keys (source, id, type, subject, data_sha256)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (source, id) DO NOTHING
			RETURNING source, id, type, subject, data_sha256, created_at, true AS claimed)
		SELECT * FROM ins
		UNION ALL
		SELECT source, id, type, subject, data_sha256, created_at, false
		FROM request_keys WHERE source = $1 AND id = $2 AND NOT EXISTS (SELECT 1 FROM ins)`,
		k.Source, k.ID, k.Type, k.Subject, k.DataSHA256).
		Scan(&out.Source, &out.ID, &out.Type, &out.Subject, &out.DataSHA256, &out.CreatedAt, &claimed)
	if err != nil {
		return RequestKey{}, false, translate(err)
	}
	return out, claimed, nil
}
