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
// and goes in the same pipeline; statements queued whose results only
// their callbacks read (outbox rows queued with OutboxQueue, SyncRecord's
// whole transaction) wait for the transaction's next round trip, whatever it
// is, and go first in its pipeline (so every later statement sees them, in
// order); COMMIT goes with the statements queued last. A transaction that
// records a job and its facts thus costs its statements' round trips, not
// two more for BEGIN and COMMIT and one for the facts.
//
// An error in a pipeline leaves the transaction aborted: the statement
// that carried it reports the error and the caller rolls back. A queued
// statement's error is reported by the statement it went with.
type lazyTx struct {
	conn  *pgxpool.Conn
	begun bool
	// waiting are the statements queued and not sent yet.
	waiting []*pgx.QueuedQuery
	// queued notes that outbox rows were written, for the Store to
	// announce after the commit.
	queued atomic.Bool
}

func (t *lazyTx) outboxQueued() { t.queued.Store(true) }

// queue keeps statements for the transaction's next round trip; their
// results are read by their callbacks, if any, or else dropped.
func (t *lazyTx) queue(qs ...*pgx.QueuedQuery) { t.waiting = append(t.waiting, qs...) }

// send sends what is waiting (BEGIN, queued statements) and then qs in one
// pipeline, and reads the results of what was waiting. The caller reads
// the results of qs from the returned batch, and closes it.
func (t *lazyTx) send(ctx context.Context, qs ...*pgx.QueuedQuery) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	if !t.begun {
		b.Queue("BEGIN")
		t.begun = true
	}
	b.QueuedQueries = append(b.QueuedQueries, t.waiting...)
	b.QueuedQueries = append(b.QueuedQueries, qs...)
	waiting := len(b.QueuedQueries) - len(qs)
	t.waiting = nil
	br := t.conn.SendBatch(ctx, b)
	for _, q := range b.QueuedQueries[:waiting] {
		// A statement queued with a callback (QueuedQuery.Exec, Query,
		// QueryRow) has its result read by it, as Close would.
		var err error
		if q.Fn != nil {
			err = q.Fn(br)
		} else {
			_, err = br.Exec()
		}
		if err != nil {
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

// pending reports whether something waits for the next round trip.
func (t *lazyTx) pending() bool { return !t.begun || len(t.waiting) > 0 }

func (t *lazyTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if !t.pending() {
		return t.conn.Exec(ctx, sql, args...)
	}
	br, err := t.send(ctx, &pgx.QueuedQuery{SQL: sql, Arguments: batchArgs(args)})
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
	br, err := t.send(ctx, &pgx.QueuedQuery{SQL: sql, Arguments: batchArgs(args)})
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

// commit sends the statements still queued and COMMIT. A transaction that
// never sent a statement has nothing to commit.
func (t *lazyTx) commit(ctx context.Context) error {
	if !t.begun && len(t.waiting) == 0 {
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

// rollback ends a transaction that was begun and not committed. When
// ROLLBACK fails, the pool closes the connection, released with its
// transaction open.
func (t *lazyTx) rollback(ctx context.Context) {
	if !t.begun {
		return
	}
	t.begun, t.waiting = false, nil
	_, _ = t.conn.Exec(ctx, "ROLLBACK")
}

// batchArgs are a statement's arguments for a pipeline, which runs every
// statement in the connection's mode: a leading pgx.QueryExecMode is
// dropped.
func batchArgs(args []any) []any {
	if len(args) > 0 {
		if _, ok := args[0].(pgx.QueryExecMode); ok {
			return args[1:]
		}
	}
	return args
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
