package registry

import "context"

// Live reports whether s is ACTIVE, HEALING or PAUSED: a status in which
// AAM calls Airbyte for the connection (and may find it unknown there).
func (s ConnectionStatus) Live() bool {
	return s == StatusActive || s == StatusHealing || s == StatusPaused
}

// OrphanFactFunc builds the outbox row that announces a connection marked
// ORPHANED, from the marked row and the status it had.
type OrphanFactFunc func(c Connection, previous ConnectionStatus) (OutboxRow, error)

// ConnectionOrphan marks a live connection (see ConnectionStatus.Live)
// ORPHANED with reason and queues the outbox row fact builds, in one
// transaction. The mark is a conditional UPDATE from a live status under
// the row's lock, so of every caller that meets Airbyte's 404 for one
// connection (copies of a request, workers of several processes, the
// observer) exactly one marks it and queues its fact. The mark forgets the
// repair request holding a HEALING connection.
//
// It returns the connection as it is after the call and whether this call
// marked it; a connection that is not live (already ORPHANED, DELETED,
// PENDING or FAILED) is returned unchanged with false and nothing queued. A
// connection that does not exist is ErrNotFound.
func (s *Store) ConnectionOrphan(ctx context.Context, id, reason string, fact OrphanFactFunc) (Connection, bool, error) {
	var c Connection
	marked := false
	err := s.InTx(ctx, func(q *Queries) error {
		cur, err := q.ConnectionGetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		c = cur
		if !cur.Status.Live() {
			return nil
		}
		c, err = scanConnection(q.db.QueryRow(ctx, `UPDATE connections
			SET status = 'ORPHANED', status_reason = $2, healing_request_source = '', healing_request_id = '',
				healing_started_at = NULL, updated_at = now()
			WHERE id = $1 AND status IN ('ACTIVE', 'HEALING', 'PAUSED')
			RETURNING `+connectionColumns, id, reason))
		if err != nil {
			return err
		}
		row, err := fact(c, cur.Status)
		if err != nil {
			return err
		}
		if err := q.OutboxQueue(ctx, row); err != nil {
			return err
		}
		marked = true
		return nil
	})
	if err != nil {
		return Connection{}, false, err
	}
	return c, marked, nil
}
