package bus

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	"go.uber.org/zap"
)

// process handles one delivery: decode, check the recorded outcome, call
// the handler, and settle the message by what it returned (the table in the
// package documentation).
func (s *server[T]) process(msg jetstream.Msg) {
	start := time.Now()
	info := MsgInfo{Subject: msg.Subject(), Consumer: s.r.Consumer}
	if meta, err := msg.Metadata(); err == nil {
		info.Stream, info.Sequence, info.NumDelivered, info.Arrived = meta.Stream, meta.Sequence.Stream, meta.NumDelivered, meta.Timestamp
		info.Last = meta.NumDelivered >= uint64(s.r.MaxDeliver)
	}
	log := s.log.With(zap.String("subject", info.Subject), zap.Uint64("stream_seq", info.Sequence),
		zap.Uint64("num_delivered", info.NumDelivered))

	ev, rej := s.decode(msg.Headers(), msg.Data(), info)
	if rej != nil {
		s.end(msg, info, log, start, ending[T]{rej: rej})
		return
	}
	log = log.With(zap.String("ce_id", ev.ID), zap.String("ce_type", ev.Type), zap.String("ce_source", ev.Source))
	if ev.Subject != "" {
		log = log.With(zap.String("connection_id", ev.Subject))
	}

	outcome := OutcomeNone
	if s.r.OutcomeCheck == CheckAlways || info.NumDelivered > 1 {
		var err error
		if outcome, err = s.rt.Ledger.Outcome(s.workCtx, ev.Source, ev.ID); err != nil {
			s.retry(msg, info, log, start, fmt.Errorf("read request outcome: %w", err), 0)
			return
		}
	}
	switch outcome {
	case OutcomeDone:
		s.ack(msg, log, start, OutcomeDuplicate)
		return
	case OutcomeFailed, OutcomeRejected:
		// Recorded earlier; the dead letter or the term may not have been.
		s.finishDead(msg, info, log, start, "request already ended: "+string(outcome), "")
		return
	}

	spanCtx, span, tp := startSpan(s.workCtx, ev)
	ev.TraceParent = tp
	err := s.call(spanCtx, msg, ev)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, truncate(err.Error(), 256))
	}
	span.End()
	var retryAfter *RetryAfterError
	switch {
	case err == nil:
		s.ack(msg, log, start, OutcomeAck)
	case s.isStopping() && errors.Is(err, context.Canceled):
		s.handBack(msg, log, start)
	case IsPermanent(err):
		s.end(msg, info, log, start, ending[T]{ev: ev, cause: err})
	case info.Last:
		s.end(msg, info, log, start, ending[T]{ev: ev, cause: fmt.Errorf("gave up after %d deliveries: %w", info.NumDelivered, err)})
	case errors.As(err, &retryAfter):
		s.retry(msg, info, log, start, err, retryAfter.Delay)
	default:
		s.retry(msg, info, log, start, err, 0)
	}
}

// call runs the handler with a timeout, InProgress heartbeats and panic
// recovery.
func (s *server[T]) call(ctx context.Context, msg jetstream.Msg, ev Event[T]) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.r.Timeout)
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(s.r.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = msg.InProgress()
			case <-done:
				return
			}
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v\n%s", p, debug.Stack())
		}
	}()
	return s.r.Handle(ctx, ev)
}
