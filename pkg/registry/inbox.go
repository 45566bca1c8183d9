package registry

import "context"

// InboxInsert records that a request reached its terminal outcome. It
// reports false when the request was already recorded; the caller then
// rolls its transaction back and does nothing (the request is a duplicate).
func (q *Queries) InboxInsert(ctx context.Context, e InboxEntry) (bool, error) {
	tag, err := q.db.Exec(ctx, `INSERT INTO inbox (source, id, type, outcome, reason)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, id) DO NOTHING`,
		e.Source, e.ID, e.Type, e.Outcome, e.Reason)
	if err != nil {
		return false, translate(err)
	}
	return tag.RowsAffected() == 1, nil
}

// InboxGet returns a request's inbox entry.
func (q *Queries) InboxGet(ctx context.Context, source, id string) (InboxEntry, error) {
	var e InboxEntry
	err := q.db.QueryRow(ctx, `SELECT source, id, type, outcome, reason, received_at
		FROM inbox WHERE source = $1 AND id = $2`, source, id).
		Scan(&e.Source, &e.ID, &e.Type, &e.Outcome, &e.Reason, &e.ReceivedAt)
	return e, translate(err)
}

// InboxGetByID returns the inbox entries of a request id from any source.
func (q *Queries) InboxGetByID(ctx context.Context, id string) ([]InboxEntry, error) {
	rows, err := q.db.Query(ctx, `SELECT source, id, type, outcome, reason, received_at
		FROM inbox WHERE id = $1 ORDER BY received_at`, id)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []InboxEntry
	for rows.Next() {
		var e InboxEntry
		if err := rows.Scan(&e.Source, &e.ID, &e.Type, &e.Outcome, &e.Reason, &e.ReceivedAt); err != nil {
			return nil, translate(err)
		}
		out = append(out, e)
	}
	return out, translate(rows.Err())
}
