package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	"github.com/aam-mesh/aam/events"
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

// outboxArgs encodes e in CloudEvents binary mode for subject and returns
// outboxInsert's arguments.
func outboxArgs(subject string, e event.Event) ([]any, error) {
	msg, err := events.ToMsg(subject, e, events.Binary)
	if err != nil {
		return nil, &Error{Kind: ErrInvalid, Err: err}
	}
	headers, err := json.Marshal(msg.Header)
	if err != nil {
		return nil, &Error{Kind: ErrInvalid, Err: fmt.Errorf("outbox headers: %w", err)}
	}
	data := msg.Data
	if data == nil {
		data = []byte{}
	}
	return []any{e.ID(), e.Type(), subject, e.Subject(), events.CorrelationID(e), headers, data}, nil
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

// OutboxAdd encodes e in CloudEvents binary mode for subject and queues it
// for publication, in the caller's transaction. An event id already queued
// is ignored (reported false): events are queued once.
func (q *Queries) OutboxAdd(ctx context.Context, subject string, e event.Event) (bool, error) {
	args, err := outboxArgs(subject, e)
	if err != nil {
		return false, err
	}
	tag, err := q.db.Exec(ctx, outboxInsert, args...)
	if err != nil {
		return false, translate(err)
	}
	if tag.RowsAffected() == 1 {
		q.outboxWrites.Add(1)
		return true, nil
	}
	return false, nil
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
	// The page of pending sequence numbers is taken first, then each row is
	// fetched by key (LATERAL: a nested loop, never a scan of the whole
	// outbox).
	return collectOutbox(q.db.Query(ctx, `SELECT `+outboxColumns+`
		FROM (SELECT seq FROM outbox_pending WHERE seq >= $1 ORDER BY seq LIMIT $2) p
		CROSS JOIN LATERAL (SELECT * FROM outbox WHERE outbox.seq = p.seq) o
		ORDER BY p.seq`, from, limit))
}

// OutboxMarkPublished marks messages as published.
func (q *Queries) OutboxMarkPublished(ctx context.Context, seqs []int64) error {
	_, err := q.db.Exec(ctx, `DELETE FROM outbox_pending WHERE seq = ANY($1)`, seqs)
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
	return collectOutbox(q.db.Query(ctx, `SELECT `+outboxColumns+outboxFrom+`
		WHERE o.correlation_id = $1 ORDER BY o.seq`, correlationID))
}

// OutboxByConnection returns the newest events about a connection, oldest
// first.
func (q *Queries) OutboxByConnection(ctx context.Context, connectionID string, limit int) ([]OutboxMessage, error) {
	if limit <= 0 {
		limit = 100
	}
	return collectOutbox(q.db.Query(ctx, `SELECT * FROM (SELECT `+outboxColumns+outboxFrom+`
		WHERE o.connection_id = $1 ORDER BY o.seq DESC LIMIT $2) t ORDER BY seq`, connectionID, limit))
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

func collectOutbox(rows pgx.Rows, err error) ([]OutboxMessage, error) {
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []OutboxMessage
	for rows.Next() {
		m, err := scanOutbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, translate(rows.Err())
}

// Msg rebuilds the NATS message of an outbox row.
func (m OutboxMessage) Msg() *nats.Msg {
	msg := nats.NewMsg(m.Subject)
	for k, v := range m.Headers {
		msg.Header[k] = append([]string(nil), v...)
	}
	msg.Data = m.Data
	return msg
}

// Event decodes the CloudEvent of an outbox row.
func (m OutboxMessage) Event() (event.Event, error) {
	e, _, err := events.Decode(nats.Header(m.Headers), m.Data)
	return e, err
}
