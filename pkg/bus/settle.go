package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// ack acknowledges a message whose request is done.
func (s *server[T]) ack(msg jetstream.Msg, log *zap.Logger, start time.Time, outcome MessageOutcome) {
	var err error
	if s.r.DoubleAck {
		ctx, cancel := context.WithTimeout(s.workCtx, 5*time.Second)
		err = msg.DoubleAck(ctx)
		cancel()
	} else {
		err = msg.Ack()
	}
	if err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		// The effect is committed; a redelivery finds it in the inbox.
		log.Warn("ack not confirmed", zap.Error(err))
	}
	s.rt.Metrics.observe(s.r.Consumer, outcome, time.Since(start))
	log.Debug("request handled", zap.String("outcome", outcome.label()), zap.Duration("duration", time.Since(start)))
}

// retry asks for redelivery after delay, or after the route's backoff when
// delay is zero.
func (s *server[T]) retry(msg jetstream.Msg, info MsgInfo, log *zap.Logger, start time.Time, cause error, delay time.Duration) {
	if delay <= 0 {
		delay = s.r.Backoff(info.NumDelivered)
	}
	if err := msg.NakWithDelay(delay); err != nil {
		log.Warn("nak failed", zap.Error(err))
	}
	s.rt.Metrics.observe(s.r.Consumer, OutcomeNak, time.Since(start))
	lvl := log.Warn
	if errors.Is(cause, context.Canceled) {
		lvl = log.Info
	}
	lvl("request will be retried", zap.Error(cause), zap.Duration("delay", delay))
}

// handBack returns a request cancelled by shutdown at once, so that another
// instance takes it without waiting for a backoff.
func (s *server[T]) handBack(msg jetstream.Msg, log *zap.Logger, start time.Time) {
	_ = msg.Nak()
	s.rt.Metrics.observe(s.r.Consumer, OutcomeNak, time.Since(start))
	log.Info("request returned for redelivery at shutdown")
}

// ending says why a request ends without success: either the runtime
// rejected it before any handler saw it (rej), or handling the decoded
// request ev failed for good (cause).
type ending[T any] struct {
	rej   *Rejection
	ev    Event[T]
	cause error
}

func (e ending[T]) kind() string {
	if e.rej != nil {
		return "rejection"
	}
	return "failure"
}

func (e ending[T]) reason() string {
	if e.rej != nil {
		return e.rej.Reason
	}
	return e.cause.Error()
}

func (e ending[T]) field() string {
	if e.rej != nil {
		return e.rej.Field
	}
	return ""
}

// record writes how a request ended; it is the one place a failure is
// recorded. A rejection goes to the Ledger. A handler's failure goes to
// Route.Fail, or when the route has none to the Ledger as a rejection that
// names the cause.
func (s *server[T]) record(ctx context.Context, e ending[T]) error {
	switch {
	case e.rej != nil:
		return s.rt.Ledger.Reject(ctx, *e.rej)
	case s.r.Fail != nil:
		return s.r.Fail(ctx, e.ev, e.cause)
	default:
		ev := e.ev
		return s.rt.Ledger.Reject(ctx, Rejection{RequestID: ev.ID, RequestSource: ev.Source, RequestType: ev.Type,
			TraceParent: ev.TraceParent, Subject: ev.Msg.Subject, Stream: ev.Msg.Stream, Sequence: ev.Msg.Sequence,
			Reason: e.cause.Error()})
	}
}

// end records how a delivered request ended, copies it to the DLQ and
// terminates it. When the record cannot be written, the message is
// redelivered and ended again then.
func (s *server[T]) end(msg jetstream.Msg, info MsgInfo, log *zap.Logger, start time.Time, e ending[T]) {
	ctx, cancel := context.WithTimeout(s.workCtx, 30*time.Second)
	defer cancel()
	if err := s.record(ctx, e); err != nil {
		s.retry(msg, info, log, start, fmt.Errorf("record %s: %w", e.kind(), err), 0)
		return
	}
	if e.rej != nil {
		log.Warn("request rejected", zap.String("field", e.rej.Field), zap.String("reason", e.rej.Reason),
			zap.String("ce_id", e.rej.RequestID), zap.String("ce_type", e.rej.RequestType))
	} else {
		log.Error("request failed", zap.Error(e.cause))
	}
	s.finishDead(msg, info, log, start, e.reason(), e.field())
}

// finishDead copies an ended request to the DLQ and terminates its message.
func (s *server[T]) finishDead(msg jetstream.Msg, info MsgInfo, log *zap.Logger, start time.Time, reason, field string) {
	ctx, cancel := context.WithTimeout(s.workCtx, 30*time.Second)
	defer cancel()
	if err := s.deadLetter(ctx, msg.Subject(), msg.Headers(), msg.Data(), info, reason, field); err != nil {
		s.retry(msg, info, log, start, fmt.Errorf("dead-letter: %w", err), 0)
		return
	}
	if err := msg.TermWithReason(truncate(reason, 256)); err != nil {
		log.Warn("term failed", zap.Error(err))
	}
	s.rt.Metrics.observe(s.r.Consumer, OutcomeDLQ, time.Since(start))
	s.rt.Metrics.observe(s.r.Consumer, OutcomeTerm, 0)
}
