package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Serve creates (or updates) the route's durable consumer and handles its
// requests until ctx is cancelled; then it stops taking messages, gives
// in-flight handlers rt.SoftStop to finish, naks what is left, and returns.
func Serve[T any](ctx context.Context, rt Runtime, r Route[T]) error {
	r, err := r.withDefaults()
	if err != nil {
		return err
	}
	if rt, err = rt.withDefaults(); err != nil {
		return err
	}
	stream, err := rt.JS.Stream(ctx, StreamRequests)
	if err != nil {
		return fmt.Errorf("bus: stream %s: %w", StreamRequests, err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, ConsumerConfig(r))
	if err != nil {
		return fmt.Errorf("bus: consumer %s: %w", r.Consumer, err)
	}
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	s := &server[T]{
		rt: rt, r: r, stream: stream, pub: NewPublisher(rt.JS),
		log:     rt.Logger.Named("bus").With(zap.String("consumer", r.Consumer)),
		sem:     make(chan struct{}, r.Concurrency),
		workCtx: workCtx,
	}

	// The server gives up on a message by itself when every delivery timed
	// out (for example a process killed while handling it): end it here.
	advisory := fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", StreamRequests, r.Consumer)
	sub, err := rt.JS.Conn().QueueSubscribe(advisory, "aam-"+r.Consumer, s.onMaxDeliveries)
	if err != nil {
		return fmt.Errorf("bus: subscribe %s: %w", advisory, err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	cc, err := cons.Consume(s.dispatch,
		jetstream.PullMaxMessages(r.Concurrency),
		jetstream.PullHeartbeat(rt.PullHeartbeat),
		jetstream.PullExpiry(max(jetstream.DefaultExpires, 2*rt.PullHeartbeat)),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrConsumerDeleted) && !errors.Is(err, nats.ErrConnectionClosed) {
				s.log.Debug("consume", zap.Error(err))
			}
		}))
	if err != nil {
		return fmt.Errorf("bus: consume %s: %w", r.Consumer, err)
	}
	s.log.Info("consumer started", zap.String("subject", r.Subject), zap.Int("concurrency", r.Concurrency),
		zap.Int("max_deliver", r.MaxDeliver))

	s.sampleState(ctx, cons)
	stateTick := time.NewTicker(rt.StateInterval)
	defer stateTick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-stateTick.C:
			s.sampleState(ctx, cons)
		}
	}
	s.stop(cc, cancelWork)
	return nil
}

// server is one route's consumer in this process.
type server[T any] struct {
	rt      Runtime
	r       Route[T]
	stream  jetstream.Stream
	pub     *Publisher
	log     *zap.Logger
	sem     chan struct{}
	workCtx context.Context

	mu       sync.Mutex
	stopping bool
	wg       sync.WaitGroup // handlers and advisory work in flight
}

// begin counts a piece of work that stop waits for; it reports false once
// stop has begun, and then the work must not start.
func (s *server[T]) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *server[T]) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// dispatch handles a delivered message on its own goroutine, at most
// Route.Concurrency at once; at shutdown it hands the message back.
func (s *server[T]) dispatch(msg jetstream.Msg) {
	s.sem <- struct{}{}
	if !s.begin() {
		<-s.sem
		_ = msg.Nak()
		return
	}
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		s.process(msg)
	}()
}

// sampleState reads the consumer's pending counts into Metrics.
func (s *server[T]) sampleState(ctx context.Context, cons jetstream.Consumer) {
	if s.rt.Metrics == nil {
		return
	}
	ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if info, err := cons.Info(ictx); err == nil {
		s.rt.Metrics.consumerState(s.r.Consumer, info.NumPending, info.NumAckPending, info.NumRedelivered)
	}
}

// stop refuses new work, lets in-flight handlers finish for SoftStop, then
// cancels what is left (those requests are handed back for redelivery) and
// waits for the consumer to close.
func (s *server[T]) stop(cc jetstream.ConsumeContext, cancelWork context.CancelFunc) {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	cc.Drain()
	finished := make(chan struct{})
	go func() { s.wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(s.rt.SoftStop):
		s.log.Info("soft stop elapsed, cancelling in-flight handlers")
		cancelWork()
		<-finished
	}
	select {
	case <-cc.Closed():
	case <-time.After(5 * time.Second):
	}
	s.log.Info("consumer stopped")
}
