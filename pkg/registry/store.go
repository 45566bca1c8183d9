package registry

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DBTX is what Queries runs on: a pool, a connection or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Queries runs the registry's statements on a DBTX. It holds nothing but
// its DBTX: a copy, or Queries made again on the same DBTX, behaves the
// same.
type Queries struct {
	db DBTX
}

// New returns Queries on db.
func New(db DBTX) *Queries { return &Queries{db: db} }

// WithTx returns Queries on tx. The caller commits tx; outbox rows queued
// in it wake no relay (the relay finds them at its next poll), unlike
// those queued through Store.InTx.
func (q *Queries) WithTx(tx pgx.Tx) *Queries { return &Queries{db: tx} }

// outboxNoter is a DBTX that is told when outbox rows are queued on it.
type outboxNoter interface{ outboxQueued() }

// outboxQueued tells q's DBTX that n outbox rows were queued on it.
func (q *Queries) outboxQueued(n int64) {
	if n == 0 {
		return
	}
	if t, ok := q.db.(outboxNoter); ok {
		t.outboxQueued()
	}
}

// Store is the registry on a connection pool.
type Store struct {
	*Queries
	pool     *pgxpool.Pool
	onOutbox atomic.Pointer[func()]
}

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store {
	s := &Store{pool: pool}
	s.Queries = New(storePool{Pool: pool, store: s})
	return s
}

// storePool is the Store's pool as its Queries see it: outbox rows queued
// on it outside a transaction are committed at once.
type storePool struct {
	*pgxpool.Pool
	store *Store
}

func (p storePool) outboxQueued() { p.store.outboxCommitted() }

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// OnOutboxCommit registers fn to be called after every committed
// transaction that inserted outbox rows (the in-process relay uses it to
// publish without waiting for its next poll). fn must not block.
func (s *Store) OnOutboxCommit(fn func()) { s.onOutbox.Store(&fn) }

// outboxCommitted calls the OnOutboxCommit function, if any.
func (s *Store) outboxCommitted() {
	if fn := s.onOutbox.Load(); fn != nil {
		(*fn)()
	}
}

// InTx runs fn in a transaction and commits it when fn returns nil. The
// transaction is rolled back when fn returns an error or panics. Errors are
// translated into registry errors.
//
// The transaction costs no round trip of its own: BEGIN is sent with its
// first statement, and COMMIT with the facts queued last (see lazyTx).
func (s *Store) InTx(ctx context.Context, fn func(q *Queries) error) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", translate(err))
	}
	// A connection released inside a transaction (a failed ROLLBACK) is
	// closed by the pool.
	defer conn.Release()
	t := &lazyTx{conn: conn}
	panicked := true
	defer func() {
		if panicked || err != nil {
			t.rollback(context.WithoutCancel(ctx))
		}
	}()
	err = fn(&Queries{db: t})
	panicked = false
	if err != nil {
		return err
	}
	if err = t.commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", translate(err))
	}
	if t.queued.Load() {
		s.outboxCommitted()
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return translate(s.pool.Ping(ctx)) }

// IsRetryable reports whether err is a transient registry failure.
func IsRetryable(err error) bool { return errors.Is(err, ErrRetryable) }

// DB returns the DBTX the queries run on, for statements outside the
// registry's own (tests, maintenance).
func (q *Queries) DB() DBTX { return q.db }
