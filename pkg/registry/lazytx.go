package registry

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lazyTx is a transaction of the Store (InTx) that spends no round trip
// of its own. BEGIN is not sent until the transaction's first statement,
// and goes in the same pipeline; outbox rows queued with OutboxQueue wait
// for the transaction's next round trip, whatever it is, and go first in
// its pipeline (so every later statement sees them, in order); COMMIT goes
// with the rows queued last. A transaction that records a job and its
// facts thus costs its statements' round trips, not two more for BEGIN and
// COMMIT and one for the facts.
//
// An error in a pipeline leaves the transaction aborted: the statement
// that carried it reports the error and the caller rolls back. A queued
// row's error is reported by the statement it went with.
type lazyTx struct {
	conn  *pgxpool.Conn
	begun bool
	// rows are the outbox rows queued and not sent yet.
	rows []*pgx.QueuedQuery
	// queued notes that outbox rows were written, for the Store to
	// announce after the commit.
	queued atomic.Bool
}

func (t *lazyTx) outboxQueued() { t.queued.Store(true) }

// outboxDefer queues outbox rows for the transaction's next round trip.
func (t *lazyTx) outboxDefer(b *pgx.Batch) {
	t.rows = append(t.rows, b.QueuedQueries...)
	t.queued.Store(true)
}

// send sends what is waiting (BEGIN, queued rows) and then qs in one
// pipeline, and reads the results of what was waiting. The caller reads
// the results of qs from the returned batch, and closes it.
func (t *lazyTx) send(ctx context.Context, qs ...*pgx.QueuedQuery) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	if !t.begun {
		b.Queue("BEGIN")
		t.begun = true
	}
	b.QueuedQueries = append(b.QueuedQueries, t.rows...)
	b.QueuedQueries = append(b.QueuedQueries, qs...)
	waiting := len(b.QueuedQueries) - len(qs)
	t.rows = nil
	br := t.conn.SendBatch(ctx, b)
	for range waiting {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

// pending reports whether something waits for the next round trip.
func (t *lazyTx) pending() bool { return !t.begun || len(t.rows) > 0 }

func (t *lazyTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if !t.pending() {
		return t.conn.Exec(ctx, sql, args...)
	}
	br, err := t.send(ctx, &pgx.QueuedQuery{SQL: sql, Arguments: args})
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (t *lazyTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if !t.pending() {
		return t.conn.QueryRow(ctx, sql, args...)
	}
	br, err := t.send(ctx, &pgx.QueuedQuery{SQL: sql, Arguments: args})
	if err != nil {
		return errRow{err}
	}
	return batchRow{row: br.QueryRow(), br: br}
}

// Query sends what is waiting first, in a round trip of its own: the rows
// a query returns are read after the caller is done with them, and the
// pipeline cannot be closed before.
func (t *lazyTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.pending() {
		br, err := t.send(ctx)
		if err != nil {
			return nil, err
		}
		if err := br.Close(); err != nil {
			return nil, err
		}
	}
	return t.conn.Query(ctx, sql, args...)
}

func (t *lazyTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if !t.pending() {
		return t.conn.SendBatch(ctx, b)
	}
	br, err := t.send(ctx, b.QueuedQueries...)
	if err != nil {
		return errBatch{err}
	}
	return br
}

// commit sends the rows still queued and COMMIT. A transaction that never
// sent a statement has nothing to commit.
func (t *lazyTx) commit(ctx context.Context) error {
	if !t.begun && len(t.rows) == 0 {
		return nil
	}
	br, err := t.send(ctx, &pgx.QueuedQuery{SQL: "COMMIT"})
	if err != nil {
		return err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && tag.String() == "ROLLBACK" {
		// COMMIT of a transaction an error aborted.
		err = pgx.ErrTxCommitRollback
	}
	if err == nil {
		t.begun = false
	}
	return err
}

// rollback ends a transaction that was begun and not committed.
func (t *lazyTx) rollback(ctx context.Context) {
	if !t.begun {
		return
	}
	t.begun, t.rows = false, nil
	if _, err := t.conn.Exec(ctx, "ROLLBACK"); err != nil {
		// The pool closes a connection released with a transaction open.
		_ = t.conn.Conn().Close(ctx)
	}
}

// batchRow is the row of a statement sent in a pipeline: scanning it ends
// the pipeline.
type batchRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// errBatch is the results of a pipeline whose waiting part failed: every
// statement reports that error.
type errBatch struct{ err error }

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRow(b) }
func (b errBatch) Close() error                     { return b.err }
func (b errBatch) Tx() pgx.Tx                       { return nil }
