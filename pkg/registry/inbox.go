package registry

import (
	"context"

	"github.com/jackc/pgx/v5"
)

const inboxColumns = `source, id, type, outcome, reason, received_at`

func scanInboxEntry(row pgx.Row) (InboxEntry, error) {
	var e InboxEntry
	if err := row.Scan(&e.Source, &e.ID, &e.Type, &e.Outcome, &e.Reason, &e.ReceivedAt); err != nil {
		return InboxEntry{}, translate(err)
	}
	return e, nil
}

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
	return scanInboxEntry(q.db.QueryRow(ctx, `SELECT `+inboxColumns+`
		FROM inbox WHERE source = $1 AND id = $2`, source, id))
}

// InboxGetByID returns the inbox entries of a request id from any source.
func (q *Queries) InboxGetByID(ctx context.Context, id string) ([]InboxEntry, error) {
	return list(ctx, q.db, scanInboxEntry, `SELECT `+inboxColumns+`
		FROM inbox WHERE id = $1 ORDER BY received_at`, id)
}
