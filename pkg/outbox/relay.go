package outbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/pkg/registry"
)

// RelayConfig configures a Relay. Zero values take the defaults.
type RelayConfig struct {
	// BatchSize is the number of events published per round (default 500).
	BatchSize int
	// PollInterval is how often the outbox is checked when nothing signals
	// new events (default 100 ms). Commits in the same process signal the
	// relay at once.
	PollInterval time.Duration
	// Linger is how long the relay waits after a signal for more commits,
	// to publish them in one round (default 2 ms; negative: no wait).
	Linger time.Duration
	// Retention keeps published rows, which answer "what happened to my
	// request" lookups (default 7 days).
	Retention time.Duration
	// GapWait is how long the relay keeps reading from a sequence number
	// taken by a transaction that has not committed yet, so that the
	// transaction's events go out before later events of the same
	// connection (default 1 s). Sequence numbers of rolled-back
	// transactions are skipped after it.
	GapWait time.Duration
	// AckTimeout bounds the wait for JetStream's acknowledgements of a
	// round of publishes (default 10 s). Publishes that a stream leader
	// took with it when it went away are never acknowledged: the relay
	// publishes them again after this long.
	AckTimeout time.Duration
	// LockID is the PostgreSQL advisory lock that elects one publishing
	// relay among all processes (default: derived from the registry's
	// schema, so that registries in separate schemas of one database each
	// have their relay).
	LockID int64
	// Logger (default none) and Registerer for metrics (default none).
	Logger     *zap.Logger
	Registerer prometheus.Registerer
	// beforeMark, when set, runs between the publish acks and marking the
	// rows published; tests use it to crash the relay there.
	beforeMark func(seqs []int64) error
}

// lockID returns the configured lock id, or the registry's.
func (r *Relay) lockID(ctx context.Context, q *registry.Queries) (int64, error) {
	if r.cfg.LockID != 0 {
		return r.cfg.LockID, nil
	}
	return q.OutboxLockKey(ctx)
}

// Relay publishes the outbox to JetStream in order, with Nats-Msg-Id =
// event id. One relay is active at a time across all processes (a
// PostgreSQL advisory lock); the others wait to take over. A relay that dies
// after publishing and before marking re-publishes on restart, and JetStream
// drops the copies inside the stream's duplicate window.
type Relay struct {
	store *registry.Store
	js    jetstream.JetStream
	cfg   RelayConfig
	log   *zap.Logger
	kick  chan struct{}

	published prometheus.Counter
	pending   prometheus.Gauge
	lag       prometheus.Gauge
}

// NewRelay returns a relay from store's outbox to js.
func NewRelay(store *registry.Store, js jetstream.JetStream, cfg RelayConfig) *Relay {
	cfg.BatchSize = cmp.Or(cfg.BatchSize, 500)
	cfg.PollInterval = cmp.Or(cfg.PollInterval, 100*time.Millisecond)
	cfg.Retention = cmp.Or(cfg.Retention, 7*24*time.Hour)
	cfg.Linger = cmp.Or(cfg.Linger, 2*time.Millisecond)
	cfg.AckTimeout = cmp.Or(cfg.AckTimeout, 10*time.Second)
	cfg.GapWait = cmp.Or(cfg.GapWait, time.Second)
	r := &Relay{
		store: store, js: js, cfg: cfg,
		log:  cmp.Or(cfg.Logger, zap.NewNop()).Named("outbox"),
		kick: make(chan struct{}, 1),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aam_outbox_published_total", Help: "Events published from the outbox to JetStream."}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "aam_outbox_pending_messages", Help: "Events committed in the outbox and not yet published."}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "aam_outbox_lag_seconds", Help: "Age of the oldest unpublished outbox event."}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(r.published, r.pending, r.lag)
	}
	store.OnOutboxCommit(r.Kick)
	return r
}

// Kick wakes the relay; it never blocks.
func (r *Relay) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run relays until ctx is cancelled.
func (r *Relay) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		err := r.lead(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			r.log.Warn("relay interrupted", zap.Error(err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// lead takes the advisory lock and publishes while it holds it.
func (r *Relay) lead(ctx context.Context) error {
	conn, err := r.store.Pool().Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	q := registry.New(conn)
	lockID, err := r.lockID(ctx, q)
	if err != nil {
		return fmt.Errorf("leader lock: %w", err)
	}
	locked, err := q.OutboxLock(ctx, lockID)
	if err != nil {
		return fmt.Errorf("leader lock: %w", err)
	}
	if !locked {
		return nil // another relay leads; try again later
	}
	defer func() { _ = q.OutboxUnlock(context.WithoutCancel(ctx), lockID) }()
	r.log.Debug("relay leading")
	lastPurge, lastGauge, lastFull := time.Time{}, time.Time{}, time.Time{}
	var from int64
	var held gapHold
	// Sequence numbers from floor on that a round does not find were taken
	// by transactions not committed yet (or rolled back).
	floor := r.startFloor(ctx, q)
	for ctx.Err() == nil {
		// Events are read from just past the last published one, or from
		// the first sequence number found missing, for up to GapWait: a
		// transaction that took it has not committed yet. Writers about one
		// connection hold its row lock, so an event of that connection
		// committed later has a higher sequence number and is read with
		// (and after) the late one: per-connection order holds. Once a
		// second events are read from the start, for transactions that
		// committed later still.
		if time.Since(lastFull) > time.Second {
			from, lastFull = 0, time.Now()
		}
		n, next, read, err := r.publishBatch(ctx, q, from)
		if err == nil {
			next = held.track(floor, read, next, r.cfg.GapWait)
		}
		if next > from {
			from = next
		}
		if from > 0 {
			floor = from
		}
		if err != nil {
			return err
		}
		if time.Since(lastGauge) > 2*time.Second {
			lastGauge = time.Now()
			if cnt, age, err := q.OutboxPendingCount(ctx); err == nil {
				r.pending.Set(float64(cnt))
				r.lag.Set(age.Seconds())
			}
		}
		if time.Since(lastPurge) > time.Hour {
			lastPurge = time.Now()
			if purged, err := q.OutboxPurge(ctx, time.Now().Add(-r.cfg.Retention)); err == nil && purged > 0 {
				r.log.Info("outbox purged", zap.Int64("rows", purged))
			}
		}
		if n == r.cfg.BatchSize {
			continue
		}
		select {
		case <-ctx.Done():
		case <-r.kick:
			if r.cfg.Linger > 0 {
				time.Sleep(r.cfg.Linger)
			}
		case <-time.After(r.cfg.PollInterval):
		}
	}
	return nil
}

// publishBatch publishes pending events from seq from on and returns how
// many it published, the seq to read from next, and the sequence numbers
// it read.
//
// Events are published asynchronously, in waves: the first pending event
// of every connection, then, once JetStream has acknowledged all of them,
// each connection's second, and so on. An event is never in flight
// together with an earlier event of its connection, so that when one
// publish is lost (a stream leader that goes away, a reconnect), no later
// event of that connection can be stored before it: the stream keeps each
// connection's events in commit order. Events of different connections
// still go out together.
func (r *Relay) publishBatch(ctx context.Context, q *registry.Queries, from int64) (int, int64, []int64, error) {
	rows, err := q.OutboxPendingFrom(ctx, from, r.cfg.BatchSize)
	if err != nil {
		return 0, from, nil, fmt.Errorf("read outbox: %w", err)
	}
	if len(rows) == 0 {
		return 0, from, nil, nil
	}
	read := make([]int64, len(rows))
	for i, row := range rows {
		read[i] = row.Seq
	}
	acked := make([]bool, len(rows))
	var pubErr error
	timeout := time.After(r.cfg.AckTimeout)
	for _, wave := range publishWaves(rows) {
		futures := make([]jetstream.PubAckFuture, 0, len(wave))
		for _, i := range wave {
			f, err := r.js.PublishMsgAsync(Msg(rows[i].OutboxRow), jetstream.WithMsgID(rows[i].EventID))
			if err != nil {
				pubErr = err
				break
			}
			futures = append(futures, f)
		}
		// Wait for the whole wave, so that every event that went through
		// is marked even when another did not.
	wait:
		for k, f := range futures {
			select {
			case <-f.Ok():
				acked[wave[k]] = true
			case err := <-f.Err():
				pubErr = cmp.Or(pubErr, err)
			case <-timeout:
				pubErr = cmp.Or(pubErr, errors.New("publish acknowledgements timed out"))
				break wait
			case <-ctx.Done():
				return 0, from, read, ctx.Err()
			}
		}
		if pubErr != nil {
			break
		}
	}
	seqs := make([]int64, 0, len(rows))
	next := rows[len(rows)-1].Seq + 1
	for i, row := range rows {
		if acked[i] {
			seqs = append(seqs, row.Seq)
		} else {
			next = min(next, row.Seq)
		}
	}
	if len(seqs) > 0 {
		if r.cfg.beforeMark != nil {
			if err := r.cfg.beforeMark(seqs); err != nil {
				return 0, from, read, err
			}
		}
		if err := q.OutboxMarkPublished(ctx, seqs); err != nil {
			return 0, from, read, fmt.Errorf("mark published: %w", err)
		}
		r.published.Add(float64(len(seqs)))
	}
	if pubErr != nil {
		return len(seqs), next, read, fmt.Errorf("publish: %w", pubErr)
	}
	return len(seqs), next, read, nil
}

// gapHold is the sequence number the relay keeps reading from while the
// transaction that took it may still commit.
type gapHold struct {
	seq   int64
	since time.Time
	// skipped is the highest sequence number given up on.
	skipped int64
}

// track updates the hold after a round that read the sequence numbers
// read and returns where the next round reads from, given next, past
// everything the round published. A sequence number from floor on that is
// missing among those read (below the last one) was taken by a
// transaction that has not committed yet, or by one that rolled back: the
// relay keeps reading from the first such number for up to wait.
func (h *gapHold) track(floor int64, read []int64, next int64, wait time.Duration) int64 {
	if len(read) == 0 {
		return next
	}
	expect := max(floor, h.skipped+1)
	if floor == 0 {
		expect = max(read[0], h.skipped+1)
	}
	for _, seq := range read {
		for ; expect < seq; expect++ {
			if expect != h.seq {
				h.seq, h.since = expect, time.Now()
				return min(next, expect)
			}
			if time.Since(h.since) < wait {
				return min(next, expect)
			}
			// Rolled back, or a very long transaction: the read from the
			// start, once a second, still finds it if it commits.
			h.skipped, h.seq = expect, 0
		}
		expect = max(expect, seq+1)
	}
	h.seq = 0
	return next
}

// startFloor waits until the transactions running when a relay starts
// leading have ended (at most GapWait) and returns the first sequence
// number they cannot hold: sequence numbers from there on that a read does
// not find belong to transactions still running. It returns 0 when the
// server cannot tell (then the first read's lowest event is the floor).
func (r *Relay) startFloor(ctx context.Context, q *registry.Queries) int64 {
	bound, err := q.OutboxBoundGet(ctx)
	if err != nil {
		r.log.Debug("outbox bound not readable", zap.Error(err))
		return 0
	}
	deadline := time.Now().Add(r.cfg.GapWait)
	for {
		settled, err := q.OutboxBoundSettled(ctx, bound)
		if err != nil || settled || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(5 * time.Millisecond):
		}
	}
	return bound.Next
}

// publishWaves groups the indexes of rows (in queue order) into waves: a
// row is in wave k when k earlier rows of the batch have its ordering key
// (its connection, else the request it answers). Rows without a key are
// all in the first wave.
func publishWaves(rows []registry.OutboxMessage) [][]int {
	var waves [][]int
	seen := map[string]int{}
	for i, row := range rows {
		key := row.ConnectionID
		if key == "" && row.CorrelationID != "" {
			key = "request:" + row.CorrelationID
		}
		k := 0
		if key != "" {
			k = seen[key]
			seen[key] = k + 1
		}
		if k == len(waves) {
			waves = append(waves, nil)
		}
		waves[k] = append(waves[k], i)
	}
	return waves
}
