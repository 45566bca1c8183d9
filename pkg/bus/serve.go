package bus

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/events"
)

// Validator validates a request's data against the schema of its type. An
// error of type *DataError names the offending field; other errors reject
// the request with their text.
type Validator func(eventType string, data []byte) error

// DataError reports invalid request data.
type DataError struct {
	// Field is the dotted path of the offending data field.
	Field  string
	Reason string
}

func (e *DataError) Error() string {
	if e.Field == "" {
		return "data: " + e.Reason
	}
	return "data." + e.Field + ": " + e.Reason
}

// Runtime holds what every consumer of a process shares.
type Runtime struct {
	// JS is the JetStream context. Required.
	JS jetstream.JetStream
	// Logger receives one line per settled message (default: no logging).
	Logger *zap.Logger
	// Ledger records outcomes (default: rejections are published directly
	// and nothing is remembered).
	Ledger Ledger
	// Validate checks request data (default: none beyond JSON decoding).
	Validate Validator
	// Metrics records outcomes (default: none).
	Metrics *Metrics
	// Source is the CloudEvent source of facts the runtime emits itself
	// (default "/aam/bus").
	Source string
	// SoftStop is how long in-flight handlers may run on after shutdown
	// begins before their context is cancelled (default 10 s).
	SoftStop time.Duration
	// PullHeartbeat is how often the server confirms a consumer's open pull
	// request. A pull request lost with a consumer leader that went away
	// without telling (or refused while the consumer had no leader) is
	// noticed after two missed heartbeats and sent again (default 5 s;
	// nats.go's own default, 15 s, leaves a consumer idle for 30 s).
	PullHeartbeat time.Duration
	// StateInterval is how often each consumer's pending and ack-pending
	// counts are read from the server for Metrics (default 5 s). The first
	// reading is taken when the consumer starts.
	StateInterval time.Duration
}

// Route binds a request subject to a handler through a durable consumer.
type Route[T any] struct {
	// Consumer is the durable consumer name. Required.
	Consumer string
	// Subject is the request subject (the consumer's filter). Required.
	Subject string
	// Type is the CloudEvent type accepted on Subject. Required.
	Type string
	// Handle handles each request. Required.
	Handle Handler[T]
	// Fail records a request's failure (default: a request.rejected fact).
	Fail FailFunc[T]
	// Concurrency bounds the requests handled at once by this process
	// (default 16).
	Concurrency int
	// MaxDeliver is the number of deliveries before giving up (default
	// DefaultMaxDeliver, 8).
	MaxDeliver int
	// AckWait is how long the server waits for an acknowledgement before
	// redelivering; long handlers are kept alive with InProgress at a third
	// of it (default DefaultAckWait, 30 s).
	AckWait time.Duration
	// Timeout bounds one handler call (default 2 min).
	Timeout time.Duration
	// Backoff gives the redelivery delay of retryable errors (default
	// exponential from 500 ms to 30 s).
	Backoff BackoffFunc
	// MaxAckPending caps unacknowledged messages across all instances
	// (default 1000 or 4×Concurrency, whichever is larger).
	MaxAckPending int
	// OutcomeCheck says when the runtime reads the request's recorded
	// outcome before calling Handle (default CheckAlways).
	OutcomeCheck OutcomeCheck
	// DoubleAck waits for the server to confirm each acknowledgement. By
	// default acknowledgements are sent without waiting: one that is lost
	// only makes the server redeliver the request, and the redelivery finds
	// the request's inbox entry and does nothing again.
	DoubleAck bool
}

// OutcomeCheck chooses when the runtime consults the Ledger before calling
// a handler.
type OutcomeCheck int

const (
	// CheckAlways reads the outcome on every delivery: a request id that
	// already ended never reaches the handler.
	CheckAlways OutcomeCheck = iota
	// CheckRedeliveries reads it on redeliveries only, saving a registry
	// read per request. The handler must itself recognise a request id it
	// already handled that arrives again as a new message (a copy
	// published after JetStream's duplicate window), for example by the
	// inbox insert of its transaction.
	CheckRedeliveries
)

func (r Route[T]) withDefaults() (Route[T], error) {
	if r.Consumer == "" || r.Subject == "" || r.Type == "" || r.Handle == nil {
		return r, errors.New("bus: route needs Consumer, Subject, Type and Handle")
	}
	r.Concurrency = cmp.Or(r.Concurrency, 16)
	r.MaxDeliver = cmp.Or(r.MaxDeliver, DefaultMaxDeliver)
	r.AckWait = cmp.Or(r.AckWait, DefaultAckWait)
	r.Timeout = cmp.Or(r.Timeout, 2*time.Minute)
	if r.Backoff == nil {
		r.Backoff = ExponentialBackoff(500*time.Millisecond, 30*time.Second)
	}
	r.MaxAckPending = cmp.Or(r.MaxAckPending, max(1000, 4*r.Concurrency))
	return r, nil
}

// ConsumerConfig returns the durable consumer configuration of a route.
func ConsumerConfig[T any](r Route[T]) jetstream.ConsumerConfig {
	r, _ = r.withDefaults()
	return jetstream.ConsumerConfig{
		Durable:       r.Consumer,
		Description:   "AAM worker for " + r.Type,
		FilterSubject: r.Subject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       r.AckWait,
		MaxDeliver:    r.MaxDeliver,
		MaxAckPending: r.MaxAckPending,
	}
}

// Serve creates (or updates) the route's durable consumer and handles its
// requests until ctx is cancelled; then it stops taking messages, gives
// in-flight handlers rt.SoftStop to finish, naks what is left, and returns.
func Serve[T any](ctx context.Context, rt Runtime, r Route[T]) error {
	r, err := r.withDefaults()
	if err != nil {
		return err
	}
	if rt.JS == nil {
		return errors.New("bus: runtime needs JS")
	}
	rt.Logger = cmp.Or(rt.Logger, zap.NewNop())
	rt.Source = cmp.Or(rt.Source, "/aam/bus")
	rt.SoftStop = cmp.Or(rt.SoftStop, 10*time.Second)
	if rt.PullHeartbeat <= 0 {
		rt.PullHeartbeat = 5 * time.Second
	}
	if rt.StateInterval <= 0 {
		rt.StateInterval = 5 * time.Second
	}
	if rt.Ledger == nil {
		rt.Ledger = NewDirectLedger(rt.JS, rt.Source)
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

	sampleState := func() {
		if rt.Metrics == nil {
			return
		}
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if info, err := cons.Info(ictx); err == nil {
			rt.Metrics.consumerState(r.Consumer, info.NumPending, info.NumAckPending, info.NumRedelivered)
		}
	}
	sampleState()
	stateTick := time.NewTicker(rt.StateInterval)
	defer stateTick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-stateTick.C:
			sampleState()
		}
	}

	// Shutdown: refuse new work, let in-flight handlers finish.
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	cc.Drain()
	finished := make(chan struct{})
	go func() { s.wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(rt.SoftStop):
		s.log.Info("soft stop elapsed, cancelling in-flight handlers")
		cancelWork()
		<-finished
	}
	select {
	case <-cc.Closed():
	case <-time.After(5 * time.Second):
	}
	s.log.Info("consumer stopped")
	return nil
}

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
	wg       sync.WaitGroup
	inflight atomic.Int64
}

func (s *server[T]) dispatch(msg jetstream.Msg) {
	s.sem <- struct{}{}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		<-s.sem
		_ = msg.Nak()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		s.process(msg)
	}()
}

func (s *server[T]) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

func (s *server[T]) process(msg jetstream.Msg) {
	start := time.Now()
	info := MsgInfo{Subject: msg.Subject(), Consumer: s.r.Consumer}
	if meta, err := msg.Metadata(); err == nil {
		info.Stream, info.Sequence, info.NumDelivered = meta.Stream, meta.Sequence.Stream, meta.NumDelivered
		info.Last = meta.NumDelivered >= uint64(s.r.MaxDeliver)
	}
	log := s.log.With(zap.String("subject", info.Subject), zap.Uint64("stream_seq", info.Sequence),
		zap.Uint64("num_delivered", info.NumDelivered))

	ev, rej, err := s.decode(msg.Headers(), msg.Data(), info)
	if err != nil { // the ledger could not be read: retry
		s.retry(msg, info, log, start, err, 0)
		return
	}
	if rej != nil {
		s.reject(msg, info, log, start, *rej)
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
		s.finishDead(msg, info, log, start, "request already ended: "+outcome, "")
		return
	}

	spanCtx, span, tp := startSpan(s.workCtx, ev)
	ev.TraceParent = tp
	err = s.call(spanCtx, msg, ev)
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
		_ = msg.Nak()
		s.rt.Metrics.observe(s.r.Consumer, OutcomeNak, time.Since(start))
		log.Info("request returned for redelivery at shutdown")
	case IsPermanent(err):
		s.fail(msg, info, log, start, ev, err)
	case info.Last:
		s.fail(msg, info, log, start, ev, fmt.Errorf("gave up after %d deliveries: %w", info.NumDelivered, err))
	case errors.As(err, &retryAfter):
		s.retry(msg, info, log, start, err, retryAfter.Delay)
	default:
		s.retry(msg, info, log, start, err, 0)
	}
}

// decode turns a message into a typed event, or into a rejection.
func (s *server[T]) decode(h nats.Header, data []byte, info MsgInfo) (Event[T], *Rejection, error) {
	rej := func(ce *eventAttrs, field, reason string) (Event[T], *Rejection, error) {
		r := &Rejection{Subject: info.Subject, Stream: info.Stream, Sequence: info.Sequence, Field: field, Reason: reason}
		if ce != nil {
			r.RequestID, r.RequestSource, r.RequestType, r.TraceParent = ce.id, ce.source, ce.typ, ce.traceparent
		}
		return Event[T]{}, r, nil
	}
	ce, mode, err := events.Decode(h, data)
	if err != nil {
		attrs := bestEffortAttrs(h, data)
		var de *events.DecodeError
		if errors.As(err, &de) {
			return rej(&attrs, de.Field, de.Error())
		}
		return rej(&attrs, "", err.Error())
	}
	attrs := &eventAttrs{id: ce.ID(), source: ce.Source(), typ: ce.Type(), traceparent: events.TraceParent(ce)}
	if ce.Type() != s.r.Type {
		if _, known := events.Lookup(ce.Type()); known {
			return rej(attrs, "type", fmt.Sprintf("type %q is not accepted on subject %s (expected %q)", ce.Type(), info.Subject, s.r.Type))
		}
		return rej(attrs, "type", fmt.Sprintf("unknown type %q (expected %q)", ce.Type(), s.r.Type))
	}
	// Outcome lookups need the key; reject requests we could never record.
	if len(ce.ID()) > 256 || len(ce.Source()) > 1024 {
		return rej(attrs, "id", "id or source is too long")
	}
	payload := ce.Data()
	if ct := ce.DataContentType(); ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
		return rej(attrs, "datacontenttype", fmt.Sprintf("datacontenttype %q is not JSON", ct))
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		return rej(attrs, "data", "data is missing")
	}
	if s.rt.Validate != nil {
		if err := s.rt.Validate(ce.Type(), payload); err != nil {
			var de *DataError
			if errors.As(err, &de) {
				field := "data"
				if de.Field != "" {
					field = "data." + de.Field
				}
				return rej(attrs, field, de.Error())
			}
			return rej(attrs, "data", err.Error())
		}
	}
	var v T
	if err := json.Unmarshal(payload, &v); err != nil {
		return rej(attrs, "data", "data does not decode: "+err.Error())
	}
	return Event[T]{
		ID: ce.ID(), Source: ce.Source(), Type: ce.Type(), Subject: ce.Subject(), Time: ce.Time(),
		TraceParent: attrs.traceparent, Data: v, CloudEvent: ce,
		Msg: MsgInfo{Subject: info.Subject, Stream: info.Stream, Consumer: info.Consumer, Sequence: info.Sequence,
			NumDelivered: info.NumDelivered, Last: info.Last, Mode: mode},
	}, nil, nil
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

func (s *server[T]) ack(msg jetstream.Msg, log *zap.Logger, start time.Time, outcome string) {
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
	log.Debug("request handled", zap.String("outcome", outcome), zap.Duration("duration", time.Since(start)))
}

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

// fail records a request's failure, dead-letters it and terminates it.
func (s *server[T]) fail(msg jetstream.Msg, info MsgInfo, log *zap.Logger, start time.Time, ev Event[T], cause error) {
	ctx, cancel := context.WithTimeout(s.workCtx, 30*time.Second)
	defer cancel()
	var err error
	if s.r.Fail != nil {
		err = s.r.Fail(ctx, ev, cause)
	} else {
		err = s.rt.Ledger.Reject(ctx, Rejection{RequestID: ev.ID, RequestSource: ev.Source, RequestType: ev.Type,
			TraceParent: ev.TraceParent, Subject: info.Subject, Stream: info.Stream, Sequence: info.Sequence,
			Reason: cause.Error()})
	}
	if err != nil {
		s.retry(msg, info, log, start, fmt.Errorf("record failure: %w", err), 0)
		return
	}
	log.Error("request failed", zap.Error(cause))
	s.finishDead(msg, info, log, start, cause.Error(), "")
}

// reject records a rejected request, dead-letters it and terminates it.
func (s *server[T]) reject(msg jetstream.Msg, info MsgInfo, log *zap.Logger, start time.Time, r Rejection) {
	ctx, cancel := context.WithTimeout(s.workCtx, 30*time.Second)
	defer cancel()
	if err := s.rt.Ledger.Reject(ctx, r); err != nil {
		s.retry(msg, info, log, start, fmt.Errorf("record rejection: %w", err), 0)
		return
	}
	log.Warn("request rejected", zap.String("field", r.Field), zap.String("reason", r.Reason),
		zap.String("ce_id", r.RequestID), zap.String("ce_type", r.RequestType))
	s.finishDead(msg, info, log, start, r.Reason, r.Field)
}

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

// onMaxDeliveries ends a request the server stopped delivering.
func (s *server[T]) onMaxDeliveries(m *nats.Msg) {
	var adv struct {
		Stream     string `json:"stream"`
		Consumer   string `json:"consumer"`
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries uint64 `json:"deliveries"`
	}
	if err := json.Unmarshal(m.Data, &adv); err != nil || adv.StreamSeq == 0 {
		return
	}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.endUndelivered(adv.StreamSeq, adv.Deliveries)
	}()
}

func (s *server[T]) endUndelivered(seq, deliveries uint64) {
	ctx, cancel := context.WithTimeout(s.workCtx, 30*time.Second)
	defer cancel()
	log := s.log.With(zap.Uint64("stream_seq", seq), zap.Uint64("num_delivered", deliveries))
	raw, err := s.stream.GetMsg(ctx, seq)
	if err != nil {
		log.Error("max deliveries reached; message not readable", zap.Error(err))
		return
	}
	info := MsgInfo{Subject: raw.Subject, Stream: StreamRequests, Consumer: s.r.Consumer, Sequence: seq, NumDelivered: deliveries, Last: true}
	ev, rej, err := s.decode(raw.Header, raw.Data, info)
	if err != nil {
		log.Error("max deliveries reached; not recorded", zap.Error(err))
		return
	}
	reason := fmt.Sprintf("no delivery was acknowledged after %d attempts (max deliveries reached)", deliveries)
	if rej != nil {
		if err := s.rt.Ledger.Reject(ctx, *rej); err != nil {
			log.Error("max deliveries reached; rejection not recorded", zap.Error(err))
			return
		}
		reason = rej.Reason
	} else {
		outcome, err := s.rt.Ledger.Outcome(ctx, ev.Source, ev.ID)
		if err != nil {
			log.Error("max deliveries reached; outcome not readable", zap.Error(err))
			return
		}
		if outcome == OutcomeDone {
			return
		}
		if outcome == OutcomeNone {
			cause := errors.New(reason)
			if s.r.Fail != nil {
				err = s.r.Fail(ctx, ev, cause)
			} else {
				err = s.rt.Ledger.Reject(ctx, Rejection{RequestID: ev.ID, RequestSource: ev.Source, RequestType: ev.Type,
					TraceParent: ev.TraceParent, Subject: info.Subject, Stream: info.Stream, Sequence: seq, Reason: reason})
			}
			if err != nil {
				log.Error("max deliveries reached; failure not recorded", zap.Error(err))
				return
			}
		}
	}
	if err := s.deadLetter(ctx, raw.Subject, raw.Header, raw.Data, info, reason, ""); err != nil {
		log.Error("max deliveries reached; dead letter not published", zap.Error(err))
		return
	}
	s.rt.Metrics.observe(s.r.Consumer, OutcomeDLQ, 0)
	log.Error("request failed: max deliveries reached")
}

// DLQ headers added to the copy of a dead request.
const (
	HeaderDLQReason     = "Aam-Dlq-Reason"
	HeaderDLQField      = "Aam-Dlq-Field"
	HeaderDLQSubject    = "Aam-Dlq-Subject"
	HeaderDLQStream     = "Aam-Dlq-Stream"
	HeaderDLQSequence   = "Aam-Dlq-Sequence"
	HeaderDLQConsumer   = "Aam-Dlq-Consumer"
	HeaderDLQDeliveries = "Aam-Dlq-Deliveries"
	HeaderDLQTime       = "Aam-Dlq-Time"
)

func (s *server[T]) deadLetter(ctx context.Context, subject string, h nats.Header, data []byte, info MsgInfo, reason, field string) error {
	dl := nats.NewMsg(events.DLQSubject(subject))
	for k, v := range h {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			continue
		}
		dl.Header[k] = append([]string(nil), v...)
	}
	dl.Header.Set(HeaderDLQReason, truncate(reason, 2048))
	if field != "" {
		dl.Header.Set(HeaderDLQField, field)
	}
	dl.Header.Set(HeaderDLQSubject, subject)
	dl.Header.Set(HeaderDLQStream, info.Stream)
	dl.Header.Set(HeaderDLQSequence, fmt.Sprint(info.Sequence))
	dl.Header.Set(HeaderDLQConsumer, info.Consumer)
	dl.Header.Set(HeaderDLQDeliveries, fmt.Sprint(info.NumDelivered))
	dl.Header.Set(HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	dl.Header.Set(events.HeaderMsgID, fmt.Sprintf("dlq:%s:%d", info.Stream, info.Sequence))
	dl.Data = data
	_, err := s.pub.PublishMsg(ctx, dl)
	return err
}

type eventAttrs struct{ id, source, typ, traceparent string }

// bestEffortAttrs reads what it can of a request that did not decode.
func bestEffortAttrs(h nats.Header, data []byte) eventAttrs {
	var a eventAttrs
	for k, v := range h {
		if len(v) == 0 {
			continue
		}
		val, err := events.PercentDecode(v[0])
		if err != nil {
			continue
		}
		switch strings.ToLower(k) {
		case "ce-id":
			a.id = val
		case "ce-source":
			a.source = val
		case "ce-type":
			a.typ = val
		case "ce-traceparent":
			a.traceparent = val
		}
	}
	if a.id == "" && a.source == "" && a.typ == "" {
		var body struct {
			ID          string `json:"id"`
			Source      string `json:"source"`
			Type        string `json:"type"`
			TraceParent string `json:"traceparent"`
		}
		if json.Unmarshal(data, &body) == nil {
			a = eventAttrs{body.ID, body.Source, body.Type, body.TraceParent}
		}
	}
	return a
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
