package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
)

// outboxColumns select an outbox row (o) and whether it is still pending
// (p, LEFT JOIN outbox_pending).
const outboxColumns = `o.seq, o.event_id, o.event_type, o.subject, o.connection_id, o.correlation_id, o.headers,
	o.data, o.created_at, p.seq IS NULL`

const outboxFrom = ` FROM outbox o LEFT JOIN outbox_pending p ON p.seq = o.seq `

// outboxInsert queues an event: the outbox row and its pending entry, in
// one statement. An event id already queued is ignored.
const outboxInsert = `WITH o AS (
		INSERT INTO outbox (event_id, event_type, subject, connection_id, correlation_id, headers, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING RETURNING seq)
	INSERT INTO outbox_pending (seq) SELECT seq FROM o`

// outboxArgs returns outboxInsert's arguments for row.
func outboxArgs(row OutboxRow) ([]any, error) {
	if row.EventID == "" || row.Subject == "" {
		return nil, &Error{Kind: ErrInvalid, Err: errors.New("outbox row needs an event id and a subject")}
	}
	headers, err := json.Marshal(row.Headers)
	if err != nil {
		return nil, &Error{Kind: ErrInvalid, Err: fmt.Errorf("outbox headers: %w", err)}
	}
	data := row.Data
	if data == nil {
		data = []byte{}
	}
	return []any{row.EventID, row.EventType, row.Subject, row.ConnectionID, row.CorrelationID, headers, data}, nil
}

func scanOutbox(row pgx.Row) (OutboxMessage, error) {
	var m OutboxMessage
	var headers []byte
	err := row.Scan(&m.Seq, &m.EventID, &m.EventType, &m.Subject, &m.ConnectionID, &m.CorrelationID,
		&headers, &m.Data, &m.CreatedAt, &m.Published)
	if err != nil {
		return OutboxMessage{}, translate(err)
	}
	if err := json.Unmarshal(headers, &m.Headers); err != nil {
		return OutboxMessage{}, fmt.Errorf("outbox %d headers: %w", m.Seq, err)
	}
	return m, nil
}

// OutboxAdd queues an encoded event for publication, in the caller's
// transaction. An event id already queued is ignored (reported false):
// events are queued once.
func (q *Queries) OutboxAdd(ctx context.Context, row OutboxRow) (bool, error) {
	args, err := outboxArgs(row)
	if err != nil {
		return false, err
	}
	tag, err := q.db.Exec(ctx, outboxInsert, args...)
	if err != nil {
		return false, translate(err)
	}
	q.outboxQueued(tag.RowsAffected())
	return tag.RowsAffected() == 1, nil
}

// OutboxAddAll queues rows like OutboxAdd, in one round trip, and returns
// how many were new.
func (q *Queries) OutboxAddAll(ctx context.Context, rows []OutboxRow) (int, error) {
	switch len(rows) {
	case 0:
		return 0, nil
	case 1:
		ok, err := q.OutboxAdd(ctx, rows[0])
		if ok {
			return 1, err
		}
		return 0, err
	}
	b := &pgx.Batch{}
	for _, row := range rows {
		if err := queueOutbox(b, row); err != nil {
			return 0, err
		}
	}
	br := q.db.SendBatch(ctx, b)
	n := 0
	var firstErr error
	for range rows {
		tag, err := br.Exec()
		if err != nil && firstErr == nil {
			firstErr = translate(err)
		}
		n += int(tag.RowsAffected())
	}
	if err := br.Close(); err != nil && firstErr == nil {
		firstErr = translate(err)
	}
	q.outboxQueued(int64(n))
	return n, firstErr
}

// OutboxQueue queues rows like OutboxAddAll without saying which were new,
// which lets a transaction of the Store (InTx) send them with its next
// round trip instead of one of their own: the transaction's next
// statement, or its COMMIT when none follows. Outside such a transaction
// they are inserted at once.
func (q *Queries) OutboxQueue(ctx context.Context, rows ...OutboxRow) error {
	if len(rows) == 0 {
		return nil
	}
	t, ok := q.db.(*lazyTx)
	if !ok {
		_, err := q.OutboxAddAll(ctx, rows)
		return err
	}
	b := &pgx.Batch{}
	for _, row := range rows {
		if err := queueOutbox(b, row); err != nil {
			return err
		}
	}
	t.queue(b.QueuedQueries...)
	t.outboxQueued()
	return nil
}

// queueOutbox queues OutboxAdd's statement for row on b.
func queueOutbox(b *pgx.Batch, row OutboxRow) error {
	args, err := outboxArgs(row)
	if err != nil {
		return err
	}
	b.Queue(outboxInsert, args...)
	return nil
}

// OutboxPending returns up to limit unpublished messages in queue order.
func (q *Queries) OutboxPending(ctx context.Context, limit int) ([]OutboxMessage, error) {
	return q.OutboxPendingFrom(ctx, 0, limit)
}

// OutboxPendingFrom returns up to limit unpublished messages with seq ≥
// from, in queue order. The relay reads from just past what it published
// last, so that it does not walk the entries it deleted before they are
// vacuumed; it reads from 0 now and then for events of transactions that
// committed late.
func (q *Queries) OutboxPendingFrom(ctx context.Context, from int64, limit int) ([]OutboxMessage, error) {
	// The page of pending sequence numbers is taken first, as an array, and
	// the rows are fetched by key (an index scan on seq = ANY): a join of
	// the page with the outbox was planned, under load, as a hash join over
	// a scan of the whole outbox. p stands for the pending entry each row
	// has (not published).
	//
	// The statement is planned at each call (an unnamed statement, not one
	// prepared once per connection): outbox_pending takes an insert and a
	// delete per event, and a plan cached while it was small scans it
	// whole, with the dead rows of every event published since its last
	// vacuum (tens of milliseconds per read under load), where a plan made
	// for its present size reads the index from `from` on.
	return list(ctx, q.db, scanOutbox, `SELECT `+outboxColumns+`
		FROM outbox o CROSS JOIN LATERAL (SELECT o.seq) p(seq)
		WHERE o.seq = ANY(ARRAY(SELECT seq FROM outbox_pending WHERE seq >= $1 ORDER BY seq LIMIT $2))
		ORDER BY o.seq`, pgx.QueryExecModeExec, from, limit)
}

// OutboxMarkPublished marks messages as published.
func (q *Queries) OutboxMarkPublished(ctx context.Context, seqs []int64) error {
	// Planned at each call, as OutboxPendingFrom's read.
	_, err := q.db.Exec(ctx, `DELETE FROM outbox_pending WHERE seq = ANY($1)`, pgx.QueryExecModeExec, seqs)
	return translate(err)
}

// OutboxPendingCount returns the number of unpublished messages and the age
// of the oldest.
func (q *Queries) OutboxPendingCount(ctx context.Context) (int64, time.Duration, error) {
	var n int64
	var oldest *time.Time
	err := q.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM outbox_pending),
		(SELECT o.created_at FROM outbox o WHERE o.seq = (SELECT min(seq) FROM outbox_pending))`).Scan(&n, &oldest)
	if err != nil {
		return 0, 0, translate(err)
	}
	if oldest == nil {
		return n, 0, nil
	}
	return n, time.Since(*oldest), nil
}

// OutboxByCorrelation returns the events that answer a request id, in
// queue order.
func (q *Queries) OutboxByCorrelation(ctx context.Context, correlationID string) ([]OutboxMessage, error) {
	return list(ctx, q.db, scanOutbox, `SELECT `+outboxColumns+outboxFrom+`
		WHERE o.correlation_id = $1 ORDER BY o.seq`, correlationID)
}

// OutboxByConnection returns the newest events about a connection, oldest
// first.
func (q *Queries) OutboxByConnection(ctx context.Context, connectionID string, limit int) ([]OutboxMessage, error) {
	if limit <= 0 {
		limit = 100
	}
	return list(ctx, q.db, scanOutbox, `SELECT * FROM (SELECT `+outboxColumns+outboxFrom+`
		WHERE o.connection_id = $1 ORDER BY o.seq DESC LIMIT $2) t ORDER BY seq`, connectionID, limit)
}

// OutboxPurge deletes published messages queued before the given time and
// returns how many were deleted.
func (q *Queries) OutboxPurge(ctx context.Context, queuedBefore time.Time) (int64, error) {
	tag, err := q.db.Exec(ctx, `DELETE FROM outbox o WHERE o.created_at < $1
		AND NOT EXISTS (SELECT 1 FROM outbox_pending p WHERE p.seq = o.seq)`, queuedBefore)
	if err != nil {
		return 0, translate(err)
	}
	return tag.RowsAffected(), nil
}

// OutboxLockKey returns the advisory lock key that elects one publishing
// relay per registry: derived from the current schema, so that registries
// in separate schemas of one database each have their relay.
func (q *Queries) OutboxLockKey(ctx context.Context) (int64, error) {
	var schema string
	if err := q.db.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return 0, translate(err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("aam-outbox-relay:" + schema))
	return int64(h.Sum64() >> 1), nil
}

// OutboxLock tries to take the relay's advisory lock key, without waiting,
// and reports whether it did. The lock belongs to the database session:
// q must run on one connection (not a pool), which keeps the lock until
// OutboxUnlock or until it closes.
func (q *Queries) OutboxLock(ctx context.Context, key int64) (bool, error) {
	var locked bool
	if err := q.db.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&locked); err != nil {
		return false, translate(err)
	}
	return locked, nil
}

// OutboxUnlock releases the lock OutboxLock took on the same connection.
func (q *Queries) OutboxUnlock(ctx context.Context, key int64) error {
	_, err := q.db.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key)
	return translate(err)
}

// OutboxBound is where the outbox stood at one moment: the first sequence
// number not handed out yet, and the transactions running then.
type OutboxBound struct {
	// Next is the first sequence number not handed out yet: every lower
	// one was taken by a transaction that had begun by then.
	Next int64
	// xid is a transaction id assigned after Next was read: transactions
	// that took lower sequence numbers have lower ids.
	xid string
}

// OutboxBoundGet returns the outbox's bound now. q must not be in a
// transaction: the bound settles once the transaction id it takes has
// ended with every lower one.
func (q *Queries) OutboxBoundGet(ctx context.Context) (OutboxBound, error) {
	// The sequence is read before an id is assigned. A snapshot's xmax
	// would not do: it is one past the newest transaction that ended, and
	// transactions from there on that are still running are not in the
	// snapshot at all.
	var last *int64
	if err := q.db.QueryRow(ctx,
		`SELECT pg_sequence_last_value(pg_get_serial_sequence('outbox', 'seq')::regclass)`).Scan(&last); err != nil {
		return OutboxBound{}, fmt.Errorf("outbox sequence: %w", translate(err))
	}
	var b OutboxBound
	if err := q.db.QueryRow(ctx, `SELECT pg_current_xact_id()::text`).Scan(&b.xid); err != nil {
		return OutboxBound{}, fmt.Errorf("transaction id: %w", translate(err))
	}
	b.Next = 1
	if last != nil {
		b.Next = *last + 1
	}
	return b, nil
}

// OutboxBoundSettled reports whether every transaction running at b has
// ended: from then on, a sequence number from b.Next on that a read does
// not find belongs to a transaction still running (or rolled back).
func (q *Queries) OutboxBoundSettled(ctx context.Context, b OutboxBound) (bool, error) {
	var ended bool
	err := q.db.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot()) > $1::xid8`, b.xid).Scan(&ended)
	return ended, translate(err)
}
